"""Stage: append connector output to the ``records`` table, keyed by (source, source_id).

Why a separate step: the engine and the sync pipeline both work from staged records, so a
re-run or an incremental fetch only has to replace what changed. Batches go to DuckDB as
Arrow (no Python per row); a record fetched again replaces its earlier version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..errors import SourceDataError
from ..records import CANONICAL_FIELDS, to_batches
from ..workspace import Workspace

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.list_(pa.string()): "VARCHAR[]",
    pa.bool_(): "BOOLEAN",
}

RECORD_COLUMNS: tuple[str, ...] = ("source", *CANONICAL_FIELDS)


@dataclass(frozen=True)
class StageStats:
    """What one ``stage`` call did."""

    source: str
    received: int      # records the connector yielded
    staged: int        # distinct (source, source_id) written by this call
    replaced: int      # of those, how many replaced a record staged earlier
    duplicates: int    # same source_id yielded more than once in this call (last one kept)


def ensure_records_table(ws: Workspace) -> None:
    """Create ``records`` if missing (one row per (source, source_id))."""
    cols = ",\n  ".join(
        f"{name} {_DUCK_TYPES[typ]}" + (" NOT NULL" if name == "source_id" else "")
        for name, typ in CANONICAL_FIELDS.items()
    )
    ws.con.execute(f"CREATE TABLE IF NOT EXISTS records (\n  source VARCHAR NOT NULL,\n  {cols}\n)")


def stage(ws: Workspace, source: str, items: Iterable[Mapping[str, Any] | pa.RecordBatch]) -> StageStats:
    """Stage a connector's records under ``source``; same (source, source_id) replaces.

    All of it happens in one transaction: a connector that fails half-way leaves the
    workspace as it was.
    """
    if not source:
        raise ValueError("stage() needs a non-empty source name")
    ensure_records_table(ws)
    con = ws.con
    cols = list(CANONICAL_FIELDS)
    col_sql = ", ".join(cols)
    with ws.transaction():
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _lb_stage_in AS "
            f"SELECT {col_sql}, 0::BIGINT AS _batch, 0::BIGINT AS _pos FROM records LIMIT 0"
        )
        received = 0
        for number, batch in enumerate(to_batches(items)):
            if batch.num_rows == 0:
                continue
            received += batch.num_rows
            con.register("_lb_batch", batch)
            try:
                con.execute(
                    f"INSERT INTO _lb_stage_in SELECT {col_sql}, {number}, "
                    "row_number() OVER () FROM _lb_batch"
                )
            finally:
                con.unregister("_lb_batch")
        missing = con.execute(
            "SELECT count(*) FROM _lb_stage_in WHERE source_id IS NULL OR trim(source_id) = ''"
        ).fetchone()[0]
        if missing:
            raise SourceDataError(
                f"source {source!r}: {missing} record(s) have no source_id; every record needs "
                "a stable id (for files, name the id column with --id-column)",
                connector=source,
            )
        distinct = con.execute("SELECT count(DISTINCT source_id) FROM _lb_stage_in").fetchone()[0]
        duplicates = received - distinct
        latest = "_lb_stage_in"
        if duplicates:
            latest = ("(SELECT * FROM _lb_stage_in QUALIFY row_number() OVER "
                      "(PARTITION BY source_id ORDER BY _batch DESC, _pos DESC) = 1)")
        replaced = con.execute(
            "SELECT count(*) FROM records r WHERE r.source = ? AND r.source_id IN "
            "(SELECT source_id FROM _lb_stage_in)", [source]
        ).fetchone()[0]
        if replaced:
            con.execute(
                "DELETE FROM records WHERE source = ? AND source_id IN "
                "(SELECT source_id FROM _lb_stage_in)", [source]
            )
        con.execute(
            f"INSERT INTO records (source, {col_sql}) SELECT ?, {col_sql} FROM {latest}",
            [source],
        )
        con.execute("DROP TABLE _lb_stage_in")
    return StageStats(source=source, received=received, staged=distinct,
                      replaced=replaced, duplicates=duplicates)
