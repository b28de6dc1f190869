"""Golden rows out of the workspace: as dicts (for the pipeline) or as bulk chunks.

``sql_chunks`` assembles each 500-row body in SQL from the precomputed row JSON — the same
bytes ``chunking.make_chunks(golden_rows(ws))`` produces (checked in tests/properties) —
so millions of rows need no Python per row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from ..chunking import Chunk, idempotency_key
from ..mega_model import BULK_ENDPOINT, BULK_MAX_ROWS, ON_DUPLICATE
from ..workspace import Workspace

GOLDEN_FIELDS: tuple[str, ...] = (
    "row_ref", "contact_name", "contact_email", "contact_phone", "source_platform",
    "source_type", "stage_slug", "owner_id", "lead_line", "custom_fields", "email_key",
    "phone_key", "content_hash", "sort_key",
)


def _selected(ws: Workspace, row_refs: Iterable[str] | None) -> str:
    if row_refs is None:
        return "golden"
    ws.con.register("_lb_refs", pa.table({"row_ref": pa.array(list(row_refs), pa.string())}))
    return "(SELECT * FROM golden SEMI JOIN _lb_refs USING (row_ref))"


def golden_rows(ws: Workspace, row_refs: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Golden rows in the deterministic order (sort_key), custom_fields as a dict."""
    source = _selected(ws, row_refs)
    try:
        table = ws.con.sql(
            f"SELECT {', '.join(GOLDEN_FIELDS)} FROM {source} ORDER BY sort_key"
        ).to_arrow_table()
    finally:
        if row_refs is not None:
            ws.con.unregister("_lb_refs")
    rows = table.to_pylist()
    for row in rows:
        row["custom_fields"] = json.loads(row["custom_fields"]) if row["custom_fields"] else None
    return rows


def iter_chunk_bodies(
    ws: Workspace,
    row_refs: Iterable[str] | None = None,
    *,
    on_duplicate: str = "update",
    dry_run: bool = False,
    size: int = BULK_MAX_ROWS,
    with_refs: bool = True,
) -> Iterator[tuple[int, str, list[str]]]:
    """(index, body text, row_refs) per chunk, bodies built in SQL, in order.

    ``with_refs=False`` leaves row_refs empty (a file writer needs only the bodies: listing
    every row_ref costs an ordered aggregate and a Python string per row)."""
    if on_duplicate not in ON_DUPLICATE:
        raise ValueError(f"on_duplicate must be one of {ON_DUPLICATE}")
    if not 1 <= int(size) <= BULK_MAX_ROWS:
        raise ValueError(f"chunk size must be 1..{BULK_MAX_ROWS}")
    tail = ('],"on_duplicate":' + json.dumps(on_duplicate) + "}")
    head = '{"dry_run":true,"leads":[' if dry_run else '{"leads":['
    step = int(size)
    if row_refs is None:
        source, numbering = "golden", "sort_key"  # dense 1..N over the whole table
    else:
        ws.con.register("_lb_refs", pa.table({"row_ref": pa.array(list(row_refs), pa.string())}))
        ws.con.execute("""CREATE OR REPLACE TEMP TABLE _lb_subset AS
            SELECT row_number() OVER (ORDER BY sort_key) AS n, row_json, row_ref
            FROM golden SEMI JOIN _lb_refs USING (row_ref)""")
        ws.con.unregister("_lb_refs")
        source, numbering = "_lb_subset", "n"
    total = ws.con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]
    refs = f"list(row_ref ORDER BY {numbering})" if with_refs else "[]::VARCHAR[]"
    # a bounded window of chunks per query keeps memory flat at any size
    per_query = max(1, 100_000 // step)
    try:
        for first in range(0, total, per_query * step):
            rows = ws.con.execute(f"""
                SELECT ({numbering} - 1) // {step} AS chunk,
                       ? || string_agg(row_json, ',' ORDER BY {numbering}) || ? AS body,
                       {refs} AS refs
                FROM {source} WHERE {numbering} > ? AND {numbering} <= ?
                GROUP BY chunk ORDER BY chunk""",
                [head, tail, first, first + per_query * step]).fetchall()
            yield from rows
    finally:
        if row_refs is not None:
            ws.con.execute("DROP TABLE IF EXISTS _lb_subset")


def sql_chunks(
    ws: Workspace,
    customer_id: str,
    row_refs: Iterable[str] | None = None,
    *,
    on_duplicate: str = "update",
    dry_run: bool = False,
    size: int = BULK_MAX_ROWS,
    with_refs: bool = True,
) -> Iterator[Chunk]:
    """Chunks identical to ``make_chunks(golden_rows(ws, row_refs), ...)``, built in SQL
    (``with_refs=False``: bodies and keys only, ``Chunk.row_refs`` empty)."""
    for index, body, refs in iter_chunk_bodies(ws, row_refs, on_duplicate=on_duplicate,
                                               dry_run=dry_run, size=size,
                                               with_refs=with_refs):
        data = body.encode()
        yield Chunk(index=index, body=data,
                    idempotency_key=idempotency_key(customer_id, BULK_ENDPOINT, data),
                    row_refs=tuple(refs))
