"""Store a sync run's plan: its rows (``sync_rows``) and its requests (``sync_chunks``).

Why a module of its own: the plan is stored as it is made, a batch at a time, so a sync of
millions of records never holds every row as Python objects; the chunks are cut on the way
with exactly the bytes and keys ``chunking.make_chunks`` gives the whole list.

A sync stages its plan (``store_plan(staged=True)``: a commit per batch into
``sync_rows_staged`` / ``sync_chunks_staged``) and moves it into ``sync_rows`` / ``sync_chunks``
with one ``INSERT ... SELECT`` in the plan's transaction (``publish_staged``): appended batch
by batch inside one transaction, DuckDB held ~2.2 GB outside its memory cap for 3.3M rows
(``benchmarks/bench_plan_store.py``), the 5M-record sync's peak.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from ..chunking import canonical_json, idempotency_key, make_chunks
from ..mega_model import BULK_ENDPOINT, BULK_MAX_ROWS, CREATE_ENDPOINT
from . import ledger, runs
from .planner import CARRIED, RowPlan, live_body


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
    ("idempotency_key", pa.string()), ("n_rows", pa.int32())])
#: Each table a plan is stored in, and its staging table (``store_plan(staged=True)``).
STAGED = {"sync_rows": "sync_rows_staged", "sync_chunks": "sync_chunks_staged"}


def request_bytes(endpoint: str, bodies: list[dict[str, Any]], row_refs: list[str], *,
                  customer_id: str, on_duplicate: str, dry_run: bool,
                  index: int) -> tuple[bytes, str]:
    """(bytes, idempotency key) of one request: a bulk chunk of ``bodies``, or the live
    create of its one row. The plan keeps the key; push makes the bytes again with this same
    function and checks them against it."""
    if endpoint == BULK_ENDPOINT:
        (chunk,) = make_chunks(bodies, customer_id=customer_id, on_duplicate=on_duplicate,
                               dry_run=dry_run, first_index=index)
        return chunk.body, chunk.idempotency_key
    body = canonical_json(live_body(bodies[0]))
    return body, idempotency_key(customer_id, endpoint, body, row_ref=row_refs[0])


class PlanStore:
    """Writes a run's planned rows and its chunks (keys, cut from the exact bytes) as they come.

    Rows go to ``sync_rows`` every ``batch_rows``; a bulk chunk is cut every 500 rows to
    send, as ``make_chunks`` cuts them (a row's chunk is known when it is planned: rows are
    cut by count only). The caller holds the transaction: a run's plan is stored whole or
    not at all.
    """

    def __init__(self, con: Any, run_id: str, *, customer_id: str, mode: str,
                 on_duplicate: str, dry_run: bool, batch_rows: int | None = None,
                 staged: bool = False) -> None:
        self.con, self.run_id, self.customer_id = con, run_id, customer_id
        #: staged: each batch committed into the staging tables (see ``publish_staged``)
        self.staged = staged
        self.tables = tuple(STAGED.values()) if staged else tuple(STAGED)
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
                self._chunk(CREATE_ENDPOINT, [p])
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
        self._chunk(BULK_ENDPOINT, self.pending)
        self.pending = []

    def _chunk(self, endpoint: str, plans: list[RowPlan]) -> None:
        # the key is stored, not the bytes: push makes them again from the stored rows and
        # checks them against it (push.chunk_body), so the plan's transaction holds no bodies
        _, key = request_bytes(endpoint, [p.body for p in plans], [p.row_ref for p in plans],
                               customer_id=self.customer_id, on_duplicate=self.on_duplicate,
                               dry_run=self.dry_run, index=self.n_chunks)
        self.chunks.append({"run_id": self.run_id, "chunk_index": self.n_chunks,
                            "endpoint": endpoint, "idempotency_key": key,
                            "n_rows": len(plans)})
        self.n_chunks += 1

    def _write(self) -> None:
        rows = pa.Table.from_pylist(self.rows, schema=_ROWS_SCHEMA)
        chunks = pa.Table.from_pylist(self.chunks, schema=_CHUNKS_SCHEMA)
        self.rows, self.chunks = [], []
        rows_table, chunks_table = self.tables
        self.con.register("lb_rows", rows)
        self.con.register("lb_chunks", chunks)
        try:
            with ledger.transaction(self.con) if self.staged else contextlib.nullcontext():
                self.con.execute(f"INSERT INTO {rows_table} SELECT * FROM lb_rows")
                self.con.execute(
                    f"INSERT INTO {chunks_table} SELECT run_id, chunk_index, endpoint, "
                    "idempotency_key, NULL, n_rows, 'planned', 0, NULL, NULL, NULL, NULL, NULL "
                    "FROM lb_chunks")
        finally:
            self.con.unregister("lb_rows")
            self.con.unregister("lb_chunks")


def store_plan(con: Any, run_id: str, plans: Iterable[RowPlan], *, customer_id: str,
               mode: str, on_duplicate: str, dry_run: bool, staged: bool = False) -> int:
    """Store every plan as it comes; returns the number of requests (chunks) the run will
    send. Inside the caller's transaction, or ``staged``: outside any, a commit per batch
    into the staging tables (emptied first: a killed run's leftovers), for
    ``publish_staged`` to move in the plan's transaction."""
    if staged:
        with ledger.transaction(con):
            for staging in STAGED.values():
                con.execute(f"DELETE FROM {staging}")
    store = PlanStore(con, run_id, customer_id=customer_id, mode=mode,
                      on_duplicate=on_duplicate, dry_run=dry_run, staged=staged)
    for p in plans:
        store.add(p)
    return store.close()


def publish_staged(con: Any, run_id: str) -> None:
    """Move a staged plan into ``sync_rows`` and ``sync_chunks`` (inside the caller's
    transaction: the run's plan lands whole or not at all). One ``INSERT ... SELECT`` per
    table: DuckDB writes it out as it goes, where batch after batch in one transaction it
    held them in memory outside its cap."""
    for table, staging in STAGED.items():
        con.execute(f"INSERT INTO {table} SELECT * FROM {staging} WHERE run_id = ?", [run_id])
        con.execute(f"DELETE FROM {staging} WHERE run_id = ?", [run_id])


def store_carried(con: Any, run_id: str) -> None:
    """Store the rows ``planner.carry_over`` set aside (it counted them), as ``iter_plans``
    would have planned them: unchanged, the earlier answer shown as skipped or failed, no
    body."""
    con.execute(f"""
        INSERT INTO sync_rows
        SELECT ?, ord, row_ref, send_hash, 'unchanged', NULL, shown, lead_id, matched_by,
               errors, shown, lead_id, matched_by, errors, NULL, NULL
        FROM {CARRIED}""", [run_id])


#: Rows (by ``ord``) whose bodies ``stored_bodies`` reads per query.
BODY_SLICE_ROWS = 50_000


def stored_bodies(con: Any, run_id: str) -> Iterator[dict[str, Any]]:
    """The bodies a run will send, in order, read back from its stored rows a slice of
    places at a time (a run's places are 0..N-1): all at once, a 5M-record run's 3.3M
    bodies would be over a GB in one result. The connection is free between slices."""
    (places,), = con.execute("SELECT coalesce(max(ord) + 1, 0) FROM sync_rows WHERE run_id = ?",
                             [run_id]).fetchall()
    for start in range(0, places, BODY_SLICE_ROWS):
        rows = con.execute("SELECT body FROM sync_rows WHERE run_id = ? AND action = 'send' "
                           "AND ord >= ? AND ord < ? ORDER BY ord",
                           [run_id, start, start + BODY_SLICE_ROWS]).fetchall()
        yield from (json.loads(body) for (body,) in rows)


def mark_planned(con: Any, run_id: str, build_stats: dict[str, Any]) -> None:
    """The lineage copy, and the run's phase: planned (inside the plan's transaction)."""
    con.execute("INSERT INTO sync_records SELECT ?, source, source_id, row_ref, "
                "reject_reason FROM lineage", [run_id])
    runs.set_phase(con, run_id, "planned", build_stats)
