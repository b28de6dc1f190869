"""`leadbridge sync` (a real subprocess) SIGKILLed at chosen steps and at random moments, then
resumed, again and again: the workspace always opens and is consistent, and the end state
equals an uninterrupted run of the same file (same leads, same statuses, same grouping).

Steps are hit exactly through ``LEADBRIDGE_TEST_PAUSE_AT`` (leadbridge.pipeline.testhook):
``stage`` (staging transaction open), ``cluster`` (staged, before building), ``after_ledger``
(chunk marked sending, request not sent), ``before_record`` (MEGA answered, answer not stored);
``before_fold`` (answers stored, not yet folded into the ``mega_leads`` snapshot);
``in_request`` holds the request inside the sandbox after MEGA committed it. The sandbox runs
in this test process, so it outlives every killed CLI. More random kills:
``LEADBRIDGE_RELIABILITY_KILLS=40``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from reliability_support import KILLS, check_no_duplicates, final_state

from leadbridge.sandbox import Sandbox, SandboxConfig
from leadbridge.sandbox.faults import Faults
from tests.pipeline.conftest import _MAIN, cli_env, messy_records, write_csv

SCALE = 0.01  # a bulk "minute" lasts 0.6 s
PEOPLE = 1100  # ~2,000 records, ~1,100 golden rows: 3 chunks


class HoldAfterCommit(Faults):
    """After the sandbox committed a write, hold its answer until released (the CLI is then
    killed while its request is in flight and MEGA already has the leads)."""

    def __init__(self) -> None:
        super().__init__()
        self.committed = threading.Event()
        self.release = threading.Event()

    def after(self) -> str | None:
        self.committed.set()
        self.release.wait(10)
        return None


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _MAIN, *args], env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for_marker(proc: subprocess.Popen[str], step: str, timeout: float = 60) -> None:
    """Read stderr until the pause marker (the process is then sleeping at that step)."""
    found = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.strip() == f"LEADBRIDGE_PAUSED {step}":
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout), f"never paused at {step}: {''.join(lines)[-2000:]}"


def _kill(proc: subprocess.Popen[str]) -> bool:
    """SIGKILL; False when the process had exited by itself just before."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    return proc.returncode == -signal.SIGKILL


def check_workspace(ws: Path) -> dict[str, Any]:
    """The workspace opens after a SIGKILL and its ledger is consistent."""
    if not ws.exists():  # killed before it was created
        return {"phase": None}
    con = duckdb.connect(str(ws), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables"
                                            ).fetchall()}
        for name in tables:  # every table is readable to its end
            con.execute(f'SELECT count(*) FROM "{name}"').fetchall()
        if "sync_chunks" not in tables:
            return {"phase": None}
        bad = con.execute("SELECT count(*) FROM sync_chunks WHERE state NOT IN "
                          "('planned', 'sending', 'done')").fetchall()[0][0]
        assert bad == 0
        # an answer is stored only with its chunk marked done, in one transaction
        torn = con.execute(
            "SELECT count(*) FROM sync_rows w JOIN sync_chunks c USING (run_id, chunk_index) "
            "WHERE (w.status IS NOT NULL) <> (c.state = 'done') AND w.action = 'send'"
        ).fetchall()[0][0]
        assert torn == 0, "a chunk's answers and its state disagree"
        # a planned run has all its rows, chunks and lineage, or it is not planned
        for run_id, phase in con.execute("SELECT run_id, phase FROM sync_runs").fetchall():
            rows, recs, to_send, in_chunks = con.execute(
                "SELECT (SELECT count(*) FROM sync_rows WHERE run_id = $1), "
                "(SELECT count(*) FROM sync_records WHERE run_id = $1), "
                "(SELECT count(*) FROM sync_rows WHERE run_id = $1 AND action = 'send'), "
                "(SELECT coalesce(sum(n_rows), 0) FROM sync_chunks WHERE run_id = $1)",
                [run_id]).fetchall()[0]
            if phase == "extract":
                assert rows == recs == in_chunks == 0
            else:
                assert rows > 0 and recs > 0 and to_send == in_chunks
        last = con.execute("SELECT phase, status FROM sync_runs ORDER BY seq DESC LIMIT 1"
                           ).fetchall()
        done = con.execute("SELECT count(*) FROM sync_chunks WHERE state = 'done'"
                           ).fetchall()[0][0]
        return {"phase": last[0][0] if last else None, "chunks_done": done}
    finally:
        con.close()


def _finish(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", _MAIN, *args, "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return json.loads(done.stdout)


def _report(ws: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    out = subprocess.run([sys.executable, "-c", _MAIN, "report", "--format", "json",
                          "--workspace", str(ws)], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _sandbox() -> Sandbox:
    return Sandbox(SandboxConfig.default(time_scale=SCALE, seed=4))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("crash")
    return write_csv(tmp / "leads.csv", messy_records(PEOPLE, seed=21))


@pytest.fixture(scope="module")
def uninterrupted(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The same file synced once, nobody killing anything."""
    ws = tmp_path_factory.mktemp("clean") / "ws.duckdb"
    with _sandbox() as box:
        env = cli_env(box, LEADBRIDGE_TIME_SCALE=str(SCALE))
        summary = _finish(["sync", "csv", str(source), "--workspace", str(ws)], env)
        outcomes = _report(ws, env)
        leads = box.leads(box.config.tokens[0].customer_id)
    assert summary["record_status"]["pending"] == 0
    return final_state(leads, outcomes)


def _compare(box: Sandbox, ws: Path, env: dict[str, str], expected: Any) -> None:
    leads = box.leads(box.config.tokens[0].customer_id)
    check_no_duplicates(leads)
    outcomes = _report(ws, env)
    got = final_state(leads, outcomes)
    assert got.statuses == expected.statuses
    assert got.leads == expected.leads
    assert got.groups == expected.groups
    assert {o["lead_id"] for o in outcomes if o["lead_id"]} == {lead["id"] for lead in leads}


def _check_snapshot(box: Sandbox, ws: Path) -> None:
    """Every answer stored was folded into the snapshot: it holds exactly MEGA's leads."""
    con = duckdb.connect(str(ws), read_only=True)
    try:
        queued = con.execute("SELECT count(*) FROM sync_fold_queue").fetchall()[0][0]
        ids = {r[0] for r in con.execute("SELECT id FROM mega_leads").fetchall()}
    finally:
        con.close()
    assert queued == 0
    assert ids == {lead["id"] for lead in box.leads(box.config.tokens[0].customer_id)}


def test_sigkill_at_every_step_then_resume_equals_uninterrupted_run(
        source: Path, uninterrupted: Any, tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    args = ["sync", "csv", str(source), "--workspace", str(ws)]
    with _sandbox() as box:
        base = cli_env(box, LEADBRIDGE_TIME_SCALE=str(SCALE))
        # in this order, in_request is the first time chunk 0 reaches MEGA (a fresh commit,
        # not a replay), and before_record then meets MEGA's replay of it
        for step in ("stage", "cluster", "after_ledger", "in_request", "before_record",
                     "before_fold"):
            if step == "in_request":  # MEGA commits the chunk; its answer never gets back
                hold = HoldAfterCommit()
                box.faults = hold
                proc = _start(args, base)
                assert hold.committed.wait(60), "the request never reached the sandbox"
                assert len(box.leads(box.config.tokens[0].customer_id)) > 0
                assert _kill(proc)
                hold.release.set()
                box.faults = Faults()
            else:
                proc = _start(args, {**base, "LEADBRIDGE_TEST_PAUSE_AT": step})
                _wait_for_marker(proc, step)
                assert _kill(proc)
            KILLS[step] += 1
            state = check_workspace(ws)
            assert state["phase"] in ("extract", "planned")
        summary = _finish(args, base)
        assert summary["record_status"]["pending"] == 0
        _compare(box, ws, base, uninterrupted)
        _check_snapshot(box, ws)
        again = _finish(args, base)  # and a re-run sends nothing
        assert again["rows_sent"] == 0 and again["requests"] == 0


def test_sigkill_at_random_moments_then_resume(source: Path, uninterrupted: Any,
                                               tmp_path: Path) -> None:
    kills = int(os.environ.get("LEADBRIDGE_RELIABILITY_KILLS", "2"))
    rng = random.Random(int(os.environ.get("LEADBRIDGE_RELIABILITY_KILL_SEED", "8")))
    survived = episode = 0
    while survived < kills:
        episode += 1
        ws = tmp_path / f"ws-{episode}.duckdb"
        args = ["sync", "csv", str(source), "--workspace", str(ws)]
        config = SandboxConfig.default(time_scale=SCALE, seed=rng.randrange(1000),
                                       latency=0.05, fail_after=0.2)
        with Sandbox(config) as box:
            env = cli_env(box, LEADBRIDGE_TIME_SCALE=str(SCALE))
            finished = False
            while survived < kills:
                proc = _start(args, env)
                time.sleep(rng.uniform(1.0, 5.0))
                if not _kill(proc):  # it finished before the kill: the work is done
                    finished = True
                    break
                survived += 1
                state = check_workspace(ws)
                KILLS[f"random ({state['phase'] or 'startup'})"] += 1
                if state["phase"] == "finished":  # killed while printing its summary
                    finished = True
                    break
            if not finished:
                box.faults = Faults()
                summary = _finish(args, env)
                assert summary["record_status"]["pending"] == 0
            _compare(box, ws, env, uninterrupted)
        assert episode < kills + 20, "runs keep finishing before any kill"


def test_second_sync_on_a_busy_workspace_is_refused_clearly(source: Path, tmp_path: Path) -> None:
    """Two processes on one workspace: the second stops with exit 2 and says why (DuckDB's
    file lock), without touching the first one's run."""
    ws = tmp_path / "ws.duckdb"
    args = ["sync", "csv", str(source), "--workspace", str(ws)]
    with _sandbox() as box:
        env = cli_env(box, LEADBRIDGE_TIME_SCALE=str(SCALE))
        first = _start(args, {**env, "LEADBRIDGE_TEST_PAUSE_AT": "cluster"})
        try:
            _wait_for_marker(first, "cluster")
            second = subprocess.run([sys.executable, "-c", _MAIN, *args], env=env,
                                    capture_output=True, text=True, timeout=60)
        finally:
            assert _kill(first)
    assert second.returncode == 2, second.stderr
    assert "another leadbridge process is using it" in second.stderr
    assert "Traceback" not in second.stderr
    check_workspace(ws)


def test_sandbox_rehearsal_killed_mid_upload_resumes_without_duplicates(
        source: Path, uninterrupted: Any, tmp_path: Path) -> None:
    """`sync --sandbox`: the in-process sandbox dies with the CLI; its state file and the
    workspace both survive the SIGKILL, and the resumed rehearsal creates each lead once."""
    ws = tmp_path / "ws.duckdb"
    args = ["sync", "csv", str(source), "--workspace", str(ws), "--sandbox"]
    env = {**cli_env(), "LEADBRIDGE_TIME_SCALE": str(SCALE)}
    for step in ("before_record", "after_ledger"):
        proc = _start(args, {**env, "LEADBRIDGE_TEST_PAUSE_AT": step})
        _wait_for_marker(proc, step)
        assert _kill(proc)
        KILLS[f"--sandbox {step}"] += 1
        check_workspace(ws)
    summary = _finish(args, env)
    assert summary["record_status"]["pending"] == 0
    outcomes = _report(ws, env)
    con = duckdb.connect(str(tmp_path / "ws.sandbox.duckdb"), read_only=True)
    try:
        leads = [json.loads(d) for (d,) in con.execute("SELECT data FROM sandbox_leads")
                 .fetchall()]
    finally:
        con.close()
    check_no_duplicates(leads)
    assert {o["source_id"]: o["status"] for o in outcomes} == uninterrupted.statuses
    assert {o["lead_id"] for o in outcomes if o["lead_id"]} == {lead["id"] for lead in leads}
