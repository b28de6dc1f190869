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


def _leads_csv(path):  # type: ignore[no-untyped-def]
    lines = ["id,name,email,phone"] + [
        f"r{i},Person {i},person{i % 400}@example.com,206555{i % 700:04d}" for i in range(2000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_dedupe_memory_limit_is_a_cap_a_user_can_set(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = _leads_csv(tmp_path / "leads.csv")
    runner = CliRunner()
    outs = {}
    for cap in ("2GB", "none", "64MB"):
        got = runner.invoke(app, ["dedupe", "csv", str(src), "--id-column", "id",
                                  "--out", str(tmp_path / cap), "--memory-limit", cap])
        assert got.exit_code == 0, got.output
        outs[cap] = (tmp_path / cap / "chunks.jsonl").read_bytes()
    assert outs["2GB"] == outs["none"] == outs["64MB"] != b""
    bad = runner.invoke(app, ["dedupe", "csv", str(src), "--id-column", "id",
                              "--out", str(tmp_path / "bad"), "--memory-limit", "lots"])
    assert bad.exit_code == 2 and "'lots' is not a size" in bad.output
    assert bad.exception is None or isinstance(bad.exception, SystemExit)


def test_running_out_of_memory_is_a_clear_stop_not_a_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = _leads_csv(tmp_path / "leads.csv")
    got = CliRunner().invoke(app, ["dedupe", "csv", str(src), "--id-column", "id",
                                   "--out", str(tmp_path / "out"), "--memory-limit", "1MB"])
    assert got.exit_code == 3, got.output
    assert isinstance(got.exception, SystemExit)  # handled: no traceback reaches the user
    assert "DuckDB ran out of memory" in got.output and "run the same command again" in \
        got.output
