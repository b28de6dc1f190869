"""The run model: one row of ``sync_runs`` per sync, with its phase and final status.

Phases move forward only: ``extract`` (records being staged; nothing sent yet) ->
``planned`` (rows, chunks and predictions stored; requests may be in flight) -> ``finished``.
A run left in ``planned`` by a crash is resumed by the next sync on the same workspace; one
left in ``extract`` sent nothing and is simply marked ``abandoned``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from . import ledger

#: status values: running, finished, stopped (resumable), abandoned
RUNNING, FINISHED, STOPPED, ABANDONED = "running", "finished", "stopped", "abandoned"


@dataclass(frozen=True)
class Run:
    """What the ledger knows about one run."""

    run_id: str
    seq: int
    source: str
    connector: str
    mode: str
    dry_run: bool
    on_duplicate: str
    customer_id: str
    base_url: str
    phase: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    summary: dict[str, Any] | None
    exit_code: int | None

    @property
    def resumable(self) -> bool:
        return self.phase == "planned" and self.status in (RUNNING, STOPPED)


_COLUMNS = ("run_id, seq, source, connector, mode, dry_run, on_duplicate, customer_id, "
            "base_url, phase, status, started_at, finished_at, summary, exit_code")


def _from_row(row: tuple[Any, ...]) -> Run:
    values = list(row)
    values[13] = ledger.loads(values[13])
    return Run(*values)


def create(con: duckdb.DuckDBPyConnection, *, source: str, connector: str, mode: str,
           dry_run: bool, on_duplicate: str, customer_id: str, base_url: str) -> Run:
    """Insert a new run in phase ``extract``; its id sorts by time (seq) and is unique."""
    seq = con.execute("SELECT coalesce(max(seq), 0) + 1 FROM sync_runs").fetchall()[0][0]  # type: ignore[index]
    run_id = f"r{seq:04d}-{uuid.uuid4().hex[:8]}"
    con.execute(
        "INSERT INTO sync_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'extract', ?, now(), NULL, "
        "NULL, NULL, NULL)",
        [run_id, seq, source, connector, mode, dry_run, on_duplicate, customer_id, base_url,
         RUNNING])
    return get(con, run_id)


def get(con: duckdb.DuckDBPyConnection, run_id: str) -> Run:
    row = con.execute(f"SELECT {_COLUMNS} FROM sync_runs WHERE run_id = ?", [run_id]).fetchall()
    if not row:
        from ..errors import WorkspaceError

        raise WorkspaceError(f"run {run_id!r} is not in this workspace; "
                             "`leadbridge runs` lists the runs it holds")
    return _from_row(row[0])


def latest(con: duckdb.DuckDBPyConnection, *, planned_only: bool = True) -> Run | None:
    """The newest run (that got as far as planning, by default)."""
    where = "WHERE phase <> 'extract'" if planned_only else ""
    row = con.execute(f"SELECT {_COLUMNS} FROM sync_runs {where} ORDER BY seq DESC LIMIT 1"
                      ).fetchall()
    return _from_row(row[0]) if row else None


def all_runs(con: duckdb.DuckDBPyConnection) -> list[Run]:
    rows = con.execute(f"SELECT {_COLUMNS} FROM sync_runs ORDER BY seq").fetchall()
    return [_from_row(r) for r in rows]


def unfinished(con: duckdb.DuckDBPyConnection) -> list[Run]:
    """Runs a crash or a stop left behind, oldest first."""
    rows = con.execute(f"SELECT {_COLUMNS} FROM sync_runs WHERE status IN (?, ?) ORDER BY seq",
                       [RUNNING, STOPPED]).fetchall()
    return [_from_row(r) for r in rows]


def set_phase(con: duckdb.DuckDBPyConnection, run_id: str, phase: str,
              build: dict[str, Any] | None = None) -> None:
    if build is None:
        con.execute("UPDATE sync_runs SET phase = ? WHERE run_id = ?", [phase, run_id])
    else:
        con.execute("UPDATE sync_runs SET phase = ?, build = ? WHERE run_id = ?",
                    [phase, ledger.dumps(build), run_id])


def build_stats(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any]:
    row = con.execute("SELECT build FROM sync_runs WHERE run_id = ?", [run_id]).fetchall()
    return dict(ledger.loads(row[0][0]) or {}) if row else {}


def set_status(con: duckdb.DuckDBPyConnection, run_id: str, status: str, *,
               summary: dict[str, Any] | None = None, exit_code: int | None = None) -> None:
    finished = "now()" if status in (FINISHED, ABANDONED) else "NULL"
    con.execute(
        f"UPDATE sync_runs SET status = ?, finished_at = {finished}, "
        "summary = coalesce(?, summary), exit_code = coalesce(?, exit_code), "
        "phase = CASE WHEN ? = 'finished' THEN 'finished' ELSE phase END WHERE run_id = ?",
        [status, ledger.dumps(summary), exit_code, status, run_id])
