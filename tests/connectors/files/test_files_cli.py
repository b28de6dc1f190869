"""End to end through the real command: `dedupe csv`, `sync csv --sandbox`, and the clear
errors (exit 2, no traceback) for bad paths and options."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

MESSY = (
    "ID,Full Name,E-mail,Cell Phone,Lead Source,Stage,Budget\n"
    "a1,Ann Lee,ann@example.com,(206) 555-0100,Facebook,new,100\n"
    "a2,ANN LEE, ANN@EXAMPLE.COM ,,,new,\n"               # same person by email
    "b1,Bob Roe,bob@example.com,206.555.0101,referral,,\n"
    "b2,Bobby Roe,,+1 206 555 0101,,,\n"                    # same person by phone
    "c1,Cy,cy@example.com,,,,\n"
    "c2,Broken,line,with,too,many,fields,here\n"            # malformed: line 7
    "d1,Di \"Q\" Ho,di@example.com,,,,\n"                   # bare quote inside: kept or located
)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = os.path.join(os.path.dirname(sys.executable), "leadbridge")
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEGA_")}
    base.update(COLUMNS="200", LEADBRIDGE_TIME_SCALE="0.01", **(env or {}))
    return subprocess.run([exe, *args], env=base, capture_output=True, text=True, timeout=120)


def _lines_out(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        key, _, value = line.rpartition("  ")
        out[key.strip()] = value.strip()
    return out


def test_dedupe_csv_writes_the_plan_and_accounts_for_every_line(tmp_path: Path) -> None:
    data = tmp_path / "leads.csv"
    data.write_text(MESSY, encoding="utf-8")
    out = tmp_path / "out"
    r = _cli("dedupe", "csv", str(data), "--out", str(out))
    assert r.returncode == 0, r.stderr
    summary = _lines_out(r.stdout)
    data_lines = MESSY.count("\n") - 1
    assert int(summary["records"]) == data_lines
    assert int(summary["rejected"]) >= 1  # the malformed line at least
    golden = pq.read_table(out / "golden.parquet")
    lineage = pq.read_table(out / "lineage.parquet").to_pylist()
    assert golden.num_rows == int(summary["clusters (golden rows)"])
    by_source = {row["source_id"]: row for row in lineage}
    assert {"a1", "a2", "b1", "b2", "c1"} <= set(by_source)
    assert by_source["a1"]["row_ref"] == by_source["a2"]["row_ref"]  # merged by email
    assert by_source["b1"]["row_ref"] == by_source["b2"]["row_ref"]  # merged by phone
    assert "Traceback" not in r.stderr
    # the user sees what was mapped to what, and which line was rejected
    for shown in ("'E-mail' -> contact_email (synonym)", "'Cell Phone' -> contact_phone",
                  "'Budget' -> custom_fields['Budget'] (unmapped)", "source_id from column 'ID'",
                  "line(s) rejected"):
        assert shown in r.stderr, r.stderr


def test_sync_csv_sandbox_reports_rejected_lines_and_rerun_sends_nothing(tmp_path: Path) -> None:
    data = tmp_path / "leads.csv"
    data.write_text(MESSY, encoding="utf-8")
    ws = str(tmp_path / "ws.duckdb")
    first = _cli("sync", "csv", str(data), "--sandbox", "--workspace", ws, "--json")
    assert first.returncode == 1, first.stderr  # a rejected line: finished, exit 1
    summary = json.loads(first.stdout)
    assert summary["records"] == MESSY.count("\n") - 1
    assert summary["record_status"]["pending"] == 0
    assert summary["rows_sent"] == summary["golden_rows"] > 0
    report = _cli("report", "--format", "csv", "--workspace", ws)
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert len(rows) == summary["records"]
    line7 = [r for r in rows if r["source_id"] == "line:7"]
    assert line7 and line7[0]["status"] == "rejected" and "line 7" in line7[0]["errors"]
    second = _cli("sync", "csv", str(data), "--sandbox", "--workspace", ws, "--json")
    assert json.loads(second.stdout)["rows_sent"] == 0, second.stderr


def test_encoding_and_id_column_flags_reach_the_connector(tmp_path: Path) -> None:
    data = tmp_path / "win.csv"
    data.write_bytes("Ref,Name,Email\nr1,José,jose@example.com\n".encode("cp1252"))
    out = tmp_path / "out"
    r = _cli("dedupe", "csv", str(data), "--out", str(out), "--encoding", "cp1252",
             "--id-column", "Ref")
    assert r.returncode == 0, r.stderr
    lineage = pq.read_table(out / "lineage.parquet").to_pylist()
    assert [row["source_id"] for row in lineage] == ["r1"]
    golden = pq.read_table(out / "golden.parquet").to_pylist()
    assert golden[0]["contact_name"] == "José"


@pytest.mark.parametrize("setup, args, words", [
    ("missing", [], ["not found"]),
    ("dir", [], ["is a directory"]),
    ("empty", [], ["is empty"]),
    ("header", [], ["no data lines"]),
    ("ok", ["--encoding", "klingon"], ["unknown encoding"]),
    ("ok", ["--id-column", "nope"], ["'nope'", "not in the file"]),
    ("ok", ["--option", "columns=Name:nonsense"], ["unknown target"]),
])
def test_bad_paths_and_options_exit_2_with_one_message(tmp_path, setup, args, words):
    target = tmp_path / "x.csv"
    if setup == "dir":
        target = tmp_path
    elif setup == "empty":
        target.write_bytes(b"")
    elif setup == "header":
        target.write_text("id,name,email\n")
    elif setup == "ok":
        target.write_text("id,Name\n1,Ann\n")
    from typer.testing import CliRunner

    from leadbridge.cli import app

    # in process (the same command code, no interpreter start-up per case)
    r = CliRunner().invoke(app, ["dedupe", "csv", str(target), "--out", str(tmp_path / "out"),
                                 *args])
    assert r.exit_code == 2, (r.stdout, r.stderr, r.exception)
    assert r.stderr.startswith("Error: ") and "Traceback" not in r.stderr
    for word in words:
        assert word in r.stderr
