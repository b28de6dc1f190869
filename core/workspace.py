"""The DuckDB workspace: one file (or memory) holding staged records, clusters and the ledger.

Every subsystem opens the same ``Workspace`` and creates its own tables with
``CREATE TABLE IF NOT EXISTS`` in its own module. The connection always has the MEGA key
macros of ``leadbridge.mega_model`` loaded, so SQL anywhere computes keys exactly like the
Python the sandbox and planner use.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import duckdb

from .errors import ConfigError, WorkspaceError
from .mega_model import duckdb_macros


def not_duckdb(path: Path) -> str | None:
    """Why ``path`` cannot be opened as a DuckDB database file, or None (a missing file is
    fine: DuckDB creates it).

    Why check at all: DuckDB opens ``leads.csv`` (or a JSON or Parquet file) as a read-only
    view and keeps every table it then creates in memory, so a mistyped ``--workspace
    leads.csv`` would run a whole sync and keep no ledger, no cursor and no report.
    """
    if path.is_dir():
        return "is a folder, not a file"
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if head and head[8:12] != b"DUCK":  # a DuckDB file starts with a checksum, then DUCK
        return "is not a DuckDB database (a path that does not exist yet creates one)"
    return None


class Workspace:
    """An open DuckDB workspace; use ``Workspace.open(path)`` (``None`` = in memory)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        self.con = con
        self.path = path
        self._depth = 0

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_directory: str | os.PathLike[str] | None = None,
    ) -> Workspace:
        """Open (creating it and its parent folders) the workspace at ``path``."""
        target: Path | None = None
        if path is not None and str(path) != ":memory:":
            target = Path(path)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise WorkspaceError(
                    f"workspace {str(target)!r}: cannot create its folder ({exc.strerror}); "
                    "choose another path with --workspace"
                ) from None
        problem = not_duckdb(target) if target is not None else None
        if problem:
            raise WorkspaceError(f"workspace {str(target)!r} {problem}: pass another "
                                 "--workspace")
        try:
            con = duckdb.connect(str(target) if target else ":memory:")
        except duckdb.IOException as exc:
            message = str(exc).split("\n")[0]
            if "not a valid DuckDB database" in message:  # e.g. an empty file
                raise WorkspaceError(f"workspace {str(target)!r} is not a DuckDB database: "
                                     "pass another --workspace") from None
            # DuckDB's last words say why ("Permission denied"); the rest repeats the path
            hint = ("another leadbridge process is using it; wait for it or pass another "
                    "--workspace" if "lock" in message.lower() else
                    f"{message.rsplit(': ', 1)[-1]}; choose another path with --workspace")
            raise WorkspaceError(f"workspace {str(target)!r} cannot be opened: {hint}") from None
        except duckdb.Error as exc:
            raise WorkspaceError(
                f"workspace {str(target)!r} is not a DuckDB database ({type(exc).__name__}); "
                "pass another --workspace or delete the file"
            ) from None
        if temp_directory is None:
            base = target.parent if target else Path(tempfile.gettempdir())
            temp_directory = base / f".leadbridge-tmp-{os.getpid()}"
        con.execute("SET temp_directory = ?", [str(temp_directory)])
        # DuckDB draws its own progress bar on stdout for any statement over two seconds: a
        # library must not write into its caller's output (the CLI draws its own)
        con.execute("SET enable_progress_bar = false")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            try:
                con.execute("SET memory_limit = ?", [memory_limit])
            except duckdb.Error:
                con.close()
                raise ConfigError(f"memory limit {memory_limit!r} is not a size DuckDB takes: "
                                  "give one like 2GB or 500MB") from None
        for statement in duckdb_macros():
            con.execute(statement)
        return cls(con, target)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        try:
            self.con.close()
        except duckdb.Error:  # already closed
            pass

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing block; nested use joins the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield self.con
            finally:
                self._depth -= 1
            return
        self.con.begin()
        self._depth = 1
        try:
            yield self.con
        except BaseException:
            self._depth = 0
            self.con.rollback()
            raise
        self._depth = 0
        self.con.commit()

    def has_table(self, name: str) -> bool:
        """Whether a table or view called ``name`` exists in the main schema."""
        row = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchone()
        return bool(row and row[0])

    def __repr__(self) -> str:
        return f"Workspace({str(self.path) if self.path else ':memory:'})"
