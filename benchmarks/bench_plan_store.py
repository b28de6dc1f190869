"""Memory of storing a sync's plan rows in DuckDB: one transaction against the alternatives.

Why: a 5M-record sync peaks at ~3.4 GB while it stores its plan (3.3M rows, ~1.4 GB of row
bodies) in one transaction, about 1 GB over DuckDB's 2 GB cap. This isolates that step:
rows shaped like ``sync_rows`` (a ~400-byte body each) appended in batches of 20,000, as
``PlanStore`` does, into a database file under a memory cap, three ways, each in a process
of its own (peak RSS = that process's):

- **one**: every batch in one transaction (what ``sync`` does: the plan is stored whole or
  not at all);
- **each**: a commit per batch (no atomicity: a crash leaves half a plan);
- **staged**: a commit per batch into a staging table, then one ``INSERT ... SELECT`` of it in
  a transaction (atomic again, the rows written twice).

    python benchmarks/bench_plan_store.py --rows 3300000 --memory-limit 2GB
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rss import peak_mb

BATCH_ROWS = 20_000
MODES = ("one", "each", "staged")


def _rss_mb() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) // 1024


def child(mode: str, rows: int, cap: str, path: Path) -> dict[str, object]:
    """Store ``rows`` plan-like rows ``mode``'s way; return its figures."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect(str(path))
    con.execute(f"SET memory_limit = '{cap}'")
    schema = "run_id VARCHAR, ord BIGINT, row_ref VARCHAR, send_hash VARCHAR, body VARCHAR"
    con.execute(f"CREATE TABLE sync_rows ({schema})")
    target = "sync_rows"
    if mode == "staged":
        con.execute(f"CREATE TABLE staged ({schema})")
        target = "staged"
    filler = "x" * 360
    start, peak = time.perf_counter(), 0
    if mode == "one":
        con.execute("BEGIN")
    for first in range(0, rows, BATCH_ROWS):
        n = min(BATCH_ROWS, rows - first)
        ords = range(first, first + n)
        batch = pa.table({
            "run_id": ["run-1"] * n, "ord": list(ords), "row_ref": [f"r{i:09d}" for i in ords],
            "send_hash": [f"{i:064x}" for i in ords],
            "body": [f'{{"contact_email": "u{i}@example.com", "notes": "{filler}"}}'
                     for i in ords]})
        con.register("batch", batch)
        if mode != "one":
            con.execute("BEGIN")
        con.execute(f"INSERT INTO {target} SELECT * FROM batch")
        if mode != "one":
            con.execute("COMMIT")
        con.unregister("batch")
        peak = max(peak, _rss_mb())
    if mode == "staged":
        con.execute("BEGIN")
        con.execute("INSERT INTO sync_rows SELECT * FROM staged")
        con.execute("DROP TABLE staged")
        peak = max(peak, _rss_mb())
    duckdb_mb = con.execute(
        "SELECT sum(memory_usage_bytes) // 1048576 FROM duckdb_memory()").fetchall()[0][0]
    if mode in ("one", "staged"):
        con.execute("COMMIT")
    stored = con.execute("SELECT count(*) FROM sync_rows").fetchall()[0][0]
    con.close()
    return {"mode": mode, "seconds": round(time.perf_counter() - start, 1),
            "peak_rss_mb": int(peak_mb()),
            "sampled_peak_mb": peak, "duckdb_mb_before_commit": int(duckdb_mb),
            "rows": stored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=660_000)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--child", nargs=3, metavar=("MODE", "ROWS", "CAP"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, rows, cap = args.child
        with tempfile.TemporaryDirectory(prefix="lb-plan-store-") as tmp:
            print(json.dumps(child(mode, int(rows), cap, Path(tmp) / "ws.duckdb")))
        return
    results = []
    for mode in args.modes.split(","):
        out = subprocess.run([sys.executable, __file__, "--child", mode, str(args.rows),
                              args.memory_limit], check=True, capture_output=True, text=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = results[0]
    print(f"{args.rows:,} rows, DuckDB capped at {args.memory_limit}\n")
    print("| mode | seconds | peak RSS MB | x first mode's peak | DuckDB's own MB before "
          "commit | rows stored |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['mode']} | {r['seconds']} | {r['peak_rss_mb']:,} | "
              f"{r['peak_rss_mb'] / base['peak_rss_mb']:.2f} | {r['duckdb_mb_before_commit']:,} "
              f"| {r['rows']:,} |")


if __name__ == "__main__":
    main()
