"""``leadbridge.sync`` and ``leadbridge.plan``: the whole job, from Python or the CLI.

extract -> stage -> build (normalize, cluster, merge) -> plan -> chunk -> push -> ledger ->
report. Every step writes to the workspace; a run killed anywhere is resumed by the next
``sync`` on the same workspace (its stored chunks are re-sent with the same bytes and keys).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..connector import Connector
from ..engine.dedupe import DEFAULT_MEMORY_LIMIT
from .. import mapping_run
from ..errors import ConfigError
from ..mega_model import BULK_ENDPOINT, BULK_MAX_ROWS, CREATE_ENDPOINT
from . import ledger, plan_store, pull, report, runs
from .job import Job
from .planner import CARRIED, Known, RowPlan, carry_over, iter_plans
from .progress import Progress
from .push import RunStopped, is_config_problem, push
from .target import NO_TOKEN, open_target, time_scale
from .testhook import pause

__all__ = ["NO_TOKEN", "PlanResult", "SyncResult", "plan", "pull_snapshot", "sync", "time_scale"]


@dataclass
class PlanResult:
    """What a sync would do, computed offline."""

    workspace: Path | None
    summary: dict[str, Any]
    rows: list[RowPlan] = field(default_factory=list, repr=False)
    exit_code: int = 0


@dataclass
class SyncResult:
    """A finished (or stopped) run: summary, per-record outcomes, where it all lives."""

    run_id: str
    workspace: Path | None
    status: str
    summary: dict[str, Any]
    outcomes: Sequence[dict[str, Any]] = field(repr=False)  # report.Outcomes
    exit_code: int
    resumed: list[str] = field(default_factory=list)


# --- small helpers ----------------------------------------------------------------------

def _connector(source: Connector | str | None, path: str | None,
               options: Mapping[str, Any] | None) -> Connector:
    if isinstance(source, Connector):
        return source
    if not source:
        raise ConfigError("no source: name a connector (e.g. `sync csv leads.csv`) or give "
                          "--job job.toml")
    from ..plugins import load_registry

    info = load_registry().get(source)
    given = dict(options or {})
    if path is not None:
        if info.cls.positional is None:
            raise ConfigError(f"connector {source!r} takes no PATH argument; use --option")
        given[info.cls.positional] = path
    return info.cls(**given)


def _engine_options(engine: Mapping[str, Any] | Any | None) -> Any:
    from ..engine import EngineOptions

    if engine is None or isinstance(engine, EngineOptions):
        return engine
    return EngineOptions.from_table(engine)


def _counted(items: Iterable[Any], progress: Progress) -> Iterator[Any]:
    for item in items:
        yield item
        progress.advance("records", item.num_rows if isinstance(item, pa.RecordBatch) else 1)
    pause("stage")  # every record is handed to staging; its transaction is not committed


def _stats(result: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(result):
        return {k: v for k, v in dataclasses.asdict(result).items()
                if isinstance(v, (int, float, str, bool)) or v is None}
    return {k: getattr(result, k) for k in (
        "records", "rejected", "clusters", "largest_cluster", "golden_rows", "conflicts",
        "placeholder_keys") if hasattr(result, k)}


def _extract_and_build(ws: Any, connector: Connector, label: str, engine_options: Any,
                       progress: Progress, *, save_cursor: bool,
                       mapped: Any = None) -> dict[str, Any]:
    from ..engine import build, stage

    state = ledger.load_cursor(ws.con, label)
    if mapped is not None:  # staged records hold mapped values: a changed [mapping] re-reads
        state = mapped.cursor_state(ws.con, label, state)
    progress.task("records")
    items = connector.records(state)
    if mapped is not None:  # [mapping] applied on the stream, between connector and staging
        items = mapped.wrap(items)
    staged = stage(ws, label, _counted(items, progress))
    if save_cursor:
        with ledger.transaction(ws.con):
            ledger.save_cursor(ws.con, label, state)
            if mapped is not None:
                mapped.save_fingerprint(ws.con, label)
    progress.finish("records", int(getattr(staged, "received", 0) or 0))
    pause("cluster")
    result = build(ws, engine_options)
    stats = _stats(result)
    progress.finish("clusters", int(stats.get("clusters") or 0))
    stats["staged"] = getattr(staged, "staged", None)
    return stats


def _golden_stream(ws: Any, *, carried: bool = False) -> Iterator[dict[str, Any]]:
    """The golden rows to plan (without those ``carry_over`` set aside when ``carried``)."""
    from ..engine import iter_golden_rows

    return iter_golden_rows(ws, without=CARRIED if carried else None)


def _pull_or_stop(con: Any, mega: Any) -> None:
    """Refresh the snapshot; a MEGA that cannot answer stops the run before anything is sent."""
    from ..errors import MegaError

    try:
        pull.pull(con, mega, base_url=str(mega.base_url))
    except MegaError as exc:
        if is_config_problem(exc):
            raise ConfigError(str(exc)) from None
        raise RunStopped(f"could not read MEGA's existing leads ({exc}); nothing was sent: "
                         "run the same sync again later to resume") from None


def _finish(con: Any, run: runs.Run, ws_path: Path | None,
            resumed: list[str] | None = None, stopped: str | None = None) -> SyncResult:
    summary = report.summarize(con, run.run_id)
    summary["stopped_reason"] = stopped
    summary["build"] = runs.build_stats(con, run.run_id)
    summary.update(run_id=run.run_id, source=run.source, mode=run.mode, dry_run=run.dry_run,
                   on_duplicate=run.on_duplicate)
    code = report.exit_code(summary["record_status"])
    status = runs.STOPPED if code == 3 else runs.FINISHED
    summary["exit_code"] = code
    with ledger.transaction(con):
        runs.set_status(con, run.run_id, status, summary=summary, exit_code=code)
    summary["status"] = status
    return SyncResult(run.run_id, ws_path, status, summary, report.outcomes(con, run.run_id),
                      code, list(resumed or []))


def _push_run(con: Any, client: Any, run: runs.Run, progress: Progress) -> str | None:
    """Send the run's unfinished chunks; returns why it stopped early (None: all answered)."""
    total, done = con.execute(
        "SELECT count(*), count(*) FILTER (state = 'done') FROM sync_chunks WHERE run_id = ?",
        [run.run_id]).fetchall()[0]
    progress.task("chunks", total, live=run.mode == "live")
    progress.advance("chunks", done)
    try:
        push(con, client, run.run_id, customer_id=run.customer_id, dry_run=run.dry_run,
             on_chunk=lambda _i, _n: progress.advance("chunks"))
    except RunStopped as exc:
        with ledger.transaction(con):
            runs.set_status(con, run.run_id, runs.STOPPED, exit_code=3)
        return str(exc)
    except KeyboardInterrupt:
        with ledger.transaction(con):
            runs.set_status(con, run.run_id, runs.STOPPED, exit_code=3)
        raise
    return None


# --- public API -------------------------------------------------------------------------

def plan(
    source: Connector | str | None = None,
    path: str | None = None,
    *,
    options: Mapping[str, Any] | None = None,
    job: str | Path | Job | None = None,
    workspace: str | Path | None = None,
    label: str | None = None,
    on_duplicate: str | None = None,
    mode: str | None = None,
    customer_id: str | None = None,
    stages: Iterable[str] | None = None,
    owners: Iterable[str] | None = None,
    engine_options: Any = None,
    progress: bool | None = False,
    mapping: Any = None,
    custom_fields: Iterable[str] | None = None,
    send_anyway: bool = False,
    keep_rows: bool = True,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
) -> PlanResult:
    """Offline: stage and build, then predict what a sync would send and what MEGA answers.

    Talks to no server. Predictions use the ``mega_leads`` snapshot (``leadbridge pull``).
    ``keep_rows=False`` returns the summary alone (``rows`` empty): the rows are counted as
    they are planned instead of held, as ``leadbridge plan`` does. ``memory_limit`` caps
    DuckDB as ``dedupe`` does (None: DuckDB's own, 80% of RAM).
    """
    from ..workspace import Workspace

    if job is not None:
        spec = job if isinstance(job, Job) else _load_job(job)
        source, options = spec.connector, spec.options
        label = label or spec.label
        on_duplicate = spec.on_duplicate if on_duplicate is None else on_duplicate
        mode = spec.mode if mode is None else mode
        stages, owners = stages or spec.stages, owners or spec.owners
        engine_options = engine_options or spec.engine
        mapping, send_anyway = mapping or spec.mapping, send_anyway or spec.send_anyway
        custom_fields = custom_fields or spec.custom_fields
    mapped = mapping_run.prepare(mapping, send_anyway=send_anyway)
    on_duplicate, mode = _policies(on_duplicate, mode)
    eng = mapped.engine_options(_engine_options(engine_options))
    connector = _connector(source, path, options)
    label = label or connector.name
    bar = Progress(progress)
    with Workspace.open(workspace, memory_limit=memory_limit) as ws, bar.running():
        # everything (staging included) happens in one transaction that is rolled back:
        # a plan leaves the workspace exactly as it found it
        try:
            with ws.transaction():
                ledger.ensure(ws.con)
                pull.fold_queued(ws.con, own_transaction=False)
                stats = _extract_and_build(ws, connector, label, eng, bar,
                                           save_cursor=False, mapped=mapped)
                customer = (customer_id or os.environ.get("MEGA_CUSTOMER_ID")
                            or ledger.get_meta(ws.con, "sandbox_customer_id") or "offline")
                # kept rows are every row's plan: none is carried over in SQL
                carried = 0 if keep_rows else carry_over(ws.con, customer,
                                                         on_duplicate=on_duplicate)
                plans = iter_plans(ws.con, _golden_stream(ws, carried=not keep_rows),
                                   customer_id=customer, on_duplicate=on_duplicate,
                                   known=Known.of(stages, owners), carried=not keep_rows)
                tally = _PlanTally(keep_rows, keep_bodies=mapped.mapping is not None,
                                   carried=carried)
                for p in plans:
                    tally.add(p)
                mapped.check(ws.con, customer, tally.bodies,
                             mapping_run.known_of(stages, owners, custom_fields))
                n_chunks = tally.sent if mode == "live" else -(-tally.sent // BULK_MAX_ROWS)
                snapshot = ws.con.execute(
                    "SELECT count(*) FROM mega_leads WHERE customer_id = ?",
                    [customer]).fetchall()[0][0]
                summary = {
                    **stats,
                    "golden_rows": tally.total,
                    "rows_to_send": tally.sent,
                    "rows_unchanged": tally.total - tally.sent,
                    "chunks": n_chunks,
                    "requests": n_chunks,
                    "endpoint": CREATE_ENDPOINT if mode == "live" else BULK_ENDPOINT,
                    "predicted": tally.predicted,
                    "matched_by": tally.matched,
                    "snapshot_leads": int(snapshot),
                    "stages_known": bool(stages),
                    "customer_id": customer,
                }
                if mapped.mapping is not None:
                    summary["mapping"] = mapped.summary()
                result = PlanResult(ws.path, summary, tally.rows)
                raise _Discard
        except _Discard:
            pass
        return result


class _PlanTally:
    """What ``plan`` reports of the rows, counted as they are planned."""

    def __init__(self, keep_rows: bool, keep_bodies: bool, carried: int = 0) -> None:
        self.keep_rows, self.keep_bodies = keep_rows, keep_bodies
        self.rows: list[RowPlan] = []
        self.bodies: list[dict[str, Any]] = []  # of the rows to send, for the mapping check
        self.total, self.sent = carried, 0  # carried over in SQL: unchanged, not predicted
        self.predicted = {s: 0 for s in ("created", "updated", "skipped", "failed")}
        self.matched = {"email": 0, "phone": 0}

    def add(self, p: RowPlan) -> None:
        self.total += 1
        if self.keep_rows:
            self.rows.append(p)
        if p.action != "send":
            return
        self.sent += 1
        if self.keep_bodies:
            self.bodies.append(p.body)
        self.predicted[p.predicted_status] = self.predicted.get(p.predicted_status, 0) + 1
        if p.predicted_matched_by:
            self.matched[p.predicted_matched_by] += 1


class _Discard(Exception):
    """Raised to roll back a plan's transaction."""


def _policies(on_duplicate: str | None, mode: str | None,
              dry_run: bool = False) -> tuple[str, str]:
    """(on_duplicate, mode) with the defaults filled in, and the same refusals for ``plan``
    and ``sync``: a plan must never predict a run that ``sync`` would refuse to start."""
    on_duplicate = "update" if on_duplicate is None else on_duplicate
    mode = "bulk" if mode is None else mode
    if on_duplicate not in ("update", "skip"):
        raise ConfigError(f"--on-duplicate must be update or skip, not {on_duplicate!r}")
    if mode not in ("bulk", "live"):
        raise ConfigError(f"--mode must be bulk or live, not {mode!r}")
    if mode == "live" and (dry_run or on_duplicate == "skip"):
        raise ConfigError("--mode live sends single creates, which have neither dry_run nor "
                          "on_duplicate=skip; use --mode bulk for those")
    return on_duplicate, mode


def _load_job(path: str | Path) -> Job:
    from .job import load

    return load(path)


def sync(
    source: Connector | str | None = None,
    path: str | None = None,
    *,
    options: Mapping[str, Any] | None = None,
    job: str | Path | Job | None = None,
    workspace: str | Path | None = None,
    label: str | None = None,
    on_duplicate: str | None = None,
    mode: str | None = None,
    dry_run: bool = False,
    retry_failed: bool = False,
    sandbox: Any = False,
    base_url: str | None = None,
    token: str | None = None,
    customer_id: str | None = None,
    client: Any = None,
    stages: Iterable[str] | None = None,
    owners: Iterable[str] | None = None,
    engine_options: Any = None,
    pull_first: str = "auto",
    progress: bool | None = False,
    mapping: Any = None,
    custom_fields: Iterable[str] | None = None,
    send_anyway: bool = False,
    probe: bool = False,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
) -> SyncResult:
    """Run the whole job against MEGA (or a sandbox) and return its outcome.

    ``sandbox``: ``True`` starts an in-process sandbox whose state lives next to the
    workspace; a running ``leadbridge.sandbox.Sandbox`` is used as is. ``pull_first``:
    ``auto`` pulls the MEGA snapshot once per customer (first sync), ``always`` pulls
    incrementally before every run, ``never`` predicts from whatever snapshot exists.
    A crashed or stopped run on this workspace is resumed first; when it was a run of the same
    source, its result is the one returned. ``memory_limit`` caps DuckDB as ``dedupe`` does
    (None: DuckDB's own, 80% of RAM): uncapped, planning 5M records peaked at 8.8 GB.
    """
    from ..workspace import Workspace

    if job is not None:
        spec = job if isinstance(job, Job) else _load_job(job)
        source, options = spec.connector, spec.options
        label = label or spec.label
        # an argument given (a CLI flag) wins over the job's [policies], as label etc. do
        on_duplicate = spec.on_duplicate if on_duplicate is None else on_duplicate
        mode = spec.mode if mode is None else mode
        dry_run = dry_run or spec.dry_run
        retry_failed = retry_failed or spec.retry_failed
        sandbox = sandbox or spec.sandbox
        base_url = base_url or spec.base_url
        stages, owners = stages or spec.stages, owners or spec.owners
        engine_options = engine_options or spec.engine
        mapping, send_anyway = mapping or spec.mapping, send_anyway or spec.send_anyway
        custom_fields = custom_fields or spec.custom_fields
        probe = probe or spec.probe
    mapped = mapping_run.prepare(mapping, send_anyway=send_anyway, probe=probe)
    on_duplicate, mode = _policies(on_duplicate, mode, dry_run)
    if pull_first not in ("auto", "always", "never"):
        raise ConfigError("pull_first must be auto, always or never")
    if not sandbox and client is None and not (token or os.environ.get("MEGA_TOKEN")):
        raise ConfigError(NO_TOKEN)
    connector = _connector(source, path, options)
    label = label or connector.name
    eng = mapped.engine_options(_engine_options(engine_options))
    bar = Progress(progress)
    with Workspace.open(workspace, memory_limit=memory_limit) as ws:
        con = ws.con
        ledger.ensure(con)
        pull.fold_queued(con)  # answers a killed run stored but did not fold yet
        with open_target(ws, sandbox=sandbox, base_url=base_url, token=token,
                     customer_id=customer_id, client=client,
                     known=Known.of(stages, owners)) as (mega, known), bar.running():
            cust = str(mega.customer_id)
            resumed: list[str] = []
            for old in runs.unfinished(con):
                if old.phase == "extract" or old.dry_run:
                    # nothing was sent, or only previews MEGA never stores: nothing to finish
                    with ledger.transaction(con):
                        runs.set_status(con, old.run_id, runs.ABANDONED)
                    continue
                if old.customer_id != cust:
                    raise ConfigError(
                        f"run {old.run_id} (customer {old.customer_id}) stopped with unsent "
                        "chunks; resume it against that customer first (set MEGA_CUSTOMER_ID, "
                        "or --sandbox if it was a sandbox run)")
                why = _push_run(con, mega, old, bar)
                done = _finish(con, runs.get(con, old.run_id), ws.path, [old.run_id], why)
                if old.source == label or why:
                    return done
                resumed.append(old.run_id)
            if pull_first == "always" or (pull_first == "auto" and not pull.has_snapshot(con, cust)):
                _pull_or_stop(con, mega)
            with ledger.transaction(con):
                run = runs.create(con, source=label, connector=connector.name, mode=mode,
                                  dry_run=dry_run, on_duplicate=on_duplicate, customer_id=cust,
                                  base_url=str(mega.base_url))
            try:
                stats = _extract_and_build(ws, connector, label, eng, bar, save_cursor=True,
                                           mapped=mapped)
                # planned and staged a batch at a time, then stored whole or not at all in
                # one transaction (plan_store: a big transaction's appends cost memory)
                carry_over(con, cust, on_duplicate=on_duplicate, retry_failed=retry_failed)
                plans = iter_plans(con, _golden_stream(ws, carried=True), customer_id=cust,
                                   on_duplicate=on_duplicate, known=known,
                                   retry_failed=retry_failed, carried=True)
                plan_store.store_plan(con, run.run_id, plans, customer_id=cust, mode=mode,
                                      on_duplicate=on_duplicate, dry_run=dry_run, staged=True)
                with ledger.transaction(con):
                    plan_store.store_carried(con, run.run_id)
                    plan_store.publish_staged(con, run.run_id)
                    con.execute(f"DROP TABLE {CARRIED}")
                    if mapped.mapping is not None:
                        mapped.check(con, cust, plan_store.stored_bodies(con, run.run_id),
                                     mapping_run.known_of(known.stages, known.owners,
                                                          custom_fields, sandbox), client=mega)
                        stats["mapping"] = mapped.summary()
                    plan_store.mark_planned(con, run.run_id, stats)
            except BaseException:  # nothing was sent: the run is abandoned, never half-done
                with ledger.transaction(con):
                    runs.set_status(con, run.run_id, runs.ABANDONED)
                raise
            why = _push_run(con, mega, runs.get(con, run.run_id), bar)
            return _finish(con, runs.get(con, run.run_id), ws.path, resumed, why)


def pull_snapshot(*, workspace: str | Path | None = None, sandbox: Any = False,
                  base_url: str | None = None, token: str | None = None,
                  customer_id: str | None = None, full: bool = False) -> pull.PullResult:
    """``leadbridge pull``: refresh the ``mega_leads`` snapshot from MEGA (or the sandbox)."""
    from ..workspace import Workspace

    with Workspace.open(workspace) as ws:
        ledger.ensure(ws.con)
        with open_target(ws, sandbox=sandbox, base_url=base_url, token=token,
                     customer_id=customer_id, client=None, known=Known()) as (mega, _):
            return pull.pull(ws.con, mega, base_url=str(mega.base_url), full=full)
