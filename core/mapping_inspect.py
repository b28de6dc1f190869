"""What a source holds, for ``leadbridge map``: its fields and the distinct values that need
mapping (stages, owners, lead lines, enums, tags), each with how many records carry it.

Why counted in DuckDB over the Arrow stream: a source can hold millions of records; the
profile is a handful of GROUP BYs, never a Python loop per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from .records import CANONICAL_FIELDS, to_batches

#: Canonical columns whose distinct values ``map`` proposes mappings for.
VALUE_COLUMNS: tuple[str, ...] = ("stage", "owner", "lead_line", "source_platform",
                                  "source_type")
#: Custom-field keys whose values look like tags (a list, or a comma-separated string).
TAG_KEYS: tuple[str, ...] = ("tags", "tag", "labels")
#: Keys with at most this many distinct values get their values listed (lead-line hints).
SMALL_DOMAIN = 20


@dataclass
class Profile:
    """Counts over the records read (``records``; ``limit`` says when reading stopped early)."""

    records: int = 0
    limited: bool = False
    #: canonical field -> records with a non-empty value
    fields: dict[str, int] = field(default_factory=dict)
    #: custom-field key (the source's own field name) -> records with a non-empty value
    custom_fields: dict[str, int] = field(default_factory=dict)
    #: column -> [(value, count)] most frequent first
    values: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    #: custom key -> [(value, count)] for keys with a small set of values
    custom_values: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    #: tag key -> [(tag, count)]
    tags: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    rejected: int = 0


def profile(items: Iterable[Mapping[str, Any] | pa.RecordBatch], *,
            limit: int | None = None) -> Profile:
    """Read a connector's records (all, or the first ``limit``) and count what needs mapping."""
    batches: list[pa.RecordBatch] = []
    seen = 0
    limited = False
    for batch in to_batches(items):
        if limit is not None and seen + batch.num_rows > limit:
            batch = batch.slice(0, limit - seen)
            limited = True
        batches.append(batch)
        seen += batch.num_rows
        if limited or (limit is not None and seen >= limit):
            limited = True
            break
    from .records import CANONICAL_SCHEMA

    table = pa.Table.from_batches(batches, schema=CANONICAL_SCHEMA)
    con = duckdb.connect()
    try:
        con.register("lb_profile", table)
        return _count(con, table.num_rows, limited)
    finally:
        con.close()


def _count(con: duckdb.DuckDBPyConnection, n: int, limited: bool) -> Profile:
    out = Profile(records=n, limited=limited)
    scalar = [k for k, t in CANONICAL_FIELDS.items()
              if t == pa.string() and k not in ("custom_fields", "reject_reason")]
    counts = con.execute("SELECT " + ", ".join(
        f"count(*) FILTER (nullif(trim(\"{k}\"), '') IS NOT NULL)" for k in scalar)
        + ", count(*) FILTER (reject_reason IS NOT NULL) FROM lb_profile").fetchall()[0]
    out.fields = {k: int(c) for k, c in zip(scalar, counts) if c}
    out.rejected = int(counts[-1])
    for col in VALUE_COLUMNS:
        rows = con.execute(
            f"SELECT trim(\"{col}\") AS v, count(*) AS c FROM lb_profile "
            f"WHERE nullif(trim(\"{col}\"), '') IS NOT NULL GROUP BY v ORDER BY c DESC, v"
        ).fetchall()
        if rows:
            out.values[col] = [(str(v), int(c)) for v, c in rows]
    con.execute("""
        CREATE TEMP TABLE lb_kv AS
        SELECT k, json_extract_string(cf, '/' || replace(replace(k, '~', '~0'), '/', '~1')) AS v
        FROM (SELECT custom_fields AS cf FROM lb_profile
              WHERE json_valid(custom_fields) AND json_type(custom_fields) = 'OBJECT'),
             unnest(json_keys(cf)) AS u(k)""")
    rows = con.execute("SELECT k, count(*) FILTER (nullif(trim(v), '') IS NOT NULL "
                       "AND v NOT IN ('[]', '{}')) FROM lb_kv GROUP BY k ORDER BY k").fetchall()
    out.custom_fields = {str(k): int(c) for k, c in rows}
    small = con.execute(
        "SELECT k FROM lb_kv WHERE nullif(trim(v), '') IS NOT NULL GROUP BY k "
        f"HAVING count(DISTINCT v) <= {SMALL_DOMAIN}").fetchall()
    for (key,) in small:
        vals = con.execute("SELECT trim(v), count(*) FROM lb_kv WHERE k = ? AND "
                           "nullif(trim(v), '') IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1",
                           [key]).fetchall()
        out.custom_values[str(key)] = [(str(v), int(c)) for v, c in vals]
    for key in out.custom_fields:
        if key.strip().lower() not in TAG_KEYS:
            continue
        tags = con.execute("""
            SELECT trim(t), count(*) FROM (
              SELECT unnest(CASE WHEN json_valid(v) AND json_type(v) = 'ARRAY'
                                 THEN CAST(json_extract_string(v, '$[*]') AS VARCHAR[])
                                 ELSE string_split(v, ',') END) AS t
              FROM lb_kv WHERE k = ? AND v IS NOT NULL)
            WHERE nullif(trim(t), '') IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1""",
                           [key]).fetchall()
        if tags:
            out.tags[key] = [(str(t), int(c)) for t, c in tags]
    return out
