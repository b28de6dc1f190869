"""Snapshot of the customer's MEGA leads in table ``mega_leads``, so plans predict against it.

The first pull pages through every lead (cursor paging, ``sort_by=updated_at``); later pulls
ask only for leads updated since the newest ``updated_at`` already held. A sync also folds
MEGA's answers into the snapshot (``fold_queued``), so the next plan knows the leads it
created without pulling them back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import groupby
from typing import Any

import duckdb
import pyarrow as pa

from ..mega_model import email_key, id_text, mega_phone_key, merge_fields
from . import ledger
from .testhook import pause

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS mega_leads (
         customer_id VARCHAR, id VARCHAR, contact_name VARCHAR, contact_phone VARCHAR,
         contact_email VARCHAR, email_key VARCHAR, phone_key VARCHAR, source_platform VARCHAR,
         source_type VARCHAR, stage_slug VARCHAR, owner_id VARCHAR, custom_fields VARCHAR,
         status VARCHAR, created_at VARCHAR, updated_at VARCHAR, origin VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS mega_pulls (
         customer_id VARCHAR, base_url VARCHAR, pulled_at TIMESTAMPTZ, incremental BOOLEAN,
         fetched BIGINT, max_updated_at VARCHAR)""",
)

_COLS = ("customer_id", "id", "contact_name", "contact_phone", "contact_email", "email_key",
         "phone_key", "source_platform", "source_type", "stage_slug", "owner_id",
         "custom_fields", "status", "created_at", "updated_at", "origin")
#: A ``mega_leads`` row as Arrow (every column text), for registering rows to insert.
_ROW_SCHEMA = pa.schema([(c, pa.string()) for c in _COLS])


@dataclass(frozen=True)
class PullResult:
    """What one pull fetched and what the snapshot now holds."""

    customer_id: str
    incremental: bool
    fetched: int
    leads: int

    def as_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "incremental": self.incremental,
                "fetched": self.fetched, "leads": self.leads}


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    for stmt in SCHEMA:
        con.execute(stmt)


#: Answers folded per transaction by ``fold_queued``: each batch costs one scan of the
#: snapshot (a lookup and an upsert), whatever its size.
FOLD_BATCH_ROWS = 50_000


def fold_queued(con: duckdb.DuckDBPyConnection, *, own_transaction: bool = True) -> int:
    """Fold the answers of every chunk in ``sync_fold_queue`` into the snapshot, oldest run
    and chunk first, in batches of about FOLD_BATCH_ROWS rows; return the rows read.

    Why a queue: DuckDB finds a chunk's 500 lead ids only by scanning the whole snapshot, so
    folding every chunk as it was answered cost a scan per chunk (at 1M records, 137 ms of
    each chunk's ~350 ms). A chunk is queued in the transaction that stores its answers and
    leaves the queue in the one that folds it, so a run killed in between loses nothing: the
    next sync, plan or pull folds it first. ``own_transaction=False`` runs inside the
    caller's transaction (``plan``, which rolls everything back).
    """
    ledger.ensure(con)
    ensure(con)
    queued = con.execute("""
        SELECT q.customer_id, q.run_id, q.chunk_index, coalesce(c.n_rows, 0)
        FROM sync_fold_queue q LEFT JOIN sync_runs r USING (run_id)
        LEFT JOIN sync_chunks c ON c.run_id = q.run_id AND c.chunk_index = q.chunk_index
        ORDER BY r.seq NULLS FIRST, q.run_id, q.chunk_index""").fetchall()
    folded = 0
    batch: list[tuple[str, str, int]] = []
    rows = 0
    for customer_id, run_id, chunk_index, n_rows in queued:
        batch.append((customer_id, run_id, chunk_index))
        rows += n_rows
        if rows >= FOLD_BATCH_ROWS:
            folded += _fold_batch(con, batch, own_transaction)
            batch, rows = [], 0
    if batch:
        folded += _fold_batch(con, batch, own_transaction)
    return folded


def _fold_batch(con: duckdb.DuckDBPyConnection, batch: list[tuple[str, str, int]],
                own_transaction: bool) -> int:
    pause("before_fold")
    table = pa.table({
        "n": pa.array(range(len(batch)), pa.int64()),
        "customer_id": pa.array([b[0] for b in batch], pa.string()),
        "run_id": pa.array([b[1] for b in batch], pa.string()),
        "chunk_index": pa.array([b[2] for b in batch], pa.int32()),
    })
    con.register("_lb_fold", table)
    try:
        with ledger.transaction(con) if own_transaction else contextlib.nullcontext():
            answers = con.execute("""
                SELECT f.customer_id, s.body, s.status, s.lead_id
                FROM sync_rows s JOIN _lb_fold f
                  ON s.run_id = f.run_id AND s.chunk_index = f.chunk_index
                ORDER BY f.n, s.ord""").fetchall()
            for customer_id, group in groupby(answers, key=lambda a: a[0]):
                fold(con, customer_id, [(ledger.loads(b), st, lid) for _, b, st, lid in group])
            con.execute("DELETE FROM sync_fold_queue WHERE (run_id, chunk_index) IN "
                        "(SELECT (run_id, chunk_index) FROM _lb_fold)")
    finally:
        con.unregister("_lb_fold")
    return len(answers)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def has_snapshot(con: duckdb.DuckDBPyConnection, customer_id: str) -> bool:
    ensure(con)
    row = con.execute("SELECT count(*) FROM mega_pulls WHERE customer_id = ?",
                      [customer_id]).fetchall()[0]
    return bool(row and row[0])


def _str(value: Any) -> str | None:
    """A documented string field as a string, anything else (number, object) as unknown."""
    return value if isinstance(value, str) else None


def lead_row(customer_id: str, lead: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """A pulled Lead (MEGA's pull shape) or a locally merged lead as a mega_leads row.

    Fields of another type than MEGA documents are stored as unknown (NULL, ``{}``), not
    raised on: a number as ``contact_email`` or ``updated_at`` made the pull raise TypeError,
    and a lead must not stop the whole snapshot. ``id`` is checked by the client.
    """
    stage = lead.get("current_stage")
    owner = lead.get("owner")
    custom = lead.get("custom_fields")
    owner_id = owner.get("id") if isinstance(owner, Mapping) else lead.get("owner_id")
    email, phone = _str(lead.get("contact_email")), _str(lead.get("contact_phone"))
    return {
        "customer_id": customer_id,
        "id": str(lead["id"]),
        "contact_name": _str(lead.get("contact_name")),
        "contact_phone": phone,
        "contact_email": email,
        "email_key": email_key(email),
        "phone_key": mega_phone_key(phone),
        "source_platform": _str(lead.get("source_platform")),
        "source_type": _str(lead.get("source_type")),
        "stage_slug": _str(stage.get("slug") if isinstance(stage, Mapping)
                           else lead.get("stage_slug")),
        "owner_id": id_text(owner_id),
        "custom_fields": ledger.dumps(dict(custom) if isinstance(custom, Mapping) else {}),
        "status": _str(lead.get("status")),
        "created_at": _str(lead.get("created_at")),
        "updated_at": _str(lead.get("updated_at")),
        "origin": origin,
    }


def _upsert(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    con.register("lb_upsert", pa.Table.from_pylist(rows, schema=_ROW_SCHEMA))
    try:
        con.execute("DELETE FROM mega_leads WHERE (customer_id, id) IN "
                    "(SELECT (customer_id, id) FROM lb_upsert)")
        con.execute("INSERT INTO mega_leads SELECT * FROM lb_upsert")
    finally:
        con.unregister("lb_upsert")


def _append_pulled(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    schema = pa.schema([("n", pa.int64()), *_ROW_SCHEMA])
    con.register("_lb_page", pa.Table.from_pylist(rows, schema=schema))
    try:
        con.execute("INSERT INTO _lb_pulled SELECT * FROM _lb_page")
    finally:
        con.unregister("_lb_page")


def pull(con: duckdb.DuckDBPyConnection, client: Any, *, base_url: str = "",
         full: bool = False, on_page: Any = None) -> PullResult:
    """Fetch the customer's leads (all, or only those updated since the last pull)."""
    fold_queued(con)  # our answers first: what MEGA says now is applied over them
    customer_id = str(client.customer_id)
    since = None
    if not full:
        row = con.execute("SELECT max(max_updated_at) FROM mega_pulls WHERE customer_id = ?",
                          [customer_id]).fetchall()[0]
        since = row[0] if row else None
    filters: dict[str, Any] = {"sort_by": "updated_at", "sort_dir": "asc",
                               "include_custom_fields": True, "limit": 100}
    if since:
        filters["updated_since"] = since
    fetched, newest, batch = 0, since, []
    with ledger.transaction(con):
        if full:
            con.execute("DELETE FROM mega_leads WHERE customer_id = ?", [customer_id])
        # pages are appended to a staging table and replace the snapshot's rows once at the
        # end: an upsert per page scanned the whole snapshot each time (~40 ms at 661k leads)
        con.execute("CREATE OR REPLACE TEMP TABLE _lb_pulled AS "
                    "SELECT 0::BIGINT AS n, * FROM mega_leads LIMIT 0")
        for lead in client.list_leads(**filters):
            row = lead_row(customer_id, lead, "pulled")
            batch.append({"n": fetched, **row})
            fetched += 1
            updated = row["updated_at"]
            if updated and (newest is None or updated > newest):
                newest = updated
            if len(batch) >= 1000:
                _append_pulled(con, batch)
                batch = []
                if on_page:
                    on_page(fetched)
        _append_pulled(con, batch)
        # a lead updated while the pull pages comes again later: its last version wins
        con.execute("DELETE FROM mega_leads WHERE (customer_id, id) IN "
                    "(SELECT (customer_id, id) FROM _lb_pulled)")
        con.execute("INSERT INTO mega_leads SELECT * EXCLUDE (n) FROM _lb_pulled "
                    "QUALIFY row_number() OVER (PARTITION BY customer_id, id ORDER BY n DESC) = 1")
        con.execute("DROP TABLE _lb_pulled")
        con.execute("INSERT INTO mega_pulls VALUES (?, ?, now(), ?, ?, ?)",
                    [customer_id, base_url, since is not None, fetched, newest])
    total = con.execute("SELECT count(*) FROM mega_leads WHERE customer_id = ?",
                        [customer_id]).fetchall()[0][0]  # type: ignore[index]
    return PullResult(customer_id, since is not None, fetched, int(total))


def fold(con: duckdb.DuckDBPyConnection, customer_id: str,
         answers: Iterable[tuple[dict[str, Any], str, str]]) -> None:
    """Apply MEGA's answers to the snapshot: (sent row, status, lead_id) per written row, in
    the order MEGA wrote them.

    ``created`` inserts the row as a new lead; ``updated`` merges it into the stored lead with
    ``mega_model.merge_fields`` (what MEGA itself does). Call inside a transaction
    (``fold_queued`` does).
    """
    answers = [a for a in answers if a[2] and a[1] in ("created", "updated")]
    if not answers:
        return
    ids = sorted({lead_id for _, _, lead_id in answers})
    stored: dict[str, dict[str, Any]] = {}
    for rec in con.execute(
            f"SELECT {', '.join(_COLS)} FROM mega_leads WHERE customer_id = ? AND id IN "
            f"(SELECT unnest(?::VARCHAR[]))", [customer_id, ids]).fetchall():
        lead = dict(zip(_COLS, rec))
        lead["custom_fields"] = ledger.loads(lead["custom_fields"]) or {}
        stored[lead["id"]] = lead
    now = now_iso()
    out: dict[str, dict[str, Any]] = {}
    for row, status, lead_id in answers:
        incoming = {k: v for k, v in row.items() if k not in ("row_ref", "lead_line")}
        if row.get("lead_line"):
            incoming["custom_fields"] = {**(incoming.get("custom_fields") or {}),
                                         "lead_line": row["lead_line"]}
        base = out.get(lead_id) or stored.get(lead_id)
        if base is None:
            base = {"id": lead_id, "created_at": now, "status": "active", "custom_fields": {}}
        merged = merge_fields(base, incoming) if status == "updated" else {**base, **incoming}
        merged["updated_at"] = now
        out[lead_id] = merged
    _upsert(con, [lead_row(customer_id, lead, "synced") for lead in out.values()])
