"""The ledger: every run, chunk, golden row and source record of a sync, in the workspace.

Written before and after each request (in DuckDB transactions) so a run killed at any moment
can be resumed: a chunk's idempotency key and the rows its body is made of are stored *before*
it is sent, and the same bytes (made again, checked against the key) are re-sent until its
answer is stored. Tables (all created here, nowhere else):

- ``sync_runs``     one row per run: source, target, phase, status, summary, exit code
- ``sync_records``  the run's copy of the lineage: every source record and its ``row_ref``
- ``sync_rows``     one row per golden row: hash, chunk, prediction, MEGA's answer
- ``sync_chunks``   one row per request: endpoint, key, state, response (body: older runs only)
- ``sync_rows_staged``, ``sync_chunks_staged``: a plan's rows and requests while it is made,
  committed a batch at a time, then moved into ``sync_rows`` and ``sync_chunks`` in the
  plan's one transaction (``plan_store``: DuckDB holds a big transaction's appends outside
  its memory cap)
- ``sync_state``    per customer and content hash: the last final answer (minimal re-syncs)
- ``sync_fold_queue`` answered chunks whose answers are not yet folded into the ``mega_leads``
  snapshot (``pull.fold_queued`` folds them in batches)
- ``source_cursors`` per source label: the connector's incremental ``state``
- ``sync_meta``     small settings (the ``--sandbox`` customer id)

No table holds a secret: tokens never reach the workspace.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS sync_runs (
         run_id VARCHAR, seq BIGINT, source VARCHAR, connector VARCHAR, mode VARCHAR,
         dry_run BOOLEAN, on_duplicate VARCHAR, customer_id VARCHAR, base_url VARCHAR,
         phase VARCHAR, status VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
         summary VARCHAR, exit_code INTEGER, build VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS sync_records (
         run_id VARCHAR, source VARCHAR, source_id VARCHAR, row_ref VARCHAR,
         reject_reason VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS sync_rows (
         run_id VARCHAR, ord BIGINT, row_ref VARCHAR, send_hash VARCHAR, action VARCHAR,
         chunk_index INTEGER, predicted_status VARCHAR, predicted_lead_id VARCHAR,
         predicted_matched_by VARCHAR, predicted_errors VARCHAR, status VARCHAR,
         lead_id VARCHAR, matched_by VARCHAR, errors VARCHAR, ignored_custom_fields VARCHAR,
         body VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS sync_chunks (
         run_id VARCHAR, chunk_index INTEGER, endpoint VARCHAR, idempotency_key VARCHAR,
         body BLOB, n_rows INTEGER, state VARCHAR, attempts INTEGER, http_status INTEGER,
         error VARCHAR, unknown_custom_fields VARCHAR, sent_at TIMESTAMPTZ,
         done_at TIMESTAMPTZ)""",
    "CREATE TABLE IF NOT EXISTS sync_rows_staged AS SELECT * FROM sync_rows LIMIT 0",
    "CREATE TABLE IF NOT EXISTS sync_chunks_staged AS SELECT * FROM sync_chunks LIMIT 0",
    """CREATE TABLE IF NOT EXISTS sync_state (
         customer_id VARCHAR, send_hash VARCHAR, status VARCHAR, lead_id VARCHAR,
         matched_by VARCHAR, errors VARCHAR, run_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS sync_fold_queue (
         customer_id VARCHAR, run_id VARCHAR, chunk_index INTEGER)""",
    """CREATE TABLE IF NOT EXISTS source_cursors (
         source VARCHAR, state VARCHAR, updated_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS sync_meta (key VARCHAR, value VARCHAR)""",
)

#: Row and record statuses that are final (everything else is ``pending``).
FINAL = ("created", "updated", "skipped", "failed", "rejected")


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ledger tables if this workspace has none yet."""
    for stmt in SCHEMA:
        con.execute(stmt)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One DuckDB transaction: everything inside lands together or not at all."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# --- small key/value settings -----------------------------------------------------------

def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM sync_meta WHERE key = ?", [key]).fetchall()
    return row[0][0] if row else None


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("DELETE FROM sync_meta WHERE key = ?", [key])
    con.execute("INSERT INTO sync_meta VALUES (?, ?)", [key, value])


# --- connector cursors --------------------------------------------------------------------

def load_cursor(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, Any]:
    """The connector ``state`` saved after the last staging of ``source`` ({} the first time)."""
    row = con.execute("SELECT state FROM source_cursors WHERE source = ?", [source]).fetchall()
    return dict(loads(row[0][0]) or {}) if row else {}


def save_cursor(con: duckdb.DuckDBPyConnection, source: str, state: dict[str, Any]) -> None:
    con.execute("DELETE FROM source_cursors WHERE source = ?", [source])
    con.execute("INSERT INTO source_cursors VALUES (?, ?, now())",
                [source, json.dumps(state, sort_keys=True, default=str)])
