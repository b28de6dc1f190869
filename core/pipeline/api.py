"""``leadbridge.sync`` and ``leadbridge.plan``: the whole job, from Python or the CLI.

extract -> stage -> build (normalize, cluster, merge) -> plan -> chunk -> push -> ledger ->
report. Every step writes to the workspace; a run killed anywhere is resumed by the next
``sync`` on the same workspace (its stored chunks are re-sent with the same bytes and keys).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..chunking import canonical_json, idempotency_key, make_chunks
from ..connector import Connector
from .. import mapping_run
from ..errors import ConfigError
from ..mega_model import BULK_ENDPOINT, BULK_MAX_ROWS, CREATE_ENDPOINT
from . import ledger, pull, report, runs
from .job import Job
from .planner import Known, RowPlan, iter_plans, live_body, plan_rows
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


def _golden(ws: Any) -> list[dict[str, Any]]:
    from ..engine import golden_rows

    return golden_rows(ws)


def _golden_stream(ws: Any) -> Iterator[dict[str, Any]]:
    from ..engine import iter_golden_rows

    return iter_golden_rows(ws)


#: Golden rows planned and stored per batch by ``sync``: its memory holds one batch of rows
#: as Python objects, not all of them.
STORE_BATCH_ROWS = 20_000

_ROWS_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("ord", pa.int64()), ("row_ref", pa.string()),
    ("send_hash", pa.string()), ("action", pa.string()), ("chunk_index", pa.int32()),
    ("predicted_status", pa.string()), ("predicted_lead_id", pa.string()),
    ("predicted_matched_by", pa.string()), ("predicted_errors", pa.string()),
    ("status", pa.string()), ("lead_id", pa.string()), ("matched_by", pa.string()),
    ("errors", pa.string()), ("ignored_custom_fields", pa.string()), ("body", pa.string()),
])
_CHUNKS_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("chunk_index", pa.int32()), ("endpoint", pa.string()),
    ("idempotency_key", pa.string()), ("body", pa.binary()), ("n_rows", pa.int32())])


class _PlanStore:
    """Writes a run's planned rows and its chunks (exact bytes and keys) as they come.

    Rows go to ``sync_rows`` every ``batch_rows``; a bulk chunk is cut every 500 rows to
    send, as ``make_chunks`` cuts them (a row's chunk is known when it is planned: rows are
    cut by count only). The caller holds the transaction: a run's plan is stored whole or
    not at all.
    """

    def __init__(self, con: Any, run_id: str, *, customer_id: str, mode: str,
                 on_duplicate: str, dry_run: bool, batch_rows: int | None = None) -> None:
        self.con, self.run_id, self.customer_id = con, run_id, customer_id
        self.mode, self.on_duplicate, self.dry_run = mode, on_duplicate, dry_run
        self.batch_rows = batch_rows or STORE_BATCH_ROWS
        self.rows: list[dict[str, Any]] = []
        self.chunks: list[dict[str, Any]] = []
        self.pending: list[RowPlan] = []  # bulk rows not yet in a chunk
        self.sent = 0
        self.n_chunks = 0

    def add(self, p: RowPlan) -> None:
        if p.action == "send":
            if self.mode == "live":
                p.chunk_index = self.sent
                body = canonical_json(live_body(p.body))
                self._chunk(CREATE_ENDPOINT, body, idempotency_key(
                    self.customer_id, CREATE_ENDPOINT, body, row_ref=p.row_ref), 1)
            else:
                p.chunk_index = self.sent // BULK_MAX_ROWS
                self.pending.append(p)
                if len(self.pending) == BULK_MAX_ROWS:
                    self._cut()
            self.sent += 1
        self.rows.append({
            "run_id": self.run_id, "ord": p.ord, "row_ref": p.row_ref,
            "send_hash": p.send_hash, "action": p.action, "chunk_index": p.chunk_index,
            "predicted_status": p.predicted_status, "predicted_lead_id": p.predicted_lead_id,
            "predicted_matched_by": p.predicted_matched_by,
            "predicted_errors": ledger.dumps(p.predicted_errors),
            "status": p.status, "lead_id": p.lead_id, "matched_by": p.matched_by,
            "errors": ledger.dumps(p.errors), "ignored_custom_fields": None,
            "body": (json.dumps(p.body, sort_keys=True, ensure_ascii=False)
                     if p.action == "send" else None),  # unchanged rows are not re-stored
        })
        if len(self.rows) >= self.batch_rows:
            self._write()

    def close(self) -> int:
        """Cut the last chunk, write what is left; returns the number of requests."""
        if self.pending:
            self._cut()
        self._write()
        return self.n_chunks

    def _cut(self) -> None:
        (chunk,) = make_chunks([p.body for p in self.pending], customer_id=self.customer_id,
                               on_duplicate=self.on_duplicate, dry_run=self.dry_run,
                               first_index=self.n_chunks)
        self._chunk(BULK_ENDPOINT, chunk.body, chunk.idempotency_key, len(chunk.row_refs))
        self.pending = []

    def _chunk(self, endpoint: str, body: bytes, key: str, n_rows: int) -> None:
        self.chunks.append({"run_id": self.run_id, "chunk_index": self.n_chunks,
                            "endpoint": endpoint, "idempotency_key": key, "body": body,
                            "n_rows": n_rows})
        self.n_chunks += 1

    def _write(self) -> None:
        rows = pa.Table.from_pylist(self.rows, schema=_ROWS_SCHEMA)
        chunks = pa.Table.from_pylist(self.chunks, schema=_CHUNKS_SCHEMA)
        self.rows, self.chunks = [], []
        self.con.register("lb_rows", rows)
        self.con.register("lb_chunks", chunks)
        try:
            self.con.execute("INSERT INTO sync_rows SELECT * FROM lb_rows")
            self.con.execute(
                "INSERT INTO sync_chunks SELECT run_id, chunk_index, endpoint, idempotency_key, "
                "body, n_rows, 'planned', 0, NULL, NULL, NULL, NULL, NULL FROM lb_chunks")
        finally:
            self.con.unregister("lb_rows")
            self.con.unregister("lb_chunks")


def _store_plan(con: Any, run_id: str, plans: Iterable[RowPlan], *, customer_id: str,
                mode: str, on_duplicate: str, dry_run: bool) -> int:
    """Store every plan as it comes (inside the caller's transaction); returns the number
    of requests (chunks) the run will send."""
    store = _PlanStore(con, run_id, customer_id=customer_id, mode=mode,
                       on_duplicate=on_duplicate, dry_run=dry_run)
    for p in plans:
        store.add(p)
    return store.close()


def _stored_bodies(con: Any, run_id: str) -> Iterator[dict[str, Any]]:
    """The bodies a run will send, in order, read back from its stored rows."""
    rows = con.execute("SELECT body FROM sync_rows WHERE run_id = ? AND action = 'send' "
                       "ORDER BY ord", [run_id]).fetchall()
    return (json.loads(body) for (body,) in rows)


def _mark_planned(con: Any, run_id: str, build_stats: dict[str, Any]) -> None:
    """The lineage copy, and the run's phase: planned (inside the plan's transaction)."""
    con.execute("INSERT INTO sync_records SELECT ?, source, source_id, row_ref, "
                "reject_reason FROM lineage", [run_id])
    runs.set_phase(con, run_id, "planned", build_stats)


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
) -> PlanResult:
    """Offline: stage and build, then predict what a sync would send and what MEGA answers.

    Talks to no server. Predictions use the ``mega_leads`` snapshot (``leadbridge pull``).
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
    with Workspace.open(workspace) as ws, bar.running():
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
                plans = plan_rows(ws.con, _golden(ws), customer_id=customer,
                                  on_duplicate=on_duplicate, known=Known.of(stages, owners))
                mapped.check(ws.con, customer, mapping_run.sent_rows(plans),
                             mapping_run.known_of(stages, owners, custom_fields))
                send = [p for p in plans if p.action == "send"]
                if mode == "live":
                    n_chunks = len(send)
                else:
                    n_chunks = len(make_chunks([p.body for p in send], customer_id=customer,
                                               on_duplicate=on_duplicate))
                predicted = {s: 0 for s in ("created", "updated", "skipped", "failed")}
                matched = {"email": 0, "phone": 0}
                for p in send:
                    predicted[p.predicted_status] = predicted.get(p.predicted_status, 0) + 1
                    if p.predicted_matched_by:
                        matched[p.predicted_matched_by] += 1
                snapshot = ws.con.execute(
                    "SELECT count(*) FROM mega_leads WHERE customer_id = ?",
                    [customer]).fetchall()[0][0]
                summary = {
                    **stats,
                    "golden_rows": len(plans),
                    "rows_to_send": len(send),
                    "rows_unchanged": len(plans) - len(send),
                    "chunks": n_chunks,
                    "requests": n_chunks,
                    "endpoint": CREATE_ENDPOINT if mode == "live" else BULK_ENDPOINT,
                    "predicted": predicted,
                    "matched_by": matched,
                    "snapshot_leads": int(snapshot),
                    "stages_known": bool(stages),
                    "customer_id": customer,
                }
                if mapped.mapping is not None:
                    summary["mapping"] = mapped.summary()
                result = PlanResult(ws.path, summary, plans)
                raise _Discard
        except _Discard:
            pass
        return result


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
) -> SyncResult:
    """Run the whole job against MEGA (or a sandbox) and return its outcome.

    ``sandbox``: ``True`` starts an in-process sandbox whose state lives next to the
    workspace; a running ``leadbridge.sandbox.Sandbox`` is used as is. ``pull_first``:
    ``auto`` pulls the MEGA snapshot once per customer (first sync), ``always`` pulls
    incrementally before every run, ``never`` predicts from whatever snapshot exists.
    A crashed or stopped run on this workspace is resumed first; when it was a run of the same
    source, its result is the one returned.
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
    with Workspace.open(workspace) as ws:
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
                # planned and stored a batch at a time, whole or not at all: one transaction
                with ledger.transaction(con):
                    plans = iter_plans(con, _golden_stream(ws), customer_id=cust,
                                       on_duplicate=on_duplicate, known=known,
                                       retry_failed=retry_failed)
                    _store_plan(con, run.run_id, plans, customer_id=cust, mode=mode,
                                on_duplicate=on_duplicate, dry_run=dry_run)
                    if mapped.mapping is not None:
                        mapped.check(con, cust, _stored_bodies(con, run.run_id),
                                     mapping_run.known_of(known.stages, known.owners,
                                                          custom_fields, sandbox), client=mega)
                        stats["mapping"] = mapped.summary()
                    _mark_planned(con, run.run_id, stats)
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
