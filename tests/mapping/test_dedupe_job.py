"""`leadbridge dedupe --job`: the plan files show the rows the job's sync would build."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from leadbridge.cli import app

CSV = ("id,Full Name,E-mail,Stage,Shoe size\n"
       "1,Ana Diaz,ana@example.com,Hot Lead,38\n"
       "2,Ana D.,ANA@example.com ,Hot Lead,38\n"
       "3,Tom Li,tom@example.com,Cold,44\n")


def _job(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "leads.csv").write_text(CSV)
    job = tmp_path / "job.toml"
    job.write_text('[source]\nconnector = "csv"\n[source.options]\npath = "leads.csv"\n'
                   '[mapping.stages]\n"Hot Lead" = "qualified"\n'
                   '[mapping.stages_policy]\nunmapped = "default"\ndefault = "new"\n'
                   '[mapping.fields]\n"Shoe size" = "custom:shoe_size"\n' + extra)
    return job


def test_dedupe_with_a_job_applies_its_mapping(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["dedupe", "--job", str(_job(tmp_path)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    golden = pq.read_table(out / "golden.parquet").to_pylist()
    by_email = {row["email_key"]: row for row in golden}
    assert set(by_email) == {"ana@example.com", "tom@example.com"}  # 1 and 2 merged
    assert by_email["ana@example.com"]["stage_slug"] == "qualified"
    assert by_email["tom@example.com"]["stage_slug"] == "new"  # unmapped -> the default
    assert json.loads(by_email["tom@example.com"]["custom_fields"]) == {"shoe_size": "44"}
    lineage = pq.read_table(out / "lineage.parquet").to_pylist()
    assert sorted(r["source_id"] for r in lineage) == ["1", "2", "3"]


def test_dedupe_job_refuses_connector_arguments_too(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dedupe", "csv", "x.csv", "--job", str(_job(tmp_path)),
                                      "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--job names the source" in result.output


def test_dedupe_job_with_a_todo_is_refused_before_reading(tmp_path: Path) -> None:
    job = _job(tmp_path, '"Other" = "TODO"\n')
    result = CliRunner().invoke(app, ["dedupe", "--job", str(job), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "TODO" in result.output
    assert not (tmp_path / "o").exists()
