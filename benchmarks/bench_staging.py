"""Staging benchmark: the `csv` connector into the engine's ``records`` table, beside DuckDB's
own bare read of the same file (the floor no CSV reader in this process can beat).

Why both in one process, same threads: the ratio says how much the connector (header mapping,
id and duplicate checks, custom-field JSON, Arrow hand-off) and staging cost on top of parsing.

    python benchmarks/bench_staging.py --rows 1000000 --threads 2

The CSV comes from benchmarks/generate.py (realistic messy leads, 14 columns, ~130 bytes a
row) and is written once to --dir (default: a temp folder).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import write_csv  # noqa: E402


def bare_read(path: Path, threads: int) -> tuple[float, int]:
    """DuckDB reading every column as text and materializing it: the floor."""
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    start = time.perf_counter()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, all_varchar = true)", [str(path)])
    rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    seconds = time.perf_counter() - start
    con.close()
    return seconds, rows


def connector_only(path: Path) -> float:
    """The csv connector's batches drained, nothing staged: its own share."""
    from leadbridge.cli._common import build_connector

    connector = build_connector("csv", str(path), None)
    start = time.perf_counter()
    for _ in connector.records({}):
        pass
    return time.perf_counter() - start


def connector_staging(path: Path, threads: int, workdir: Path) -> tuple[float, int, int]:
    """The registered csv connector streamed into ``stage`` (what sync and dedupe do)."""
    from leadbridge.cli._common import build_connector
    from leadbridge.engine import stage
    from leadbridge.workspace import Workspace

    connector = build_connector("csv", str(path), None)
    with Workspace.open(workdir / "bench.duckdb", threads=threads) as ws:
        start = time.perf_counter()
        stats = stage(ws, "csv", connector.records({}))
        seconds = time.perf_counter() - start
    return seconds, stats.staged, connector.rejected_count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dir", default=None, help="where the CSV and workspace go")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.dir or tmp)
        base.mkdir(parents=True, exist_ok=True)
        csv_path = base / f"leads-{args.rows}-{args.seed}.csv"
        if not csv_path.exists():
            write_csv(args.rows, args.seed, csv_path)
        size_mb = csv_path.stat().st_size / 1e6
        floor, rows = bare_read(csv_path, args.threads)
        alone = connector_only(csv_path)
        (base / "bench.duckdb").unlink(missing_ok=True)
        staged_s, staged, rejected = connector_staging(csv_path, args.threads, base)
        (base / "bench.duckdb").unlink(missing_ok=True)
    print(f"file: {rows} rows, {size_mb:.0f} MB, threads={args.threads}")
    print(f"duckdb bare read_csv (floor):   {floor:6.2f} s")
    print(f"csv connector alone (drained): {alone:6.2f} s")
    print(f"csv connector -> engine stage:  {staged_s:6.2f} s  ({staged} staged, "
          f"{rejected} rejected)")
    print(f"ratio: {staged_s / floor:.1f}x the floor, {rows / staged_s:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
