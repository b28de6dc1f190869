"""The "floor" contender of bench_dedupe.py: the least a DuckDB dedupe can do for these outputs.

Why it exists: issue 3 asks for leadbridge's dedupe within 8x the bare scan. This contender
answers "how fast can a straightforward DuckDB pipeline be on this machine, from the same
connector stream to the same kinds of files", so the remaining gap is known to be the
engine's design or the tooling's floor. It does only what every output needs:

- keys with leadbridge's own SQL macros (email strip/lower/valid, phone digits, last 10);
- connected components with leadbridge's ``components`` (the same min-label contraction);
- one golden row per cluster: newest non-empty value per field (arg_max), custom fields
  taken whole from the newest record, canonical-ish JSON per row and its sha256;
- golden.parquet, lineage.parquet, chunks.jsonl (500 rows per body, idempotency keys).

Left out, on purpose (each is a feature of the engine, not a floor): the placeholder guard,
phone classification, stage/owner mapping, conflicts, households, survivorship rules,
per-key custom-field merge, exact MEGA JSON canonicalization and reject reasons.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


def connect(threads: int, memory_limit: str, keep_order: bool = False) -> Any:
    """A DuckDB connection as every floor contender sets it up: threads, cap, UTC and
    leadbridge's key macros (``keep_order``: results keep their input's row order)."""
    import duckdb

    from leadbridge.mega_model import duckdb_macros

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET preserve_insertion_order = {str(keep_order).lower()}")
    con.execute("SET TimeZone = 'UTC'")
    for statement in duckdb_macros():
        con.execute(statement)
    return con


def run_floor(source: Any, out_dir: Path, threads: int,
              memory_limit: str = "2GB") -> dict[str, Any]:
    """Dedupe ``source`` into ``out_dir``; return seconds, cpu and clusters.

    ``source``: a connector (its Arrow stream), or a SELECT producing the canonical columns
    that DuckDB runs itself (the floor without any connector stream)."""
    from leadbridge.engine.cluster import components
    from leadbridge.records import CANONICAL_SCHEMA, to_batches
    from leadbridge.workspace import Workspace

    out_dir.mkdir(parents=True, exist_ok=True)
    start, cpu0 = time.perf_counter(), time.process_time()
    con = connect(threads, memory_limit)
    native = isinstance(source, str)  # DuckDB reads the file itself: no connector stream
    if native:
        con.execute(f"CREATE VIEW stream AS {source}")
    else:
        reader = pa.RecordBatchReader.from_batches(CANONICAL_SCHEMA,
                                                   to_batches(source.records({})))
        con.register("stream", reader)
    con.execute("""
        CREATE TABLE n AS
        SELECT source_id,
          coalesce(nullif(trim(contact_name), ''),
                   nullif(concat_ws(' ', nullif(trim(first_name), ''),
                                         nullif(trim(last_name), '')), '')) AS name,
          CASE WHEN lb_email_valid(contact_email) THEN lb_email_key(contact_email) END AS ekey,
          lb_phone_key(contact_phone) AS pkey, lb_phone_clean(contact_phone) AS phone,
          contact_email AS email, stage, owner, custom_fields,
          coalesce(epoch_us(try_cast(updated_at AS TIMESTAMPTZ)),
                   epoch_us(try_cast(created_at AS TIMESTAMPTZ)), 0) AS rec
        FROM stream""")
    if not native:
        con.unregister("stream")
    ws = Workspace(con, None)
    con.execute("""CREATE VIEW elig AS SELECT rowid AS rid, ekey AS email_key, pkey AS phone_key
                   FROM n WHERE ekey IS NOT NULL OR pkey IS NOT NULL""")
    components(ws, "elig")
    con.execute("""
        CREATE TABLE g AS
        SELECT n.rowid AS rid, coalesce(l.label, -1 - n.rowid) AS grp
        FROM n LEFT JOIN lb_node l ON l.rid = n.rowid""")
    con.execute("""
        CREATE TABLE gr AS
        SELECT grp, records, 'lb_' || left(md5(first), 24) AS row_ref,
               row_number() OVER (ORDER BY first) AS sort_key
        FROM (SELECT g.grp, count(*) AS records, min(n.source_id) AS first
              FROM g JOIN n ON n.rowid = g.rid GROUP BY g.grp)""")
    con.execute("""
        CREATE TABLE golden AS
        WITH m AS (
          SELECT g.grp, arg_max(n.name, n.rec) FILTER (n.name IS NOT NULL) AS contact_name,
                 arg_max(n.email, n.rec) FILTER (n.ekey IS NOT NULL) AS contact_email,
                 arg_max(n.phone, n.rec) FILTER (n.pkey IS NOT NULL) AS contact_phone,
                 arg_max(n.stage, n.rec) FILTER (n.stage IS NOT NULL) AS stage_slug,
                 arg_max(n.owner, n.rec) FILTER (n.owner IS NOT NULL) AS owner_id,
                 arg_max(n.custom_fields, n.rec) FILTER (n.custom_fields IS NOT NULL) AS cf
          FROM g JOIN n ON n.rowid = g.rid GROUP BY g.grp
        ), j AS (
          SELECT r.row_ref, r.sort_key, r.records, m.*, concat_ws(',',
            '"contact_email":' || to_json(contact_email),
            '"contact_name":' || to_json(contact_name),
            '"contact_phone":' || to_json(contact_phone), '"custom_fields":' || cf,
            '"owner_id":' || to_json(owner_id)) AS _a,
            '"stage_slug":' || to_json(stage_slug) AS _b
          FROM m JOIN gr r USING (grp)
        )
        SELECT * EXCLUDE (_a, _b),
          sha256('{' || concat_ws(',', _a, _b) || '}') AS content_hash,
          '{' || concat_ws(',', _a, '"row_ref":' || to_json(row_ref), _b) || '}' AS row_json
        FROM j""")
    con.execute(f"COPY (SELECT * EXCLUDE (row_json) FROM golden) TO '{out_dir / 'golden.parquet'}' "
                "(FORMAT parquet, COMPRESSION snappy)")
    con.execute(f"""COPY (SELECT n.source_id, r.row_ref FROM n JOIN g ON g.rid = n.rowid
                          JOIN gr r USING (grp))
                    TO '{out_dir / 'lineage.parquet'}' (FORMAT parquet, COMPRESSION snappy)""")
    clusters = _write_chunks(con, out_dir / "chunks.jsonl")
    con.close()
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu0,
            "clusters": clusters}


def _write_chunks(con: Any, path: Path, step: int = 500) -> int:
    """chunks.jsonl the way leadbridge writes it (Arrow join per 200k rows, sha256 keys)."""
    total = con.execute("SELECT count(*) FROM golden").fetchall()[0][0]
    with open(path, "wb") as fh:
        for first in range(0, total, 200_000):
            rows = con.sql(f"SELECT row_json FROM golden WHERE sort_key > {first} AND "
                           f"sort_key <= {first + 200_000} ORDER BY sort_key").to_arrow_table()
            write_bodies(fh, rows.column(0), step)
    return total


def write_bodies(fh: Any, rows: pa.ChunkedArray | pa.Array, step: int = 500) -> None:
    """One chunks.jsonl line per ``step`` row JSONs: the body and its sha256 key."""
    sep = pa.scalar(b",", pa.large_binary())
    col = (rows.combine_chunks() if isinstance(rows, pa.ChunkedArray) else rows
           ).cast(pa.large_binary())
    offsets = pa.array([*range(0, len(col), step), len(col)], pa.int64())
    bodies = pc.binary_join(pa.LargeListArray.from_arrays(offsets, col), sep)
    for body in bodies.to_pylist():
        data = b'{"leads":[' + body + b'],"on_duplicate":"update"}'
        key = hashlib.sha256(data).hexdigest()
        fh.write(b'{"idempotency_key":"lb1-' + key.encode() + b'","body":' + data + b"}\n")
