"""Load a CSV or JSON Lines file into a DuckDB table, and account for every line.

Why DuckDB: it parses a million rows in a fraction of a second, in parallel, and with
``store_rejects`` it keeps going past a malformed line and says where it was. Everything here
is SQL over whole tables; Python only touches the header and the (few) rejected lines.

Line numbers are the physical lines of the file (1 = the header). DuckDB reports a rejected
line by its byte offset, which we turn into a line by counting newlines; a good record's line
is the header's lines plus the lines of every record before it (good records by their
embedded newlines, rejected ones by their text).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..errors import SourceDataError

#: Largest line (record) DuckDB accepts, bytes; a longer one is rejected with its number.
#: DuckDB's read buffer stays at its default, 16x this: 512 MiB (loading a 5M-line file peaks
#: at 1.48 GB with it, 1.1 GB with 2x). With 2x, an over-long line crossing a buffer's end
#: vanished without a reject (the maximum-line test in tests/connectors/files).
MAX_LINE_BYTES = 32 << 20
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


def load_csv(con: duckdb.DuckDBPyConnection, path: Path, ncols: int, delim: str,
             skip: int = 0) -> None:
    """``t(c0..cN)`` all VARCHAR in file order (rowid), plus DuckDB's ``reject_errors``."""
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    con.execute(f"""
        CREATE TABLE t AS SELECT * FROM read_csv({_lit(str(path))}, columns={cols},
            header=true, skip={int(skip)}, delim={_lit(delim)}, quote='"', escape='"', auto_detect=false,
            store_rejects=true, max_line_size={MAX_LINE_BYTES}, encoding='utf-8')""")


def load_lines(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """``t(j)``: one row per physical line (a blank line is NULL) of a JSON Lines file."""
    con.execute(f"""
        CREATE TABLE t AS SELECT line AS j FROM read_csv({_lit(str(path))},
            columns={{'line': 'VARCHAR'}}, header=false, delim=chr(1), quote='', escape='',
            auto_detect=false, store_rejects=true, max_line_size={MAX_LINE_BYTES},
            encoding='utf-8')""")


def rejected_lines(con: duckdb.DuckDBPyConnection, path: Path) -> list[Rejected]:
    """Every line DuckDB rejected, with its physical line number and a readable reason."""
    rows = con.execute("""
        SELECT line_byte_position, string_agg(DISTINCT error_type || ': ' || error_message, '; '),
               any_value(csv_line)
        FROM reject_errors GROUP BY line_byte_position ORDER BY line_byte_position""").fetchall()
    if not rows:
        return []
    lines = _lines_at(path, [int(r[0]) for r in rows])
    out = []
    for (_, reason, text), line in zip(rows, lines):
        text = text or ""
        span = 1 + text.rstrip("\r\n").count("\n")
        for word, plain in _PLAIN.items():
            reason = reason.replace(word, plain)
        out.append(Rejected(line=line, span=span, reason=reason))
    return out


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
                 rejects: list[Rejected], source: str = "t") -> None:
    """``lines(rid, line)``: the physical line each good row starts on.

    ``spans_sql`` is the SQL of the lines one good row spans (1 plus embedded newlines).
    A rejected line j sits after ``q_j`` good lines; a good row with at least ``q_j`` good
    lines before it comes after it, so it moves down by the rejected spans up to j.
    """
    if spans_sql == "1":  # one line per row: the row number is enough, no window
        good_lines = f"SELECT rowid AS rid, rowid AS before FROM {source}"
    else:
        good_lines = (f"SELECT rowid AS rid, coalesce(sum({spans_sql}) OVER (ORDER BY rowid "
                      "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before "
                      f"FROM {source}")
    con.execute("CREATE OR REPLACE TEMP TABLE rq (q BIGINT, shift BIGINT)")
    shift = 0
    rows = []
    for r in rejects:
        rows.append((r.line - first_line - shift, shift + r.span))
        shift += r.span
    if rows:
        con.executemany("INSERT INTO rq VALUES (?, ?)", rows)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lines AS
        WITH g AS ({good_lines}),
             r AS (SELECT q, max(shift) AS shift FROM rq GROUP BY q)
        SELECT g.rid, g.before + {int(first_line)} + coalesce(r.shift, 0) AS line
        FROM g ASOF LEFT JOIN r ON g.before >= r.q""")



def physical_lines(path: Path) -> int:
    """Lines in the (LF-only) file: newlines, plus one for a last line without one."""
    count, last = 0, b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(8 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")
