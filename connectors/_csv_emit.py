"""Turn a loaded file table into canonical Arrow batches plus one rejected record per bad line.

Why separate: CSV and JSON Lines differ only in how a column's value is read (``c3`` versus a
JSON pointer); ids, duplicates, line numbers, the MEGA value lists and custom fields are the
same rules, written once, in SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ..errors import SourceDataError
from ..mega_model import SOURCE_PLATFORMS, SOURCE_TYPES
from ._csv_read import LineAccount, Rejected, account_lines, number_lines
from ._headers import Mapping

#: Common spellings of MEGA's source_platform / source_type values (after slugging).
PLATFORM_WORDS = {
    "facebook": "meta_ads", "facebook_ads": "meta_ads", "instagram": "meta_ads",
    "meta": "meta_ads", "fb": "meta_ads", "adwords": "google_ads", "google_adwords": "google_ads",
    "ppc": "google_ads", "google": "google_organic", "organic": "google_organic",
    "seo": "google_organic", "website": "direct", "walk_in": "direct", "referred": "referral",
}
TYPE_WORDS = {
    "web_form": "form", "webform": "form", "website_form": "form", "phone": "phone_call",
    "call": "phone_call", "inbound_call": "phone_call", "text": "sms", "live_chat": "chat",
    "e_mail": "email", "imported": "import", "csv": "import",
}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _slug(expr: str) -> str:
    return (f"nullif(trim(regexp_replace(lower(trim({expr})), '[^a-z0-9]+', '_', 'g'), '_'), "
            "'')")


def _enum(expr: str, allowed: tuple[str, ...], words: dict[str, str]) -> str:
    """SQL of the MEGA value ``expr`` means, or NULL when it is none of them."""
    slug = _slug(expr)
    cases = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in words.items())
    allowed_sql = ", ".join(_lit(a) for a in allowed)
    return f"(CASE WHEN {slug} IN ({allowed_sql}) THEN {slug} ELSE (CASE {slug} {cases} END) END)"


ENUMS = {"source_platform": (SOURCE_PLATFORMS, PLATFORM_WORDS),
         "source_type": (SOURCE_TYPES, TYPE_WORDS)}


@dataclass
class Table:
    """How to read the loaded table ``t``: per-column SQL, which rows are records, and why
    a row is bad (SQL, NULL when good); ``first_line`` is the first data line's number."""

    value_sql: list[str]
    custom_sql: list[str]
    record_sql: str
    bad_sql: str
    spans_sql: str
    first_line: int
    rejects: list[Rejected] = field(default_factory=list)
    #: The (UTF-8, LF) file whose every line must be accounted for (CSV), and its label.
    lines_path: Path | None = None
    label: str = ""
    #: A second read of every column, in ``t``'s order, in batches of at most n rows; when
    #: given, ``t`` holds only the columns of ``whole_file_columns`` plus ``_h``, the hash of
    #: a row's values (``row_hash``, the same SQL over a batch), checked row by row.
    stream: Callable[[int], Iterator[pa.RecordBatch]] | None = None
    row_hash: str = ""
    #: The FROM items the per-column SQL reads, aliased ``t`` (keeping ``t``'s ``rowid``):
    #: ``rows_sql`` for every column, ``rule_rows_sql`` for those of ``whole_file_columns``.
    #: JSON Lines parse each line once there (all keys, or only the rules' few).
    rows_sql: str = "t"
    rule_rows_sql: str = "t"


def whole_file_columns(m: Mapping) -> tuple[int, ...]:
    """The columns ``emit``'s whole-file rules read: the id (empty and duplicate ids) and the
    columns of MEGA's value lists (their distinct values). A streamed read keeps only these."""
    cols = set() if m.id_column is None else {m.id_column}
    for name in ENUMS:
        if name in m.fields:
            cols |= {m.fields[name], *m.fallbacks.get(name, ())}
    return tuple(sorted(cols))


def emit(con: duckdb.DuckDBPyConnection, m: Mapping, tab: Table, batch_size: int,
         platform: str | None = None) -> Iterator[pa.RecordBatch | dict[str, Any]]:
    """Good rows as Arrow batches, then one rejected record per bad line.

    ``platform``: the source_platform of rows whose own column is missing or not a MEGA value.
    """
    id_sql = (f"nullif(trim({tab.value_sql[m.id_column]}), '')"
              if m.id_column is not None else None)
    bad_parts = [f"SELECT rowid AS rid, {tab.bad_sql} AS reason, NULL AS keep "
                 f"FROM {tab.rule_rows_sql} WHERE {tab.record_sql} AND ({tab.bad_sql}) IS NOT NULL"]
    if id_sql is not None:
        header = m.headers[m.id_column]
        bad_parts.append(
            f"SELECT rowid, {_lit(f'empty id (column {header!r})')}, NULL "
            f"FROM {tab.rule_rows_sql} "
            f"WHERE {tab.record_sql} AND ({tab.bad_sql}) IS NULL AND {id_sql} IS NULL")
        ok = f"{tab.record_sql} AND ({tab.bad_sql}) IS NULL AND {id_sql} IS NOT NULL"
        rows, distinct = con.execute(f"SELECT count(*), count(DISTINCT {id_sql}) "
                                     f"FROM {tab.rule_rows_sql} WHERE {ok}").fetchall()[0]
        if rows != distinct:
            bad_parts.append(f"""
                SELECT rid, 'duplicate id ' || to_json(id) || ': a later line has the same id and is kept',
                       first_rid FROM (
                  SELECT rowid AS rid, {id_sql} AS id, row_number() OVER w AS n,
                         first_value(rowid) OVER w AS first_rid
                  FROM {tab.rule_rows_sql} WHERE {ok}
                  WINDOW w AS (PARTITION BY {id_sql} ORDER BY rowid DESC)) WHERE n > 1""")
    con.execute("CREATE OR REPLACE TEMP TABLE bad AS " + " UNION ALL ".join(bad_parts))
    bad_count = con.execute("SELECT count(*) FROM bad").fetchall()[0][0]
    if tab.lines_path is not None:  # before anything is emitted: a lost line stops the read
        account = account_lines(con, tab.lines_path, tab.label, tab.first_line, tab.spans_sql,
                                tab.rejects)
    else:  # one row per physical line (JSON Lines): only the rejects are gaps
        account = LineAccount([(r.line, r.span) for r in tab.rejects], tab.spans_sql)
    need_lines = id_sql is None or bad_count > 0
    if need_lines:
        number_lines(con, tab.first_line, account.spans_sql, account.gaps)
    line_sql = "lines.line" if tab.stream is None else "t._line"
    cols = [f"{id_sql if id_sql else f'CAST({line_sql} AS VARCHAR)'} AS source_id"]
    custom = [(m.custom[i], tab.custom_sql[i]) for i in sorted(m.custom)]
    joins = []
    for name, i in m.fields.items():
        expr = tab.value_sql[i]
        if m.fallbacks.get(name):  # a second "Mobile" column fills an empty "Phone"
            alts = [tab.value_sql[j] for j in [i, *m.fallbacks[name]]]
            expr = "coalesce(" + ", ".join(f"nullif(trim({a}), '')" for a in alts) + ")"
        if name in ENUMS:
            # few distinct values: slug them once in a lookup table, join it back
            allowed, words = ENUMS[name]
            value = _enum("raw", allowed, words)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _enum_{name} AS SELECT raw, {value} AS val "
                        f"FROM (SELECT DISTINCT {expr} AS raw FROM {tab.rule_rows_sql} "
                        f"WHERE {tab.record_sql})")
            joins.append(f"LEFT JOIN _enum_{name} ON _enum_{name}.raw = {expr}")
            key = m.headers[i].strip() or name
            while key.casefold() in {k.casefold() for k, _ in custom}:
                key += " (raw)"  # a custom column already has this name
            custom.append((key, f"CASE WHEN _enum_{name}.val IS NULL THEN {expr} END"))
            expr = f"_enum_{name}.val"
        if name == "source_platform" and platform:
            expr = f"coalesce({expr}, {_lit(platform)})"
        cols.append(f"{expr} AS {name}")
    if platform and "source_platform" not in m.fields:
        cols.append(f"{_lit(platform)} AS source_platform")
    if custom:
        args = ", ".join(f"{_lit(k)}, {v}" for k, v in custom)
        cols.append(f"json_object({args}) AS custom_fields")
    bad_rows = con.execute("""
        SELECT l.line, b.reason, k.line FROM bad b JOIN lines l ON l.rid = b.rid
        LEFT JOIN lines k ON k.rid = b.keep ORDER BY l.line""").fetchall() if bad_count else []
    if tab.stream is None:
        if need_lines:
            joins.append("LEFT JOIN lines ON lines.rid = t.rowid")
        anti = "AND t.rowid NOT IN (SELECT rid FROM bad)" if bad_count else ""
        # no ORDER BY: nothing downstream depends on the order (ids are unique by now) and
        # sorting a million rows would cost more than reading them
        sql = (f"SELECT {', '.join(cols)} FROM {tab.rows_sql} {' '.join(joins)} "
               f"WHERE {tab.record_sql} {anti}")
        batches: Iterator[pa.RecordBatch] = con.sql(sql).to_arrow_reader(batch_size)
    else:  # a CSV file, read a second time
        sql = (f"SELECT {', '.join(cols)} FROM _lb_batch t {' '.join(joins)} "
               f"WHERE {tab.record_sql} AND NOT t._bad")
        batches = _streamed(con, tab, sql, need_lines, bad_count > 0, batch_size, tab.stream)
    for batch in batches:
        if batch.num_rows:
            yield batch
    for line, reason, kept in bad_rows:
        if kept is not None:
            reason = reason.replace("a later line", f"line {kept}")
        yield {"source_id": f"line:{line}", "reject_reason": f"line {line}: {reason}"}
    for r in tab.rejects:
        yield {"source_id": f"line:{r.line}", "reject_reason": f"line {r.line}: {r.reason}"}


def _streamed(con: duckdb.DuckDBPyConnection, tab: Table, sql: str, need_lines: bool,
              any_bad: bool, batch_size: int,
              stream: Callable[[int], Iterator[pa.RecordBatch]]) -> Iterator[pa.RecordBatch]:
    """Run ``sql`` over each batch of the second read, as ``_lb_batch``.

    Each batch carries the first read's facts about its rows, matched by position: ``_h``
    (checked against the batch's own values, so a row is never given another row's line or
    id), ``_line`` and ``_bad``. A file that reads differently the second time (it changed
    while being read) stops the read before any row of the batch is given.
    """
    facts = con.sql(
        f"SELECT t._h, {'lines.line' if need_lines else 'NULL::BIGINT'} AS _line, "
        f"{'t.rowid IN (SELECT rid FROM bad)' if any_bad else 'false'} AS _bad FROM t "
        f"{'LEFT JOIN lines ON lines.rid = t.rowid' if need_lines else ''} "
        "ORDER BY t.rowid").to_arrow_table()
    pos = 0
    for raw in stream(batch_size):
        n = raw.num_rows
        if pos + n > len(facts):
            raise _changed(tab.label, pos, n)
        batch = pa.Table.from_batches([raw])
        for name in facts.column_names:
            batch = batch.append_column(name, facts[name].slice(pos, n))
        con.register("_lb_batch", batch)
        try:
            if con.execute(f"SELECT count(*) FROM _lb_batch WHERE _h IS DISTINCT FROM "
                           f"{tab.row_hash}").fetchall()[0][0]:
                raise _changed(tab.label, pos, n)
            yield from con.sql(sql).to_arrow_reader(batch_size)
        finally:
            con.unregister("_lb_batch")
        pos += n
    if pos != len(facts):
        raise _changed(tab.label, pos, 0)


def _changed(label: str, pos: int, n: int) -> SourceDataError:
    where = f"records {pos + 1}-{pos + n}" if n else f"{pos} records instead of the first read's"
    return SourceDataError(
        f"{label} read differently the second time ({where}): did it change while being read? "
        "The read stopped; read it again once nothing writes to the file.")
