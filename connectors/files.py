"""File connectors: ``csv`` (CSV/TSV, delimiter sniffed) and ``jsonl`` (JSON Lines).

Why this shape: files are the most common source and the messiest. DuckDB reads the file in
parallel and the connector yields Arrow batches, so a million rows stage in seconds with no
Python per row; a CSV file is read twice rather than held whole (a narrow pass, then every
column streamed), so a wide export does not need its size several times over in memory.
Headers map to canonical fields by name, synonym and fuzzy match (``_headers``), the user
sees every decision (``header_mapping``), and every line ends as a record or as a rejected
record naming its line and reason (``_csv_read``, ``_csv_emit``).
See docs/connectors/csv.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ..connector import Connector, Option
from ..errors import ConfigError, SourceDataError, SourceError
from ..mega_model import SOURCE_PLATFORMS
from ..plugins import hookimpl
from ._csv_emit import Table, emit, whole_file_columns
from ._csv_encoding import canonical, decide
from ._csv_read import load_csv, load_lines, rejected_lines, sniff_header, stream_csv
from ._headers import Mapping, map_headers, parse_explicit

log = logging.getLogger("leadbridge.connectors.files")
#: Columns listed in the INFO line (a 10,000-column file is summarized).
_SHOW_COLUMNS = 60
#: DuckDB's cap in the connector's own database (the workspace has its own): room for the 32
#: MiB line limit's read buffers (16x per thread) and the rules' tables; beyond it, spilled.
CONNECTOR_MEMORY_LIMIT = "2GB"

_OPTIONS = (
    Option("path", "path", required=True, help="The file to read."),
    Option("encoding", "str", default="",
           help="Text encoding (default: detected: BOM, else UTF-8, else Windows-1252)."),
    Option("id_column", "str", default="",
           help="Column holding each record's stable id (default: a column named id, "
                "else the line number)."),
    Option("columns", "str", default="",
           help="Explicit mapping that wins over guesses: Header:field,... (field may be "
                "custom, skip or source_id); a JSON object or a job-file table also works."),
    Option("source_platform", "choice", default=None, choices=SOURCE_PLATFORMS,
           help="MEGA source_platform for rows without one of their own (e.g. zenmaid)."),
    Option("batch_size", "int", default=100_000, help="Rows per Arrow batch."),
)


class _FileConnector(Connector):
    """Shared checks, encoding, mapping and emission; subclasses load the table."""

    source_platform = None
    positional = "path"
    options = _OPTIONS
    kind = "file"

    def __init__(self, **given: Any) -> None:
        if isinstance(given.get("columns"), dict):  # a [source.options.columns] table
            given = {**given, "columns": json.dumps(given["columns"])}
        super().__init__(**given)
        self.explicit = parse_explicit(self.config["columns"])
        if self.config["encoding"]:
            canonical(self.config["encoding"])
        if self.config["batch_size"] < 1:
            raise ConfigError(f"connector {self.name!r}: batch_size must be at least 1")
        #: (header, target, how) per column, filled when the file is opened.
        self.header_mapping: list[tuple[str, str, str]] = []
        #: (encoding, why) the file was read with, filled when the file is opened.
        self.encoding_used: tuple[str, str] | None = None
        #: How many lines ended as rejected records in the last read.
        self.rejected_count = 0

    def describe_mapping(self) -> list[tuple[str, str, str]]:
        return list(self.header_mapping)

    def _path(self) -> Path:
        path = Path(self.config["path"]).expanduser()
        label = str(path)
        if not path.exists():
            raise SourceError(f"{self.kind} {label!r} not found", connector=self.name)
        if path.is_dir():
            raise SourceError(f"{label!r} is a directory; give the {self.kind} file itself",
                              connector=self.name)
        try:
            size = path.stat().st_size
            with path.open("rb"):
                pass
        except OSError as exc:
            raise SourceError(f"cannot open {label!r}: {exc.strerror}", connector=self.name) \
                from None
        if size == 0:
            raise SourceDataError(f"{label!r} is empty (0 bytes)", connector=self.name)
        return path

    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any] | pa.RecordBatch]:
        path = self._path()
        with tempfile.TemporaryDirectory(prefix="leadbridge-file-") as tmp:
            con = duckdb.connect()
            try:
                con.execute("SET enable_progress_bar = false")
                con.execute("SET temp_directory = ?", [tmp])
                # a JSON Lines table bigger than this spills to ``tmp`` (a 3.3 GB file held
                # whole took 4.8 GB); a CSV's first read is narrow and stays well under it
                con.execute("SET memory_limit = ?", [CONNECTOR_MEMORY_LIMIT])
                decided = decide(path, self.config["encoding"] or None, Path(tmp))
                self.encoding_used = (decided.encoding, decided.reason)
                mapping, table = self._load(con, decided.utf8_path, repr(str(path)))
                self._announce(path, mapping)
                self.rejected_count = 0
                items = emit(con, mapping, table, self.config["batch_size"],
                             self.config["source_platform"] or None)
                with contextlib.closing(items):  # a reader left half-way closes its cursor
                    for item in items:  # before the connection and the temp folder go
                        if isinstance(item, dict):
                            self.rejected_count += 1
                        yield item
            except duckdb.Error as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise SourceDataError(
                    f"{str(path)!r}: cannot be read as a {self.kind} ({first.replace(tmp, '')})",
                    connector=self.name) from None
            finally:
                con.close()
        if self.rejected_count:
            log.warning("%s: %d line(s) rejected (see the run report)", path, self.rejected_count)

    def _announce(self, path: Path, m: Mapping) -> None:
        self.header_mapping = list(m.rows)
        enc, why = self.encoding_used or ("?", "")
        shown = [f"  {h!r} -> {t} ({how})" for h, t, how in m.rows[:_SHOW_COLUMNS]]
        if len(m.rows) > _SHOW_COLUMNS:
            shown.append(f"  ... and {len(m.rows) - _SHOW_COLUMNS} more columns")
        log.info("%s: encoding %s (%s), source_id from %s; columns:\n%s", path.name, enc, why,
                 m.id_rule, "\n".join(shown))
        guessed = [f"{h!r} -> {t}" for h, t, how in m.rows if how.startswith("fuzzy")]
        if guessed:  # the only uncertain decisions: say so where the user looks
            log.warning("%s: mapped by fuzzy match: %s (override with --option columns=...)",
                        path, ", ".join(guessed))

    def _mapping(self, headers: list[str]) -> Mapping:
        return map_headers(headers, explicit=self.explicit,
                           id_column=self.config["id_column"] or None)

    def _load(self, con: duckdb.DuckDBPyConnection, path: Path,
              label: str) -> tuple[Mapping, Table]:
        raise NotImplementedError


def _no_rows(con: duckdb.DuckDBPyConnection, where: str) -> bool:
    return con.execute(f"SELECT count(*) FROM t WHERE {where}").fetchall()[0][0] == 0


class CsvConnector(_FileConnector):
    name = "csv"
    description = ("CSV or TSV file (delimiter and encoding detected), headers mapped by name, "
                   "synonym and fuzzy match.")
    kind = "CSV file"

    def _load(self, con: duckdb.DuckDBPyConnection, path: Path,
              label: str) -> tuple[Mapping, Table]:
        headers, delim, header_lines, skip = sniff_header(path, label)
        mapping = self._mapping(headers)
        read = load_csv(con, path, len(headers), delim, skip, whole_file_columns(mapping))
        rejects = rejected_lines(con, path)
        if not read.rows and not rejects:
            raise SourceDataError(f"{label} has a header line but no data lines",
                                  connector=self.name)
        cols = read.columns
        return mapping, Table(value_sql=cols, custom_sql=cols, record_sql="true",
                              bad_sql="NULL::VARCHAR", spans_sql="_span",
                              lines_path=path, label=label,
                              first_line=header_lines + 1, rejects=rejects,
                              stream=lambda rows: stream_csv(con, read, rows),
                              row_hash=read.row_hash)


def _pointer(key: str) -> str:
    """A JSON pointer (RFC 6901) to a top-level key, as an SQL literal."""
    ptr = "/" + key.replace("~", "~0").replace("/", "~1")
    return "'" + ptr.replace("'", "''") + "'"


def _parsed(keys: list[str], columns: Iterable[int]) -> str:
    """``t`` with ``_v{i}``, the JSON value of key i, for each of ``columns``.

    Why: each line is parsed once, by one ``json_extract`` with a list of paths. A parse per
    key (an expression per key) was the cost, and DuckDB held every parse until a vector was
    done: 300k lines of 163 keys drained in 151.6 s at 13 GB (with this, 48 s at 2.3 GB).
    ``try``: an invalid line parses to NULL; it is rejected by ``bad_sql`` anyway.
    """
    columns = list(columns)
    if not columns:
        return "t"
    paths = ", ".join(_pointer(keys[i]) for i in columns)
    picks = ", ".join(f"_l[{n}] AS _v{i}" for n, i in enumerate(columns, 1))
    return (f"(SELECT rowid, j, {picks} FROM "
            f"(SELECT rowid, j, try(json_extract(j, [{paths}])) AS _l FROM t)) t")


class JsonlConnector(_FileConnector):
    name = "jsonl"
    description = "JSON Lines file (one object per line), keys mapped like CSV headers."
    kind = "JSON Lines file"

    def _load(self, con: duckdb.DuckDBPyConnection, path: Path,
              label: str) -> tuple[Mapping, Table]:
        load_lines(con, path)
        rejects = rejected_lines(con, path)
        record = "j IS NOT NULL AND trim(j) <> ''"
        if _no_rows(con, record) and not rejects:
            raise SourceDataError(f"{label} holds no JSON lines", connector=self.name)
        good = f"{record} AND json_valid(j) AND json_type(j) = 'OBJECT'"
        keys = [k for (k,) in con.execute(f"""
            SELECT k FROM (SELECT rowid AS rid, unnest(json_keys(j)) AS k FROM t WHERE {good})
            GROUP BY k ORDER BY min(rid), k""").fetchall()]
        mapping = self._mapping(keys)
        values = [f"(CASE WHEN json_type(_v{i}) = 'ARRAY' THEN json_extract_string(_v{i}, '/0') "
                  f"ELSE json_extract_string(_v{i}, '$') END)" for i in range(len(keys))]
        customs = [f"_v{i}" for i in range(len(keys))]
        bad = ("(CASE WHEN NOT json_valid(j) THEN 'invalid JSON' WHEN json_type(j) <> 'OBJECT' "
               "THEN 'not a JSON object' END)")
        return mapping, Table(value_sql=values, custom_sql=customs, record_sql=record,
                              bad_sql=bad, spans_sql="1", first_line=1, rejects=rejects,
                              rows_sql=_parsed(keys, range(len(keys))),
                              rule_rows_sql=_parsed(keys, whole_file_columns(mapping)))


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register(CsvConnector)
    register(JsonlConnector)
