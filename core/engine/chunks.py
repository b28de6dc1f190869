"""Golden rows out of the workspace: as dicts (for the pipeline) or as bulk chunks.

``sql_chunks`` assembles each 500-row body from the row JSON built in SQL — the same
bytes ``chunking.make_chunks(golden_rows(ws))`` produces (checked in tests/properties) —
so millions of rows need no Python per row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..chunking import Chunk, idempotency_key
from ..mega_model import BULK_ENDPOINT, BULK_MAX_ROWS, ON_DUPLICATE
from ..workspace import Workspace
from .golden import row_json_sql

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
    return list(iter_golden_rows(ws, row_refs))


#: Golden rows fetched from DuckDB per query while streaming them: about SLICE_BYTES of row
#: JSON, at most SLICE_ROWS rows (rows of 150 custom fields are ten times the usual size).
SLICE_BYTES = 16 << 20
SLICE_ROWS = 100_000
#: The numbered (narrow) list of the rows a stream reads (one stream per connection at a time).
_STREAM = "_lb_golden_stream"


def iter_golden_rows(ws: Workspace, row_refs: Iterable[str] | None = None, *,
                     batch_rows: int = 10_000,
                     without: str | None = None) -> Iterator[dict[str, Any]]:
    """``golden_rows`` one batch of dicts at a time.

    The rows to stream are numbered in order in a narrow temp table (their sort keys) before
    the first is yielded, then fetched from ``golden`` a slice at a time (``SLICE_BYTES`` of
    row JSON, at most ``SLICE_ROWS`` rows): the connection is free for other statements
    between slices (none may rebuild ``golden`` meanwhile), and only one slice is Arrow at
    once, ``batch_rows`` of it Python dicts. Fetched whole, the 3.3M golden rows of a
    5M-record plan held 1.1 GB of Arrow outside DuckDB's cap; numbered with their payload,
    the window held every wide row in DuckDB's memory (out of memory under a small cap).

    ``without``: a table with a ``row_ref`` column whose rows are left out (a caller that
    dealt with them in SQL); each row then also carries ``ord``, its 0-based place in the
    order of every golden row.
    """
    source = _selected(ws, row_refs)
    if without is not None:
        source = f"{source} ANTI JOIN {without} USING (row_ref)"
    try:
        ws.con.execute(f"CREATE OR REPLACE TEMP TABLE {_STREAM} AS SELECT sort_key, "
                       f"row_number() OVER (ORDER BY sort_key) AS _n FROM {source}")
    finally:
        if row_refs is not None:
            ws.con.unregister("_lb_refs")
    (count,), = ws.con.execute(f"SELECT count(*) FROM {_STREAM}").fetchall()
    fields = ", ".join(f"g.{f}" for f in GOLDEN_FIELDS)
    if without is not None:  # sort_key is dense 1..N over golden, as iter_chunk_bodies relies
        fields += ", g.sort_key - 1 AS ord"
    step = _window_rows(ws, "golden", row_json_sql(), 1, budget=SLICE_BYTES, most=SLICE_ROWS)
    return _slices(ws, fields, count, step, batch_rows)


def _slices(ws: Workspace, fields: str, count: int, step: int, batch_rows: int
            ) -> Iterator[dict[str, Any]]:
    for start in range(0, count, step):
        table = ws.con.sql(
            f"SELECT {fields} FROM golden g JOIN (SELECT sort_key, _n FROM {_STREAM} "
            f"WHERE _n > {start} AND _n <= {start + step}) s USING (sort_key) "
            "ORDER BY s._n").to_arrow_table()
        yield from _dicts(table, batch_rows)
    ws.con.execute(f"DROP TABLE IF EXISTS {_STREAM}")


def _dicts(table: pa.Table, batch_rows: int) -> Iterator[dict[str, Any]]:
    for start in range(0, table.num_rows, batch_rows):
        rows = table.slice(start, batch_rows).to_pylist()
        for row in rows:
            row["custom_fields"] = (json.loads(row["custom_fields"]) if row["custom_fields"]
                                    else None)
        yield from rows


#: The chunk writer's window: about this many bytes of row JSON, at most MAX_WINDOW_ROWS rows.
#: A window is held about four times over (rows, joined, bodies, Python bytes); counted in
#: rows alone, a window of 200,000 rows with 150 custom fields each took 2.7 GB.
WINDOW_BYTES = 64 << 20
MAX_WINDOW_ROWS = 200_000


def _window_rows(ws: Workspace, source: str, row_json: str, step: int, *,
                 budget: int | None = None, most: int | None = None) -> int:
    """Rows per window (``budget`` bytes of row JSON, at most ``most`` rows; the chunk
    writer's by default), whole steps, from the mean row JSON size of a fixed sample."""
    (mean,), = ws.con.execute(
        f"SELECT avg(strlen({row_json})) FROM "
        f"(SELECT * FROM {source} USING SAMPLE reservoir(1000 ROWS) REPEATABLE (7))").fetchall()
    rows = min(most or MAX_WINDOW_ROWS,
               int((budget or WINDOW_BYTES) / max(1.0, float(mean or 1.0))))
    return max(1, rows // step) * step


def iter_chunk_bodies(
    ws: Workspace,
    row_refs: Iterable[str] | None = None,
    *,
    on_duplicate: str = "update",
    dry_run: bool = False,
    size: int = BULK_MAX_ROWS,
    with_refs: bool = True,
) -> Iterator[tuple[int, bytes, list[str]]]:
    """(index, body bytes, row_refs) per chunk, in order (row JSON from SQL, joined in Arrow).

    ``with_refs=False`` leaves row_refs empty (a file writer needs only the bodies: listing
    every row_ref costs a Python string per row)."""
    if on_duplicate not in ON_DUPLICATE:
        raise ValueError(f"on_duplicate must be one of {ON_DUPLICATE}")
    if not 1 <= int(size) <= BULK_MAX_ROWS:
        raise ValueError(f"chunk size must be 1..{BULK_MAX_ROWS}")
    tail = ('],"on_duplicate":' + json.dumps(on_duplicate) + "}")
    head = '{"dry_run":true,"leads":[' if dry_run else '{"leads":['
    opening, closing, comma, empty = (pa.scalar(text.encode(), pa.large_binary())
                                      for text in (head, tail, ",", ""))
    step = int(size)
    if row_refs is None:
        source, numbering = "golden", "sort_key"  # dense 1..N over the whole table
    else:
        ws.con.register("_lb_refs", pa.table({"row_ref": pa.array(list(row_refs), pa.string())}))
        ws.con.execute(f"""CREATE OR REPLACE TEMP TABLE _lb_subset AS
            SELECT row_number() OVER (ORDER BY sort_key) AS n, {row_json_sql()} AS row_json,
                   row_ref
            FROM golden SEMI JOIN _lb_refs USING (row_ref)""")
        ws.con.unregister("_lb_refs")
        source, numbering = "_lb_subset", "n"
    total = ws.con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]
    # a bounded window of whole chunks per query keeps memory flat at any size; inside it
    # Arrow orders the rows and joins every chunk's rows in one vectorized call (an ordered
    # string_agg per chunk runs on one thread, and Python string work per chunk adds up)
    # the row JSON is built here from golden's columns (golden does not store it)
    row_json = "row_json" if row_refs is not None else row_json_sql()
    window = _window_rows(ws, source, row_json, step)
    columns = f"{numbering} AS n, {row_json} AS row_json" + (", row_ref" if with_refs else "")
    try:
        for first in range(0, total, window):
            table = ws.con.sql(f"SELECT {columns} FROM {source} WHERE {numbering} > $a "
                               f"AND {numbering} <= $b ORDER BY n",
                               params={"a": first, "b": first + window}).to_arrow_table()
            rows = table.column("row_json").combine_chunks().cast(pa.large_binary())
            offsets = pa.array([*range(0, len(rows), step), len(rows)], pa.int64())
            joined = pc.binary_join(pa.LargeListArray.from_arrays(offsets, rows), comma)
            bodies = pc.binary_join_element_wise(opening, joined, closing, empty)
            refs: list[str] = []
            if with_refs:
                refs = table.column("row_ref").to_pylist()
            for index, body in enumerate(bodies.to_pylist()):
                at = index * step
                yield first // step + index, body, refs[at:at + step]
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
        yield Chunk(index=index, body=body,
                    idempotency_key=idempotency_key(customer_id, BULK_ENDPOINT, body),
                    row_refs=tuple(refs))
