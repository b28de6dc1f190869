"""MEGA itself crashes: `leadbridge sandbox --db F --port P` (a real process) is SIGKILLed in
the middle of a sync — the first time right after it committed a bulk write — and started
again on the same port over the same file, repeatedly. The sync is resumed until it finishes;
the end state equals an uninterrupted run and nothing is duplicated.
More kills: ``LEADBRIDGE_RELIABILITY_SANDBOX_KILLS=10``.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from reliability_support import (
    FAST,
    KILLS,
    baseline,
    check_accounted,
    check_ledger_matches,
    check_no_duplicates,
    final_state,
    records_for,
)

from leadbridge.errors import MegaError
from leadbridge.mega import MegaClient
from leadbridge.pipeline import sync
from leadbridge.pipeline.push import RunStopped
from leadbridge.sandbox.config import DEFAULT_STAGES, new_token
from tests.pipeline.conftest import _MAIN, ListConnector

CUSTOMER = "6b1f3c2d-9a8e-4f70-b1c2-d3e4f5a6b7c8"
PEOPLE, SEED = 700, 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SandboxProcess:
    """`leadbridge sandbox` as its own process, killed and restarted on the same port and db."""

    def __init__(self, db: Path, token: str) -> None:
        self.db, self.token, self.port = db, token, _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _MAIN, "sandbox", "--db", str(self.db), "--port",
             str(self.port), "--token", f"{self.token}:{CUSTOMER}", "--time-scale", str(FAST),
             "--latency", "0.02"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "the sandbox exited on start"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the sandbox never listened")

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def _wait_listening(port: int, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)


def _lead_total(url: str, token: str) -> int:
    try:
        with MegaClient(url, token, CUSTOMER, env={}, max_attempts=1, timeout=1,
                        pacing=False) as probe:
            return int(probe.list_leads_page(limit=1).get("total") or 0)
    except MegaError:
        return 0


def test_sandbox_process_killed_and_restarted_mid_sync(tmp_path: Path) -> None:
    soak = os.environ.get("LEADBRIDGE_RELIABILITY_SANDBOX_KILLS")
    budget = int(soak or "3")
    # a soak syncs in live mode: one request per lead, so many more requests meet a kill
    mode, people = ("live", 120) if soak else ("bulk", PEOPLE)
    rng = random.Random(SEED)
    records = records_for(people, SEED)
    expected = baseline(people, SEED, mode, tmp_path)
    token = new_token()
    box = SandboxProcess(tmp_path / "mega.duckdb", token)
    box.start()
    done = threading.Event()

    def killer() -> None:
        # first: the moment MEGA holds leads (a write committed, its answer maybe not sent)
        while not done.is_set() and _lead_total(box.url, token) == 0:
            time.sleep(0.02)
        while not done.is_set() and box.kills < budget:
            box.kill()
            time.sleep(rng.uniform(0.0, 0.3))  # down for a while
            box.start()
            done.wait(rng.uniform(0.2, 1.0))

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    ws = tmp_path / "ws.duckdb"
    runs = 0
    try:
        with MegaClient(box.url, token, CUSTOMER, time_scale=FAST, env={}, allow_http=True,
                        max_attempts=4) as client:
            result = None
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                runs += 1
                try:
                    result = sync(ListConnector(records), workspace=ws, client=client,
                                  mode=mode, stages=DEFAULT_STAGES)
                except RunStopped:
                    result = None
                if result is not None and result.exit_code != 3:
                    break  # every record final: later kills would hit an idle MEGA
                _wait_listening(box.port)  # a stopped run is resumed once MEGA is back
            done.set()
            thread.join(30)
            assert result is not None and result.exit_code != 3
            leads = list(client.list_leads(include_custom_fields=True))
        KILLS["sandbox process"] += box.kills
        assert box.kills >= 1
        check_accounted(records, result.outcomes)
        check_no_duplicates(leads)
        assert len(leads) == result.summary["golden_rows"] - result.summary["row_status"]["failed"]
        check_ledger_matches(ws, CUSTOMER, leads, result.outcomes)
        got = final_state(leads, result.outcomes)
        assert got.leads == expected.leads
        assert got.statuses == expected.statuses
        assert got.groups == expected.groups
    finally:
        done.set()
        box.stop()
