"""Stage: append connector output to the ``records`` table, keyed by (source, source_id).

Why a separate step: the engine and the sync pipeline both work from staged records, so a
re-run or an incremental fetch only has to replace what changed. Batches go to DuckDB as
Arrow (no Python per row); a record fetched again replaces its earlier version.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import SourceDataError
from ..records import CANONICAL_FIELDS, CANONICAL_SCHEMA, to_batches
from ..workspace import Workspace

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.list_(pa.string()): "VARCHAR[]",
    pa.bool_(): "BOOLEAN",
}

RECORD_COLUMNS: tuple[str, ...] = ("source", *CANONICAL_FIELDS)
#: what ``stage`` hands DuckDB: the canonical columns plus each record's place in the stream
_STREAM = CANONICAL_SCHEMA.append(pa.field("_pos", pa.int64()))


@dataclass(frozen=True)
class StageStats:
    """What one ``stage`` call did."""

    source: str
    received: int      # records the connector yielded
    staged: int        # distinct (source, source_id) written by this call
    replaced: int      # of those, how many replaced a record staged earlier
    duplicates: int    # same source_id yielded more than once in this call (last one kept)


def ensure_records_table(ws: Workspace) -> None:
    """Create ``records`` if missing (one row per (source, source_id)).

    ``stage_seq`` numbers the ``stage`` call that wrote a row (replacement bookkeeping),
    ``stage_pos`` its place in that call's stream (the last duplicate wins).
    """
    cols = ",\n  ".join(
        f"{name} {_DUCK_TYPES[typ]}" + (" NOT NULL" if name == "source_id" else "")
        for name, typ in CANONICAL_FIELDS.items()
    )
    ws.con.execute(f"CREATE TABLE IF NOT EXISTS records (\n  source VARCHAR NOT NULL,\n  {cols},"
                   "\n  stage_seq BIGINT,\n  stage_pos BIGINT\n)")
    # workspaces made before stage_pos existed (their rows never need it again)
    ws.con.execute("ALTER TABLE records ADD COLUMN IF NOT EXISTS stage_pos BIGINT")


def stage(ws: Workspace, source: str, items: Iterable[Mapping[str, Any] | pa.RecordBatch]) -> StageStats:
    """Stage a connector's records under ``source``; same (source, source_id) replaces.

    The whole stream goes to DuckDB in one INSERT from an Arrow reader (no Python per row,
    no statement per batch). All of it happens in one transaction: a connector that fails
    half-way leaves the workspace as it was.
    """
    if not source:
        raise ValueError("stage() needs a non-empty source name")
    ensure_records_table(ws)
    con = ws.con
    cols = list(CANONICAL_FIELDS)
    col_sql = ", ".join(cols)
    with ws.transaction():
        seq = con.execute("SELECT coalesce(max(stage_seq), 0) + 1 FROM records").fetchall()[0][0]
        had_source = con.execute(
            "SELECT count(*) FROM records WHERE source = ?", [source]).fetchall()[0][0] > 0
        missing = [0]
        failures: list[BaseException] = []

        def counted() -> Iterator[pa.RecordBatch]:
            position = 0
            try:
                for batch in to_batches(items):
                    ids = pc.utf8_trim_whitespace(batch.column("source_id"))
                    missing[0] += ids.null_count + (pc.sum(pc.equal(ids, "")).as_py() or 0)
                    # each record's place in the stream travels with it, so the INSERT need
                    # not keep the stream's order (an order-keeping INSERT cost ~0.8 CPU s
                    # per million records)
                    pos = pa.array(range(position, position + batch.num_rows), pa.int64())
                    position += batch.num_rows
                    yield pa.RecordBatch.from_arrays([*batch.columns, pos], schema=_STREAM)
            except BaseException as exc:  # surfaced as itself, not as a DuckDB stream error
                failures.append(exc)
                raise

        reader = pa.RecordBatchReader.from_batches(_STREAM, counted())
        con.register("_lb_reader", reader)
        try:
            con.execute(f"INSERT INTO records (source, {col_sql}, stage_seq, stage_pos) "
                        f"SELECT ?, {col_sql}, {int(seq)}, _pos FROM _lb_reader "
                        "WHERE source_id IS NOT NULL AND trim(source_id) <> ''", [source])
        except duckdb.Error:
            if failures:
                raise failures[0] from None
            raise
        finally:
            try:
                con.unregister("_lb_reader")
            except duckdb.Error:  # aborted transaction: the rollback below cleans up
                pass
        received, distinct = con.execute(
            "SELECT count(*), count(DISTINCT source_id) FROM records WHERE stage_seq = ?", [seq]
        ).fetchall()[0]
        if missing[0]:
            raise SourceDataError(
                f"source {source!r}: {missing[0]} record(s) have no source_id; every record needs "
                "a stable id (for files, name the id column with --id-column)",
                connector=source,
            )
        duplicates = received - distinct
        if duplicates:  # the last one yielded wins
            con.execute("""
                DELETE FROM records WHERE stage_seq = ? AND stage_pos NOT IN (
                  SELECT max(stage_pos) FROM records WHERE stage_seq = ? GROUP BY source_id)""",
                        [seq, seq])
        replaced = 0
        if had_source:
            replaced = con.execute("""
                SELECT count(*) FROM records WHERE source = ? AND stage_seq < ? AND source_id IN
                (SELECT source_id FROM records WHERE stage_seq = ?)""", [source, seq, seq]
            ).fetchone()[0]
            if replaced:
                con.execute("""
                    DELETE FROM records WHERE source = ? AND stage_seq < ? AND source_id IN
                    (SELECT source_id FROM records WHERE stage_seq = ?)""", [source, seq, seq])
    return StageStats(source=source, received=received, staged=distinct,
                      replaced=replaced, duplicates=duplicates)
