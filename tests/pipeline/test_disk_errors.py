"""DuckDB failing to write (a full disk, a temp folder it cannot create) stops a command with
one line and exit 3, loses nothing, and the same command finishes once the cause is gone.

Why it is tested with a real failure: the temp folder DuckDB spills to is
``.leadbridge-tmp-<pid>`` beside the workspace (or in TMPDIR without one); a regular file of
that name, made by the CLI's own process before it starts, makes every spill an
``IOException`` exactly where a full disk would. Before, that reached the user as a traceback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from leadbridge.mega import MegaClient
from leadbridge.pipeline import sync
from leadbridge.sandbox import Sandbox

from .conftest import FAST, assert_no_duplicate_leads, cli_env, customer, messy_records, write_csv

#: the CLI, after making its own temp folder's name a file when asked to
_BLOCKED_MAIN = (
    "import os, sys; from pathlib import Path; "
    "(Path(sys.argv[1]) / f'.leadbridge-tmp-{os.getpid()}').touch() if sys.argv[2] == 'block' "
    "else None; from leadbridge.cli import main; main(sys.argv[3:])")
#: small enough that these inputs spill, large enough that they fit once they can
CAP = "32MB"


def _cli(folder: Path, block: bool, *args: str,
         env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _BLOCKED_MAIN, str(folder),
                           "block" if block else "free", *args, "--memory-limit", CAP],
                          env=env, capture_output=True, text=True, timeout=120)


def _stopped_cleanly(got: subprocess.CompletedProcess[str], folder: Path) -> None:
    assert got.returncode == 3, got.stderr
    assert "Traceback" not in got.stderr and "Traceback" not in got.stdout
    line = next(x for x in got.stderr.splitlines() if x.startswith("Error:"))
    assert "DuckDB could not write or read a file" in line
    assert str(folder / ".leadbridge-tmp-") in line  # where, so the user can act on it
    assert "run the same command again" in line


def test_dedupe_that_cannot_spill_stops_in_one_line(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "leads.csv", messy_records(6000, seed=3))
    env = cli_env(TMPDIR=str(tmp_path))  # no workspace: the temp folder goes in TMPDIR
    args = ("dedupe", "csv", str(src), "--id-column", "id", "--out", str(tmp_path / "out"))
    _stopped_cleanly(_cli(tmp_path, True, *args, env=env), tmp_path)
    assert not (tmp_path / "out" / "chunks.jsonl").exists()
    done = _cli(tmp_path, False, *args, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "chunks.jsonl").stat().st_size > 0


def test_sync_that_cannot_spill_stops_sends_nothing_and_resumes(sandbox: Sandbox,
                                                                 tmp_path: Path) -> None:
    records = messy_records(3000, seed=3)
    src = write_csv(tmp_path / "leads.csv", records)
    ws = tmp_path / "ws.duckdb"
    _stopped_cleanly(_cli(tmp_path, True, "sync", "csv", str(src), "--id-column", "id",
                          "--workspace", str(ws), env=cli_env(sandbox)), tmp_path)
    cust = customer(sandbox)
    assert sandbox.leads(cust) == []
    # the same sync again, from Python (the CLI would pace at MEGA's real rate limit)
    grant = sandbox.config.tokens[0]
    with MegaClient(sandbox.base_url, grant.token, cust, time_scale=FAST, env={}) as client:
        done = sync("csv", str(src), options={"id_column": "id"}, workspace=ws,
                    client=client, memory_limit=CAP)
    summary = done.summary
    # the stopped run was abandoned before sending; the new one accounts for every record
    assert summary["records"] == len(records)
    assert summary["record_status"]["rejected"] == 1  # the one with nothing to contact
    assert summary["record_status"]["pending"] == 0
    assert summary["prediction_mismatches"] == 0
    leads = sandbox.leads(cust)
    assert len(leads) == summary["row_status"]["created"] == summary["golden_rows"] > 2000
    assert_no_duplicate_leads(leads)
