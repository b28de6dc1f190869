"""Fault sweeps for the reliability suite: one scenario = full syncs against a faulty sandbox
until every record is final, then every invariant of "nothing lost, nothing twice" checked.

Shared by ``tests/reliability/test_fault_sweep.py`` (a few seeds in CI) and
``benchmarks/bench_reliability.py`` (many seeds, figures for docs/reliability.md).
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from leadbridge.mega import MegaClient  # noqa: E402
from leadbridge.mega_model import email_key, mega_phone_key  # noqa: E402
from leadbridge.pipeline import sync  # noqa: E402
from leadbridge.pipeline.push import RunStopped  # noqa: E402
from leadbridge.sandbox import Sandbox, SandboxConfig  # noqa: E402
from leadbridge.sandbox.faults import Faults  # noqa: E402
from tests.pipeline.conftest import ListConnector, messy_records  # noqa: E402

FAST = 0.002  # a rate-limit minute lasts 0.12 s; client backoffs shrink alike
FINAL = frozenset({"created", "updated", "skipped", "failed", "rejected"})
#: a run stopped by faults (exit 3) is resumed by the next sync, for up to this long
MAX_SECONDS = float(os.environ.get("LEADBRIDGE_RELIABILITY_MAX_SECONDS", "240"))


@dataclass
class Tally:
    """What one scenario survived: runs, requests and every fault, by kind."""

    scenario: str
    seed: int
    mode: str
    records: int = 0
    golden_rows: int = 0
    runs: int = 0
    stopped_runs: int = 0
    attempts: int = 0
    faults: Counter[str] = field(default_factory=Counter)

    @property
    def total_faults(self) -> int:
        """Faults injected (or storms of 429 met); what the client saw as a timeout or a
        dropped connection (``client_*``) is their effect, not counted again."""
        return sum(v for k, v in self.faults.items() if not k.startswith("client_"))

    def line(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()) if v)
        return (f"{self.scenario:<19} seed {self.seed:<3} {self.mode:<4} records {self.records:>5} "
                f"golden {self.golden_rows:>5} runs {self.runs:>2} (stopped {self.stopped_runs}) "
                f"attempts {self.attempts:>4} faults {self.total_faults:>4}: {kinds or '-'}")


#: The fault each scenario is about: a CI run asserts it really happened.
EXPECTED: dict[str, tuple[str, ...]] = {
    "fail_before": ("5xx_before_write",),
    "fail_after": ("5xx_after_write", "drop_after_write"),
    "latency_spikes": ("latency_spike",),
    "429_storm": ("429",),
    "restart_db": ("sandbox_restart",),
    "all_together": ("5xx_before_write", "5xx_after_write", "drop_after_write",
                     "latency_spike", "429", "sandbox_restart"),
}

#: Every tally of this process; the conftest prints them at the end of the session.
TALLIES: list[Tally] = []


# --- the sandbox: one that can be stopped and restarted on the same port with its --db -------

class SpikyFaults(Faults):
    """The sandbox's faults plus latency spikes: with probability ``spike`` a request (chosen
    by the seeded generator, so reproducibly) waits ``spike_seconds`` — longer than the
    client's timeout, so the client gives up while the sandbox goes on (and commits a write)."""

    def __init__(self, config: SandboxConfig, spike: float = 0.0, spike_seconds: float = 0.3
                 ) -> None:
        super().__init__(config.fail_before, config.fail_after, config.latency, config.seed)
        self.spike, self.spike_seconds = spike, spike_seconds
        self._spikes = random.Random(config.seed)
        self.counts["latency_spike"] = 0

    def delay(self) -> None:
        super().delay()
        if self.spike <= 0:
            return
        with self._lock:
            hit = self._spikes.random() < self.spike
            if hit:
                self.counts["latency_spike"] += 1
        if hit:
            time.sleep(self.spike_seconds)


class Target:
    """The sandbox under test; ``restart()`` stops it and starts a new one on the same port
    over the same DuckDB file (a crashed and restarted MEGA). One fault generator lives
    across restarts, so a seed gives the same faults."""

    def __init__(self, config: SandboxConfig, spike: float = 0.0) -> None:
        self.faults = SpikyFaults(config, spike)
        self.box = self._start(config)
        port = int(self.box.base_url.rsplit(":", 1)[1])
        self.config = dataclasses.replace(config, port=port)
        self.restarts = 0
        self._lock = threading.Lock()

    def _start(self, config: SandboxConfig) -> Sandbox:
        box = Sandbox(config)
        box.faults = self.faults
        return box.start()

    @property
    def base_url(self) -> str:
        return self.box.base_url

    @property
    def customer(self) -> str:
        return self.config.tokens[0].customer_id

    def leads(self) -> list[dict[str, Any]]:
        with self._lock:
            return self.box.leads(self.customer)

    def restart(self, down: float) -> None:
        with self._lock:
            self.box.stop()
            time.sleep(down)
            for _ in range(50):  # the port may linger for a moment
                try:
                    self.box = self._start(self.config)
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise RuntimeError("the sandbox could not be restarted on its port")
            self.restarts += 1

    def stop(self) -> None:
        self.box.stop()


# --- scenarios --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """Sandbox switches, client settings and background disturbances of one fault sweep."""

    name: str
    sandbox: dict[str, Any] = field(default_factory=dict)
    client: dict[str, Any] = field(default_factory=dict)
    spike: float = 0.0      # share of requests delayed past the client's timeout
    restarts: bool = False  # the sandbox stopped and restarted (same port, same --db)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("fail_before", sandbox={"fail_before": 0.35}),
    Scenario("fail_after", sandbox={"fail_after": 0.45}),  # 5xx or dropped socket, 50/50
    Scenario("latency_spikes", client={"timeout": 0.15}, spike=0.3),
    # windows 10x longer than elsewhere (a bulk "minute" is 1.2 s), so back-to-back chunks
    # always meet a 429 whatever the machine's speed
    Scenario("429_storm", sandbox={"bulk_per_minute": 1, "default_per_minute": 20,
                                   "time_scale": 0.02},
             client={"pacing": False, "max_attempts": 10}),
    Scenario("restart_db", restarts=True),
    Scenario("all_together", sandbox={"fail_before": 0.2, "fail_after": 0.3,
                                      "bulk_per_minute": 2, "default_per_minute": 6},
             client={"pacing": False, "timeout": 0.15, "max_attempts": 8},
             spike=0.15, restarts=True),
)}


@contextmanager
def _background(work: Callable[[threading.Event], None]) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=work, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def _restarter(target: Target, rng: random.Random) -> Callable[[threading.Event], None]:
    def work(stop: threading.Event) -> None:
        while not stop.wait(rng.uniform(0.2, 0.6)):
            target.restart(down=rng.uniform(0.0, 0.2))
    return work


# --- invariants -------------------------------------------------------------------------------

def fingerprint(leads: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """What a lead holds, without ids and clocks (those differ between two sandboxes)."""
    return Counter((lead.get("contact_name"), lead.get("contact_email"), lead.get("contact_phone"),
                    lead.get("source_platform"), (lead.get("current_stage") or {}).get("slug"),
                    tuple(sorted((lead.get("custom_fields") or {}).items())))
                   for lead in leads)


@dataclass
class Final:
    """The end state to compare with an uninterrupted run."""

    leads: Counter[tuple[Any, ...]]
    statuses: dict[str, str]
    groups: frozenset[frozenset[str]]  # source records that ended in the same lead


def final_state(leads: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> Final:
    by_lead: dict[str, set[str]] = defaultdict(set)
    for o in outcomes:
        if o["lead_id"]:
            by_lead[o["lead_id"]].add(o["source_id"])
    return Final(fingerprint(leads), {o["source_id"]: o["status"] for o in outcomes},
                 frozenset(frozenset(v) for v in by_lead.values()))


def check_no_duplicates(leads: list[dict[str, Any]]) -> None:
    ids = [lead["id"] for lead in leads]
    assert len(ids) == len(set(ids)), "a lead id appears twice"
    emails = [k for k in (email_key(lead.get("contact_email")) for lead in leads) if k]
    dup = [k for k, n in Counter(emails).items() if n > 1]
    assert not dup, f"leads share an email key: {dup[:3]}"
    phones = [k for k in (mega_phone_key(lead.get("contact_phone")) for lead in leads) if k]
    dup = [k for k, n in Counter(phones).items() if n > 1]
    assert not dup, f"leads share a phone key: {dup[:3]}"


def check_accounted(records: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> None:
    ids = [o["source_id"] for o in outcomes]
    assert len(ids) == len(set(ids)), "a source record has two outcomes"
    assert set(ids) == {r["source_id"] for r in records}, "a source record has no outcome"
    pending = [o for o in outcomes if o["status"] not in FINAL]
    assert not pending, f"records without a final status: {pending[:3]}"


def check_ledger_matches(ws: Path, customer: str, leads: list[dict[str, Any]],
                         outcomes: list[dict[str, Any]]) -> None:
    """Every lead the ledger names exists in MEGA, and MEGA holds no lead the ledger lacks."""
    lead_ids = {lead["id"] for lead in leads}
    named = {o["lead_id"] for o in outcomes if o["lead_id"]}
    assert named <= lead_ids, f"report names leads MEGA does not have: {list(named - lead_ids)[:3]}"
    assert lead_ids <= named, f"MEGA has leads no record accounts for: {list(lead_ids - named)[:3]}"
    con = duckdb.connect(str(ws), read_only=True)
    try:
        state = {r[0] for r in con.execute(
            "SELECT lead_id FROM sync_state WHERE customer_id = ? AND lead_id IS NOT NULL",
            [customer]).fetchall()}
        open_chunks = con.execute("SELECT count(*) FROM sync_chunks WHERE state <> 'done'"
                                  ).fetchall()[0][0]
        unfinished = con.execute("SELECT count(*) FROM sync_runs WHERE status IN "
                                 "('running', 'stopped')").fetchall()[0][0]
        snapshot = {r[0] for r in con.execute(
            "SELECT id FROM mega_leads WHERE customer_id = ?", [customer]).fetchall()}
    finally:
        con.close()
    assert state == lead_ids, "the ledger's per-row state and MEGA name different leads"
    assert open_chunks == 0 and unfinished == 0, "a finished sync left open chunks or runs"
    assert snapshot == lead_ids, "the workspace's MEGA snapshot differs from MEGA"


# --- one scenario -----------------------------------------------------------------------------

_BASELINES: dict[tuple[int, int, str], Final] = {}


def _client(target: Target, scale: float, **overrides: Any) -> MegaClient:
    grant = target.config.tokens[0]
    settings: dict[str, Any] = {"time_scale": scale, "env": {}, "max_attempts": 6}
    settings.update(overrides)
    return MegaClient(target.base_url, grant.token, grant.customer_id, **settings)


def records_for(people: int, seed: int) -> list[dict[str, Any]]:
    return messy_records(people, seed=seed)


LATER = "2026-02-01T00:00:00Z"  # after every first-load updated_at


def changed_records(records: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """The source a while later: one person in ten renamed (and moved to another lead line),
    twenty new people; the incremental cursor reads only those (and records without a stamp)."""
    rng = random.Random(seed + 1)
    out = []
    for rec in records:
        if rec["source_id"].endswith("-0") and rng.random() < 0.1:
            rec = {**rec, "contact_name": "Renamed " + str(rec.get("contact_name")),
                   "lead_line": "seller" if rec.get("lead_line") != "seller" else "buyer",
                   "updated_at": LATER}
        out.append(rec)
    for j in range(20):
        out.append({"source_id": f"new{j}", "contact_name": f"New {j}",
                    "contact_email": f"new{j}@example.org", "updated_at": LATER})
    return out


def baseline(people: int, seed: int, mode: str, tmp: Path, update: bool = False) -> Final:
    """The same records synced into a sandbox without any fault (then, with ``update``, the
    changed source synced incrementally); the final state of the last run."""
    key = (people, seed, mode, update)
    if key not in _BASELINES:
        records = records_for(people, seed)
        target = Target(SandboxConfig.default(time_scale=FAST))
        ws = tmp / f"base-{seed}-{mode}-{int(update)}.duckdb"
        try:
            with _client(target, FAST) as client:
                for source in [records, changed_records(records, seed)][:1 + update]:
                    result = sync(ListConnector(source), workspace=ws, client=client,
                                  mode=mode, stages=target.config.stages)
                    assert result.exit_code in (0, 1), result.summary
            _BASELINES[key] = final_state(target.leads(), result.outcomes)
        finally:
            target.stop()
    return _BASELINES[key]


def _until_done(records: list[dict[str, Any]], ws: Path, client: MegaClient, target: Target,
                mode: str, tally: Tally) -> Any:
    """Sync, and resume every stopped run, until every record is final (as a user would)."""
    result = None
    deadline = time.monotonic() + MAX_SECONDS
    pending = len(records) + 1
    while time.monotonic() < deadline:
        tally.runs += 1
        try:
            result = sync(ListConnector(records), workspace=ws, client=client, mode=mode,
                          stages=target.config.stages)
        except RunStopped:  # MEGA unreadable before anything was sent (exit 3)
            tally.stopped_runs += 1
            continue
        if result.exit_code != 3:
            return result
        tally.stopped_runs += 1
        now = result.summary["record_status"]["pending"]
        assert 0 < now <= pending, "a resumed run left more records pending"
        pending = now
    raise AssertionError(f"{tally.scenario}: {pending} records still pending after "
                         f"{tally.runs} runs")


def run_scenario(name: str, seed: int, tmp: Path, *, people: int = 700, mode: str = "bulk",
                 update: bool = False) -> Tally:
    """Sync under the scenario's faults until done (with ``update``, then sync the changed
    source incrementally, under the same faults); assert every invariant; return the tally."""
    spec = SCENARIOS[name]
    records = records_for(people, seed)
    phases = [records, changed_records(records, seed)][:1 + update]
    expected = baseline(people, seed, mode, tmp, update)
    tally = Tally(name + ("+update" if update else ""), seed, mode, records=len(records))
    rng = random.Random(seed * 7919 + len(name))
    overrides = {"time_scale": FAST, "seed": seed, **spec.sandbox}
    if spec.restarts:
        overrides["db_path"] = tmp / f"sandbox-{tally.scenario}-{seed}-{mode}.duckdb"
    target = Target(SandboxConfig.default(**overrides), spike=spec.spike)
    ws = tmp / f"ws-{tally.scenario}-{seed}-{mode}.duckdb"
    try:
        with _client(target, FAST, **spec.client) as client:
            with _background(_restarter(target, rng)) if spec.restarts else _nothing():
                for source in phases:
                    result = _until_done(source, ws, client, target, mode, tally)
            tally.golden_rows = int(result.summary["golden_rows"])
            # the sandbox is healthy again (latency back to 0, restarts over): check everything
            leads = target.leads()
            # every staged record is in the run's report (unchanged ones as skipped)
            check_accounted(source, result.outcomes)
            check_no_duplicates(leads)
            failed = int(result.summary["row_status"]["failed"])
            assert len(leads) == tally.golden_rows - failed, "lead count != golden rows sent"
            check_ledger_matches(ws, target.customer, leads, result.outcomes)
            got = final_state(leads, result.outcomes)
            assert got.leads == expected.leads, "the leads differ from an uninterrupted run"
            assert got.statuses == expected.statuses, "statuses differ from an uninterrupted run"
            assert got.groups == expected.groups, "records ended in other leads than uninterrupted"
            # a re-run sends nothing
            before = client.stats.attempts
            again = sync(ListConnector(source), workspace=ws, client=client, mode=mode,
                         stages=target.config.stages)
            assert again.summary["rows_sent"] == 0 and again.summary["requests"] == 0
            assert client.stats.attempts == before
            assert len(target.leads()) == len(leads)
            stats = client.stats
            tally.attempts = stats.attempts
            counts = target.faults.counts
            tally.faults.update({
                "5xx_before_write": counts["before"],
                "5xx_after_write": counts["after_error"],
                "drop_after_write": counts["after_drop"],
                "latency_spike": counts["latency_spike"],
                "429": stats.rate_limited,
                "client_transport_error": stats.transport_errors,
                "sandbox_restart": target.restarts,
            })
    finally:
        target.stop()
    TALLIES.append(tally)
    return tally


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def seeds(default: str = "1") -> list[int]:
    """``LEADBRIDGE_RELIABILITY_SEEDS=1-20`` or ``1,5,9`` runs more seeds than CI does."""
    raw = os.environ.get("LEADBRIDGE_RELIABILITY_SEEDS", default)
    out: list[int] = []
    for part in raw.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


#: SIGKILLs survived by the crash tests, by the step the CLI was killed at.
KILLS: Counter[str] = Counter()
