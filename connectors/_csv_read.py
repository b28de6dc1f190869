"""Load a CSV or JSON Lines file into a DuckDB table, and account for every line.

Why DuckDB: it parses a million rows in a fraction of a second, in parallel, and with
``store_rejects`` it keeps going past a malformed line and says where it was. Everything here
is SQL over whole tables; Python only touches the header and the (few) rejected lines.

Line numbers are the physical lines of the file (1 = the header). DuckDB reports a rejected
line by its byte offset, which we turn into a line by counting newlines; a good record's line
is the header's lines plus the lines of every record before it (good records by their
embedded newlines, rejected ones by their text) plus the blank lines before it, which DuckDB
skips silently and we find in the file. The lines must add up, or the read stops.

A CSV file is read twice, never held whole (``load_csv``, ``stream_csv``): a narrow first
pass keeps, per row, the few columns the whole-file rules need (ids, value lists), the lines
the row spans and a hash of all its values; the second streams every column in batches,
matched to the first pass by position and checked against its hash. A 1M-row export with 150
properties held whole took 2.5 GB; read this way the connector takes about 0.5 GB.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pyarrow as pa

from ..errors import SourceDataError

log = logging.getLogger("leadbridge.connectors.files")

#: Largest line (record) DuckDB accepts, bytes; a longer one is rejected with its number.
#: DuckDB's read buffer stays at its default, 16x the line limit. With 2x, an over-long line
#: crossing a buffer's end vanished without a reject (the maximum-line test in
#: tests/connectors/files).
MAX_LINE_BYTES = 32 << 20
#: The line limit of the first read (DuckDB's own default): its 32 MiB buffers, not the 512
#: MiB of the full limit, keep a streamed read of a 1M x 150 file at 0.5 GB instead of 2 GB.
#: Only a file with a longer line is read again with ``MAX_LINE_BYTES``.
FIRST_LINE_BYTES = 2 << 20
#: Bytes of values per batch of the second read (a 150-property export: ~30,000 rows).
STREAM_BATCH_BYTES = 32 << 20
_DELIMITERS = (",", "\t", ";", "|")
#: DuckDB's error types and wording -> what a user reads in the report.
_PLAIN = {
    "TOO MANY COLUMNS: Expected Number of Columns: ": "too many fields: expected ",
    "MISSING COLUMNS: Expected Number of Columns: ": "too few fields: expected ",
    "UNQUOTED VALUE: Value with unterminated quote found.":
        "broken quoting (a quote is not closed, or text follows a closing quote)",
    "INVALID ENCODING: Invalid unicode (byte sequence mismatch) detected. This file is not "
    "utf-8 encoded.": "undecodable bytes in the file's encoding (see --encoding)",
    "LINE SIZE OVER MAXIMUM": "line too long",
    " Found:": ", found",
}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class Rejected:
    """One line DuckDB could not read: where it starts, how many lines it spans, why."""

    line: int
    span: int
    reason: str


def sniff_header(path: Path, label: str) -> tuple[list[str], str, int, int]:
    """(headers, delimiter, lines up to the header's end, lines to skip before the header)
    from the UTF-8 file's first record.

    The delimiter is the candidate (comma, tab, semicolon, pipe) seen most often in the first
    line outside quotes; none at all means a one-column file. Excel's ``sep=;`` first line
    names it and is skipped.
    """
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        first = fh.readline(1 << 22)
        forced = re.fullmatch(r"sep=(.)\r?\n?", first)
        skip = 0
        if forced:
            skip, first = 1, fh.readline(1 << 22)
        if not first.strip():
            rest = fh.read(1 << 16)
            if not rest.strip():
                raise SourceDataError(f"{label} is empty: expected a header line and data lines")
            raise SourceDataError(f"{label}: line 1 is blank; the first line must be the header")
        outside = "".join(part for n, part in enumerate(first.split('"')) if n % 2 == 0)
        counts = [(outside.count(d), -n, d) for n, d in enumerate(_DELIMITERS)]
        best = max(counts)
        delim = forced.group(1) if forced else best[2] if best[0] > 0 else ","
        fh.seek(0)
        if skip:
            fh.readline(1 << 22)
        csv.field_size_limit(2**31 - 1)
        try:
            headers = next(csv.reader(fh, delimiter=delim, quotechar='"', doublequote=True,
                                      strict=False))
        except (StopIteration, csv.Error) as exc:
            raise SourceDataError(f"{label}: cannot read the header line ({exc})") from None
    spans = skip + 1 + sum(h.count("\n") for h in headers)
    return headers, delim, spans, skip


@dataclass(frozen=True)
class CsvRead:
    """How a CSV file was read, so that a second read gives the same rows in the same order."""

    #: SQL of DuckDB's ``read_csv`` call: columns ``c0..cN``, all VARCHAR
    source: str
    ncols: int
    #: the file's size and the rows of the first read, to size the second read's batches
    size: int = 0
    rows: int = 0

    @property
    def columns(self) -> list[str]:
        """The read's column names, in file order."""
        return [f"c{i}" for i in range(self.ncols)]

    @property
    def row_hash(self) -> str:
        """SQL of a hash of one row's values, the same in both reads."""
        return "hash(" + ", ".join(self.columns) + ")"

    @property
    def row_spans(self) -> str:
        """SQL of the physical lines one row spans: 1 plus the newlines in its values."""
        joined = "concat_ws(chr(1), " + ", ".join(self.columns) + ")"
        return f"(1 + length({joined}) - length(replace({joined}, chr(10), '')))"


def _csv_source(path: Path, ncols: int, delim: str, skip: int, max_line: int) -> str:
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    return (f"read_csv({_lit(str(path))}, columns={cols}, header=true, skip={int(skip)}, "
            f"delim={_lit(delim)}, quote='\"', escape='\"', auto_detect=false, "
            f"store_rejects=true, max_line_size={int(max_line)}, encoding='utf-8')")


def load_csv(con: duckdb.DuckDBPyConnection, path: Path, ncols: int, delim: str,
             skip: int = 0, keep: tuple[int, ...] = ()) -> CsvRead:
    """First pass: ``t(c<k> for k in keep, _span, _h)`` in file order (rowid), plus DuckDB's
    ``reject_errors``. ``_span`` is the lines a row spans, ``_h`` the hash of all its values.

    Read with DuckDB's default line limit (so a normal file streams with small buffers);
    a file with a line near that limit, or a record over it, with ``MAX_LINE_BYTES``. A line
    over the read's limit that crosses the end of a read buffer vanishes without a reject
    (seen with single lines of 31.5 and 33 MiB under the 2 MiB limit), so long lines are
    looked for in the file first, not only in DuckDB's rejects.
    """
    kept = "".join(f"c{k}, " for k in sorted(set(keep)))

    def first_pass(max_line: int) -> CsvRead:
        read = CsvRead(_csv_source(path, ncols, delim, skip, max_line), ncols)
        con.execute(f"CREATE OR REPLACE TABLE t AS SELECT {kept}{read.row_spans} AS _span, "
                    f"{read.row_hash} AS _h FROM {read.source}")
        rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
        return replace(read, size=path.stat().st_size, rows=rows)

    if has_long_line(path, FIRST_LINE_BYTES):  # DuckDB could lose such a line without a word
        return first_pass(MAX_LINE_BYTES)
    read = first_pass(FIRST_LINE_BYTES)
    too_long = con.execute("SELECT count(*) FROM reject_errors WHERE error_type = "
                           "'LINE SIZE OVER MAXIMUM'").fetchall()[0][0]
    if too_long:  # a record of many short lines, over the limit in all
        con.execute("DELETE FROM reject_errors")
        con.execute("DELETE FROM reject_scans")
        read = first_pass(MAX_LINE_BYTES)
    return read


def has_long_line(path: Path, limit: int, chunk: int = 8 << 20) -> bool:
    """Whether the file may hold a line of ``limit`` bytes or more: True when some line is
    at least half that long.

    Why this is cheap: a line of ``limit`` bytes contains a whole newline-free window of
    ``limit/2`` bytes at a multiple of ``limit/2`` past the chunk's first newline, so a
    ``find`` per window is enough: about a thousand per GB for DuckDB's 2 MiB limit.
    """
    half = max(1, limit // 2)
    run = 0  # bytes since the last newline, carried from chunk to chunk
    with path.open("rb") as fh:
        while data := fh.read(chunk):
            first = data.find(b"\n")
            if first == -1:
                run += len(data)
                if run >= half:
                    return True
                continue
            if run + first >= half:
                return True
            last = data.rfind(b"\n")
            for start in range(first + 1, last - half + 1, half):
                if data.find(b"\n", start, start + half) == -1:
                    return True
            run = len(data) - last - 1
    return run >= half


def stream_csv(con: duckdb.DuckDBPyConnection, read: CsvRead,
               most: int) -> Iterator[pa.RecordBatch]:
    """Second pass: every column, in file order, in batches of about ``STREAM_BATCH_BYTES``
    of values and at most ``most`` rows.

    It runs on its own cursor (a second connection to the same database), so the caller can
    query the first pass's tables between batches.
    """
    rows = max(1024, min(most, STREAM_BATCH_BYTES * max(1, read.rows) // max(1, read.size)))
    cursor = con.cursor()
    try:
        yield from cursor.sql(f"SELECT * FROM {read.source}").to_arrow_reader(rows)
    finally:
        cursor.close()


def load_lines(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """``t(j)``: one row per physical line (a blank line is NULL) of a JSON Lines file.

    A line is a record here (no quoting), so ``has_long_line`` alone picks the line limit:
    DuckDB's default, with its small read buffers, unless some line is near it.
    """
    limit = MAX_LINE_BYTES if has_long_line(path, FIRST_LINE_BYTES) else FIRST_LINE_BYTES
    con.execute(f"""
        CREATE TABLE t AS SELECT line AS j FROM read_csv({_lit(str(path))},
            columns={{'line': 'VARCHAR'}}, header=false, delim=chr(1), quote='', escape='',
            auto_detect=false, store_rejects=true, max_line_size={limit},
            encoding='utf-8')""")


def rejected_lines(con: duckdb.DuckDBPyConnection, path: Path) -> list[Rejected]:
    """Every line DuckDB rejected, with its physical line number and a readable reason."""
    rows = con.execute("""
        SELECT line_byte_position, string_agg(DISTINCT error_type || ': ' || error_message, '; '),
               any_value(csv_line)
        FROM reject_errors GROUP BY line_byte_position ORDER BY line_byte_position""").fetchall()
    if not rows:
        return []
    # DuckDB's offset is 1-based, and after blank lines its text of the line starts with
    # (some of) their newlines: the line itself starts past them
    texts = [text or "" for _, _, text in rows]
    starts = [int(pos) - 1 + len(text) - len(text.lstrip("\n"))
              for (pos, _, _), text in zip(rows, texts)]
    offsets = sorted(set(starts))  # _lines_at walks the file once, forward
    line_at = dict(zip(offsets, _lines_at(path, offsets)))
    by_line: dict[int, Rejected] = {}
    for (_, reason, _), text, start in zip(rows, texts, starts):
        span = 1 + text.strip("\r\n").count("\n")
        for word, plain in _PLAIN.items():
            reason = reason.replace(word, plain)
        line = line_at[start]
        if line in by_line:  # DuckDB's recovery may split one bad line into several rejects
            seen = by_line[line]
            parts = seen.reason.split("; ")
            parts += [part for part in reason.split("; ") if part not in parts]
            by_line[line] = Rejected(line=line, span=max(seen.span, span), reason="; ".join(parts))
        else:
            by_line[line] = Rejected(line=line, span=span, reason=reason)
    return list(by_line.values())


def _lines_at(path: Path, offsets: list[int], chunk: int = 8 << 20) -> list[int]:
    """1-based line number at each (sorted) byte offset, counting newlines in big chunks."""
    out: list[int] = []
    seen = 0
    pos = 0
    with path.open("rb") as fh:
        buf = b""
        for off in offsets:
            while pos + len(buf) < off:
                seen += buf.count(b"\n")
                pos += len(buf)
                buf = fh.read(chunk)
                if not buf:
                    break
            if pos + len(buf) >= off:
                cut = off - pos
                seen += buf.count(b"\n", 0, cut)
                buf, pos = buf[cut:], off
            out.append(seen + 1)
    return out


def number_lines(con: duckdb.DuckDBPyConnection, first_line: int, spans_sql: str,
                 gaps: list[tuple[int, int]], source: str = "t") -> None:
    """``lines(rid, line)``: the physical line each good row starts on.

    ``spans_sql`` is the SQL of the lines one good row spans (1 plus embedded newlines).
    ``gaps``: (first line, lines) of every stretch no good row covers, in file order: the
    rejected lines and the blank lines DuckDB skipped. A gap at line j sits after ``q_j``
    good lines; a good row with at least ``q_j`` good lines before it comes after it, so it
    moves down by the gap lines up to j.
    """
    if spans_sql == "1":  # one line per row: the row number is enough, no window
        good_lines = f"SELECT rowid AS rid, rowid AS before FROM {source}"
    else:
        good_lines = (f"SELECT rowid AS rid, coalesce(sum({spans_sql}) OVER (ORDER BY rowid "
                      "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before "
                      f"FROM {source}")
    qs, shifts, shift = [], [], 0
    for line, span in gaps:
        qs.append(line - first_line - shift)
        shift += span
        shifts.append(shift)
    # an Arrow table, not executemany: a file may hold a million blank lines
    rq = pa.table({"q": pa.array(qs, pa.int64()), "shift": pa.array(shifts, pa.int64())})
    con.register("_lb_rq", rq)
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE lines AS
            WITH g AS ({good_lines}),
                 r AS (SELECT q, max(shift) AS shift FROM _lb_rq GROUP BY q)
            SELECT g.rid, g.before + {int(first_line)} + coalesce(r.shift, 0) AS line
            FROM g ASOF LEFT JOIN r ON g.before >= r.q""")
    finally:
        con.unregister("_lb_rq")


@dataclass
class LineAccount:
    """Where a CSV file's physical lines went, as line numbering needs it."""

    #: (first line, lines) of every rejected line and skipped blank line, in file order
    gaps: list[tuple[int, int]]
    #: SQL of the lines a good row spans ("1" when no value holds a newline)
    spans_sql: str


def account_lines(con: duckdb.DuckDBPyConnection, path: Path, label: str, first_line: int,
                  spans_sql: str, rejects: list[Rejected], source: str = "t") -> LineAccount:
    """Check that every physical line of ``path`` is in the header, a good row, a rejected
    line or a blank line, and say where the blank lines are.

    Why: DuckDB skips blank lines without a word, so they must be counted for the line
    numbers after them to be right; and a line DuckDB dropped without a reject (seen with a
    smaller read buffer than ours) must stop the read loudly rather than vanish. Reads the
    file once; the values' newlines are counted only when the plain count does not add up.
    """
    rejects_gaps = [(r.line, r.span) for r in rejects]
    rejected = sum(r.span for r in rejects)
    physical = physical_lines(path)
    rows = con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]
    if physical == first_line - 1 + rows + rejected:
        return LineAccount(rejects_gaps, "1")  # one line per row, no blank line, none lost
    spanned = con.execute(f"SELECT coalesce(sum({spans_sql}), 0) FROM {source}").fetchall()[0][0]
    blank = physical - (first_line - 1) - spanned - rejected  # lines in no record
    empties = empty_lines(path, first_line - 1)
    if not 0 <= blank <= len(empties):  # lines lost, or a line read as two outcomes
        quoting = [r.line for r in rejects if "broken quoting" in r.reason]
        hint = (f"they follow the broken quoting at line {quoting[0]}, which the reader could "
                "not recover from line by line; fix the quotes there and read it again"
                if quoting else "please report the file")
        problem = (f"{blank - len(empties)} line(s) were neither read nor rejected"
                   if blank > 0 else f"{-blank} line(s) were both read and rejected")
        raise SourceDataError(
            f"{label}: {problem} by the CSV reader (the file has {physical} lines: "
            f"{first_line - 1} before the data, {spanned} in {rows} records, {rejected} "
            f"rejected, {len(empties)} empty). Nothing was read from it, so nothing is lost; "
            f"{hint}.")
    if blank == len(empties):
        blanks = [line for line, _ in empties]
    elif blank == 0:  # e.g. a one-column file, where DuckDB reads a blank line as a record
        blanks = []
    else:  # some empty lines lie inside quoted values: the quotes before them say which
        blanks = [line for line, inside in empties if not inside]
        if len(blanks) != blank:
            log.warning("%s: %d blank line(s) expected, %d found outside quotes; line numbers "
                        "after the first blank line may be off", label, blank, len(blanks))
    gaps = sorted(rejects_gaps + [(line, 1) for line in blanks])
    return LineAccount(gaps, "1" if spanned == rows else spans_sql)


def empty_lines(path: Path, after: int, chunk: int = 8 << 20) -> list[tuple[int, bool]]:
    """Every empty line after line ``after`` (the header's last): (its number, whether an odd
    number of double quotes comes before it in the data, i.e. it lies inside a quoted value
    and belongs to that record rather than being a blank line DuckDB skipped)."""
    out: list[tuple[int, bool]] = []
    line, quotes, prev = 1, 0, b"\n"  # as if a newline came before the file: line 1 may be empty
    with path.open("rb") as fh:
        while data := fh.read(chunk):
            buf = prev + data
            # ``at``: where the line counter and the quote count stand in ``buf``
            at, hit = len(prev), buf.find(b"\n\n")
            while hit != -1:
                end = hit + 1  # the newline that ends the empty line
                if end >= at:
                    quotes += _data_quotes(buf, at, end, line, after)
                    line += buf.count(b"\n", at, end)
                    at = end
                    if line > after:
                        out.append((line, quotes % 2 == 1))
                hit = buf.find(b"\n\n", hit + 1)
            quotes += _data_quotes(buf, at, len(buf), line, after)
            line += buf.count(b"\n", at)
            prev = buf[-1:]
    return out


def _data_quotes(buf: bytes, at: int, end: int, line: int, after: int) -> int:
    """Double quotes in ``buf[at:end]`` past line ``after`` (``line``: the line at ``at``)."""
    for _ in range(after - line + 1):  # newlines to pass before the data starts
        at = buf.find(b"\n", at, end) + 1
        if at == 0:
            return 0
    return buf.count(b'"', at, end)


def physical_lines(path: Path) -> int:
    """Lines in the (LF-only) file: newlines, plus one for a last line without one."""
    count, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")
