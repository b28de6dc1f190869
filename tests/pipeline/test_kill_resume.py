"""`leadbridge sync` killed with SIGKILL mid-upload (a real subprocess), then started again:
it finishes with no lead created twice and no record lost."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from leadbridge.sandbox import Sandbox, SandboxConfig

from .conftest import _MAIN, assert_no_duplicate_leads, cli_env, customer, messy_records, \
    phone_keys, run_cli, write_csv

SCALE = "0.05"  # a bulk "minute" is 3 s: with 10 requests per window, 0.3 s between chunks


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _MAIN, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _kill_when(proc: subprocess.Popen[str], box: Sandbox, at_least: int,
               deadline: float = 30.0) -> int:
    """SIGKILL the CLI once the sandbox holds at least ``at_least`` leads."""
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        n = len(box.leads(customer(box)))
        if n >= at_least or proc.poll() is not None:
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"the run finished before it could be killed: {proc.stderr.read()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    return len(box.leads(customer(box)))


def test_sigkill_mid_run_then_resume_creates_each_lead_once(tmp_path: Path) -> None:
    records = messy_records(2000, seed=12)[:-1]  # every record has a contact
    data = write_csv(tmp_path / "leads.csv", records)
    ws = str(tmp_path / "ws.duckdb")
    config = SandboxConfig.default(time_scale=float(SCALE), latency=0.02, fail_after=0.1,
                                   seed=5)
    args = ["sync", "csv", str(data), "--workspace", ws]
    with Sandbox(config) as box:
        env = cli_env(box, LEADBRIDGE_TIME_SCALE=SCALE)
        first = _kill_when(_start(args, env), box, at_least=1)
        second = _kill_when(_start(args, env), box, at_least=first + 700)
        assert 0 < first < second
        done = subprocess.run([sys.executable, "-c", _MAIN, *args, "--json"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        leads = box.leads(customer(box))
    assert "Resumed" not in done.stdout  # --json prints only the summary
    import json

    summary = json.loads(done.stdout)
    assert summary["record_status"]["pending"] == 0
    assert summary["record_status"]["created"] == len(records)
    assert len(leads) == summary["golden_rows"]
    assert_no_duplicate_leads(leads)
    assert len(phone_keys(leads)) == len(set(phone_keys(leads)))
    report = run_cli("report", "--format", "csv", "--workspace", ws)
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert len(rows) == len(records)
    assert {r["status"] for r in rows} == {"created"}
    assert {r["lead_id"] for r in rows} == {lead["id"] for lead in leads}
