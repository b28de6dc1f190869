"""Job files: parsed, validated, secrets refused, paths relative to the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadbridge.errors import ConfigError
from leadbridge.pipeline import load_job


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_job_file_fields_and_relative_paths(tmp_path: Path) -> None:
    job = load_job(_write(tmp_path, """
[source]
connector = "csv"
label = "export"
[source.options]
path = "data/leads.csv"
id_column = "Lead ID"
[policies]
on_duplicate = "skip"
dry_run = true
[engine]
household = "separate"
[target]
stages = ["new", "won"]
sandbox = true
"""))
    assert job.connector == "csv" and job.label == "export"
    assert job.options == {"path": str(tmp_path / "data" / "leads.csv"), "id_column": "Lead ID"}
    assert job.on_duplicate == "skip" and job.dry_run and job.mode == "bulk"
    assert job.engine == {"household": "separate"} and job.stages == ("new", "won")
    assert job.sandbox and job.owners is None


@pytest.mark.parametrize("text, fragment", [
    ('[source]\nconnector = "csv"\n[target]\ntoken = "mega_123"\n', "secret"),
    ('[source]\nconnector = "hubspot"\n[source.options]\napi_key = "x"\n', "secret"),
    ('[source]\n', "connector"),
    ('[source]\nconnector = "csv"\n[policies]\non_duplicate = "merge"\n', "on_duplicate"),
    ('[source]\nconnector = "csv"\n[policies]\nmode = "fast"\n', "mode"),
    ('[source]\nconnector = "csv"\n[mystery]\n', "unknown section"),
    ('[source\n', "not valid TOML"),
])
def test_bad_job_files_are_config_errors(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_job(_write(tmp_path, text))
    assert fragment in str(info.value)
    assert "mega_123" not in str(info.value)


def test_missing_job_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_job(tmp_path / "nope.toml")
