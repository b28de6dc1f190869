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


@pytest.mark.parametrize("text, fragment", [
    ('source = ["csv"]\n', "[source] must be a table"),
    ('policies = 5\n[source]\nconnector = "csv"\n', "[policies] must be a table"),
    ('engine = 5\n[source]\nconnector = "csv"\n', "[engine] must be a table"),
    ('target = "mega_123"\n[source]\nconnector = "csv"\n', "[target] must be a table"),
    ('[source]\nconnector = "csv"\noptions = "leads.csv"\n', "[source.options] must be a table"),
])
def test_sections_of_the_wrong_type_are_config_errors(tmp_path: Path, text: str,
                                                      fragment: str) -> None:
    """A list or a string where a table belongs was an AttributeError/TypeError traceback."""
    with pytest.raises(ConfigError) as info:
        load_job(_write(tmp_path, text))
    assert fragment in str(info.value) and "mega_123" not in str(info.value)


@pytest.mark.parametrize("text, fragment", [
    ('[source]\nconnector = "csv"\n[policies]\non_dupliate = "skip"\n',
     "unknown key(s) in [policies]: on_dupliate"),
    ('[source]\nconnector = "csv"\nlable = "crm"\n', "unknown key(s) in [source]: lable"),
    ('[source]\nconnector = "csv"\n[target]\nstage = ["new"]\n',
     "unknown key(s) in [target]: stage"),
])
def test_misspelt_keys_are_refused_not_ignored(tmp_path: Path, text: str, fragment: str) -> None:
    """`on_dupliate = "skip"` was ignored: the run silently updated the leads it meant to skip."""
    with pytest.raises(ConfigError) as info:
        load_job(_write(tmp_path, text))
    assert fragment in str(info.value)


@pytest.mark.parametrize("key, section", [("dry_run", "policies"), ("retry_failed", "policies"),
                                          ("send_anyway", "policies"), ("probe", "policies"),
                                          ("sandbox", "target")])
def test_flags_written_as_strings_are_refused(tmp_path: Path, key: str, section: str) -> None:
    """`dry_run = "false"` was bool("false"), True: the opposite of what the file says."""
    with pytest.raises(ConfigError, match=f"{key} must be true or false"):
        load_job(_write(tmp_path, f'[source]\nconnector = "csv"\n[{section}]\n{key} = "false"\n'))
    job = load_job(_write(tmp_path, f'[source]\nconnector = "csv"\n[{section}]\n{key} = true\n'))
    assert getattr(job, key) is True


def test_job_file_encodings_and_folders(tmp_path: Path) -> None:
    """A UTF-8 byte-order mark (Windows editors) loads; another encoding or a folder is named
    as such, not 'Invalid statement' or an errno."""
    path = tmp_path / "job.toml"
    path.write_bytes(b'\xef\xbb\xbf[source]\nconnector = "csv"\n')
    assert load_job(path).connector == "csv"
    path.write_bytes('[source]\nconnector = "csv"\nlabel = "café"\n'.encode("cp1252"))
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_job(path)
    with pytest.raises(ConfigError, match="is a folder"):
        load_job(tmp_path)


@pytest.mark.parametrize("line, fragment", [
    ('stage_map = 5', "[engine] stage_map must be a table of strings"),
    ('owner_map = ["x"]', "[engine] owner_map must be a table of strings"),
    ('survivorship = 5', "[engine] survivorship must be a table of strings"),
    ('placeholder_guard = "false"', "[engine] placeholder_guard must be true or false"),
    ('placeholder_threshold = "5"', "[engine] placeholder_threshold must be a whole number"),
    ('source_priority = "a,b"', "[engine] source_priority must be a list of source names"),
    ('bogus = 1', "unknown key in [engine]: bogus"),
])
def test_engine_values_of_the_wrong_type_are_config_errors(tmp_path: Path, line: str,
                                                           fragment: str) -> None:
    """Each was a TypeError/AttributeError/ValueError traceback, a Python-internal message, or
    (placeholder_guard = "false", source_priority = "a,b") silently read as something else."""
    with pytest.raises(ConfigError) as info:
        load_job(_write(tmp_path, f'[source]\nconnector = "csv"\n[engine]\n{line}\n'))
    assert fragment in str(info.value) and "job.toml" in str(info.value)


@pytest.mark.parametrize("raw", ["nan", "inf", "0", "-1", "fast"])
def test_a_time_scale_that_is_not_a_positive_number_is_refused(
        raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """LEADBRIDGE_TIME_SCALE=nan passed the `<= 0` check and ended in a ValueError traceback
    from time.sleep; inf would pace for ever."""
    from leadbridge.pipeline.target import time_scale

    monkeypatch.setenv("LEADBRIDGE_TIME_SCALE", raw)
    with pytest.raises(ConfigError, match="LEADBRIDGE_TIME_SCALE must be a number"):
        time_scale()
