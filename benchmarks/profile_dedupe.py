"""Where a dedupe spends its time: CPU and wall seconds of every SQL statement it runs.

Why: bench_dedupe.py says how long a dedupe takes, this says where, so an engine change can
be aimed at the statements that cost and checked statement by statement. It wraps the
workspace's DuckDB connection (every statement the engine runs is timed: process CPU of all
threads, and wall time), runs ``leadbridge.dedupe`` on a CSV through the benchmark's reader,
and prints the heaviest statements. The chunk writer's queries are DuckDB relations that
run when Arrow fetches them (``sql`` only plans them) and Arrow joins the bodies in
between, so the writer is timed as a whole.

    python benchmarks/profile_dedupe.py /tmp/lbb/leads-1000000-7.csv --top 30

``--explain REGEX`` also prints, for every statement matching REGEX, DuckDB's operator tree
with each operator's own seconds (summed over threads) and rows: which join, aggregate or
projection inside a statement costs.

    python benchmarks/profile_dedupe.py FILE --explain "TEMP TABLE _lb_gf_multi AS"
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def operator_lines(node: dict[str, Any], depth: int = 0) -> list[str]:
    """DuckDB's JSON profile as indented lines: operator, its own seconds, rows out, and the
    table, join condition or aggregates it works on."""
    lines = []
    for child in node.get("children", []):
        extra = child.get("extra_info", {})
        about = " ".join(f"{key}={str(extra[key])[:80]}" for key in
                         ("Table", "Join Type", "Conditions", "Groups", "Aggregates")
                         if key in extra)
        lines.append(f"{'  ' * depth}{child['name']:<22} {child.get('timing', 0.0):7.3f} s  "
                     f"{child.get('intermediate_rows', 0):>10,} rows  {about}".rstrip())
        lines += operator_lines(child, depth + 1)
    return lines


class _TimedConnection:
    """A DuckDB connection whose ``execute`` and ``sql`` calls are timed into ``log``;
    statements matching ``explain`` are also profiled operator by operator."""

    def __init__(self, con: Any, log: list[tuple[float, float, str]],
                 explain: re.Pattern[str] | None = None) -> None:
        self._con, self._log, self._explain = con, log, explain

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def _timed(self, method: str, sql: str, *args: Any, **kwargs: Any) -> Any:
        cpu, wall = time.process_time(), time.perf_counter()
        result = getattr(self._con, method)(sql, *args, **kwargs)
        self._log.append((time.process_time() - cpu, time.perf_counter() - wall,
                          " ".join(sql.split())))
        return result

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if self._explain is None or not self._explain.search(sql):
            return self._timed("execute", sql, *args, **kwargs)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "profile.json"
            self._con.execute("SET enable_profiling = 'json'")
            self._con.execute("SET profiling_output = ?", [str(out)])
            try:
                result = self._timed("execute", sql, *args, **kwargs)
            finally:
                self._con.execute("PRAGMA disable_profiling")
            tree = json.loads(out.read_text())
        print(f"--- {' '.join(sql.split())[:100]}")
        for root in tree.get("operator", []):
            print("\n".join(operator_lines(root)))
        return result

    def sql(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        return self._timed("sql", sql, *args, **kwargs)


Log = list[tuple[float, float, str]]


def profile(path: str, threads: int, memory_limit: str, explain: str | None = None,
            reader: str = "bench") -> tuple[float, float, float, float, Log]:
    """(total CPU, total wall, chunk writer CPU, chunk writer wall, per-statement log)."""
    sys.path.insert(0, str(HERE))
    import bench_dedupe

    from leadbridge import workspace as workspace_module

    # the module, not the function leadbridge.engine re-exports under the same name
    dedupe_module = importlib.import_module("leadbridge.engine.dedupe")

    log: list[tuple[float, float, str]] = []
    pattern = re.compile(explain) if explain else None
    original_init = workspace_module.Workspace.__init__

    def timed_init(self: Any, con: Any, ws_path: Any) -> None:
        original_init(self, _TimedConnection(con, log, pattern), ws_path)

    chunk_time = [0.0, 0.0]
    original_chunks = dedupe_module.sql_chunks

    def timed_chunks(*args: Any, **kwargs: Any) -> Any:
        chunks = original_chunks(*args, **kwargs)
        while True:
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            finally:
                chunk_time[0] += time.process_time() - cpu
                chunk_time[1] += time.perf_counter() - wall
            yield chunk

    workspace_module.Workspace.__init__ = timed_init  # type: ignore[method-assign]
    dedupe_module.sql_chunks = timed_chunks  # type: ignore[assignment]
    try:
        connector, _ = bench_dedupe._csv_connector(path, reader)
        cpu, wall = time.process_time(), time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            dedupe_module.dedupe(connector, Path(tmp) / "out", threads=threads,
                                 memory_limit=memory_limit)
        total_cpu, total_wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        workspace_module.Workspace.__init__ = original_init  # type: ignore[method-assign]
        dedupe_module.sql_chunks = original_chunks
    return total_cpu, total_wall, chunk_time[0], chunk_time[1], log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="per-statement profile of leadbridge dedupe")
    parser.add_argument("csv", help="a CSV written by benchmarks/generate.py (any CSV with an "
                        "'id' column with --reader csv)")
    parser.add_argument("--reader", choices=("bench", "csv"), default="bench",
                        help="the benchmark's reader of generate.py's columns, or the "
                        "registered csv connector (--id-column id)")
    parser.add_argument("--top", type=int, default=25, help="statements to print")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB", help="DuckDB's cap (engine default)")
    parser.add_argument("--width", type=int, default=90, help="characters of SQL shown")
    parser.add_argument("--explain", metavar="REGEX",
                        help="print the operator tree of each statement matching REGEX")
    args = parser.parse_args(argv)
    total_cpu, total_wall, chunk_cpu, chunk_wall, log = profile(
        args.csv, args.threads, args.memory_limit, args.explain, args.reader)
    print(f"dedupe          CPU {total_cpu:7.2f} s   wall {total_wall:7.2f} s")
    print(f"all statements  CPU {sum(c for c, _, _ in log):7.2f} s   "
          f"wall {sum(w for _, w, _ in log):7.2f} s   ({len(log)} statements)")
    print(f"chunk writer    CPU {chunk_cpu:7.2f} s   wall {chunk_wall:7.2f} s")
    print()
    print("  CPU s   wall s  statement")
    for cpu, wall, sql in sorted(log, reverse=True)[:args.top]:
        print(f"{cpu:7.2f}  {wall:7.2f}  {sql[:args.width]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
