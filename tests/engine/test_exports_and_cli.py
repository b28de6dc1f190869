"""The engine's public names and the dedupe command's surface."""

from __future__ import annotations

from typer.testing import CliRunner

import leadbridge
import leadbridge.engine as engine
from leadbridge.cli import app


def test_engine_all_is_sorted_and_resolves() -> None:
    assert engine.__all__ == sorted(engine.__all__)
    for name in engine.__all__:
        assert getattr(engine, name) is not None
    assert leadbridge.dedupe is engine.dedupe
    assert leadbridge.DedupeResult is engine.DedupeResult


def test_dedupe_command_unknown_connector_is_one_clear_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["dedupe", "no-such-source", "x.csv", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "no-such-source" in result.output and "Traceback" not in result.output


def test_dedupe_command_bad_engine_option(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(app, ["dedupe", "no-such-source", "--out", str(tmp_path),
                                      "--engine-option", "household"])
    assert result.exit_code == 2
    assert "key=value" in result.output
