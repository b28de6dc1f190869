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


def test_dedupe_job_passes_mapped_stages_and_owners_through_the_engine(tmp_path: Path) -> None:
    """As in sync: a mapped slug or owner id is final; the engine must not re-slugify it."""
    (tmp_path / "own.csv").write_text("id,E-mail,Owner,Stage\n1,ana@example.com,ana@agency.com,"
                                      "Hot Lead\n2,tom@example.com,tom@agency.com,Cold\n")
    owner = "5f0c6d8e-1b2a-4c3d-9e8f-0a1b2c3d4e5f"
    job = tmp_path / "own.toml"
    job.write_text('[source]\nconnector = "csv"\n[source.options]\npath = "own.csv"\n'
                   f'[mapping.owners]\n"ana@agency.com" = "{owner}"\n'
                   '[mapping.stages]\n"Hot Lead" = "Hot_Lead"\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["dedupe", "--job", str(job), "--out", str(out)])
    assert result.exit_code == 0, result.output
    golden = {r["email_key"]: r for r in pq.read_table(out / "golden.parquet").to_pylist()}
    assert golden["ana@example.com"]["stage_slug"] == "Hot_Lead"
    assert golden["ana@example.com"]["owner_id"] == owner
    assert golden["tom@example.com"]["owner_id"] is None  # unmapped owner: omitted


def test_dedupe_job_refuses_engine_options_on_the_command_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["dedupe", "--job", str(_job(tmp_path)), "--out",
                                      str(tmp_path / "o"), "--engine-option", "household=merge"])
    assert result.exit_code == 2 and "[engine]" in result.output


def test_unusable_output_paths_and_empty_lists_are_clear_errors(tmp_path: Path) -> None:
    """`map --output FOLDER --force` and `dedupe --out FILE` were OSError tracebacks (the
    first after the whole source had been read); without --force a folder was 'exists'.
    `map --stages ""` wrote `stages = []` and said every stage matched nothing."""
    job = _job(tmp_path)
    src = str(tmp_path / "leads.csv")
    runner = CliRunner()
    for args, words in (
            (["map", "csv", src, "--output", str(tmp_path), "--force"], "is a folder"),
            (["map", "csv", src, "--output", str(tmp_path)], "is a folder"),
            (["map", "csv", src, "--output", str(job / "x.toml")], "cannot be created"),
            (["dedupe", "--job", str(job), "--out", str(job)], "is a file; give a folder"),
            (["dedupe", "csv", src, "--out", str(job / "sub")], "cannot be created"),
            # an empty list was written as `stages = []`, which sync reads as "not known"
            (["map", "csv", src, "--stages", " , "], "--stages lists nothing"),
            (["map", "csv", src, "--owners", ""], "--owners lists nothing")):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and words in result.output, (args, result.output)


def test_an_engine_flag_that_is_not_a_boolean_is_refused(tmp_path: Path) -> None:
    """`--engine-option placeholder_guard=ture` switched the guard off without a word."""
    _job(tmp_path)
    result = CliRunner().invoke(app, ["dedupe", "csv", str(tmp_path / "leads.csv"), "--out",
                                      str(tmp_path / "o"), "--engine-option",
                                      "placeholder_guard=ture"])
    assert result.exit_code == 2
    assert "placeholder_guard must be true or false, not 'ture'" in result.output
    assert not (tmp_path / "o").exists()
