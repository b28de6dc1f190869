"""Benchmark: leadbridge dedupe vs the bare DuckDB scan, Splink and a plain-Python union-find.

Every contender runs on the SAME generated CSV, each in its own subprocess (clean peak RSS
from getrusage), one after the other in this one run, so ratios are comparable even on a
shared machine.

    python benchmarks/bench_dedupe.py --rows 100000,1000000 --threads 2

Contenders:
  scan        DuckDB reads every column of the CSV (SELECT max(COLUMNS(*))): the floor.
  leadbridge  leadbridge.dedupe(reader, out_dir): read, stage, normalize, guard,
              cluster, merge, conflicts, lineage, all four parquet files and chunks.jsonl.
              The reader is a minimal DuckDB read_csv -> Arrow connector defined here;
              leadbridge-csv runs the same through the registered `csv` connector.
  splink      Splink 5 exact-key dedup on the same keys (computed with leadbridge's SQL
              macros): blocking rules email_key OR phone_key, deterministic_link, then
              connected components. Keys held by > 50 records are nulled first (otherwise
              placeholder keys explode into billions of pairs).
  python      csv module + mega_model key functions + a dict union-find (same key guard).
  floor       benchmarks/floor_dedupe.py: the least a DuckDB dedupe can do for the same
              outputs, from the same reader (see that file for what it leaves out).
  floor-native  the same, with DuckDB reading the CSV itself (no connector stream): what
              a native file path could reach at best.
  floor-arrow benchmarks/floor_arrow.py: the same floor with the records held as Arrow
              arrays (never a DuckDB table) and components and merge done by numpy;
              the benchmark's key guard (> 50 records) stands in for the placeholder guard.
  merge-only  a lower bound for any DuckDB pipeline that merges: DuckDB reads the CSV,
              groups it by the email key alone (no phone key, no clustering) with the
              newest value of every column per group, each merged row as JSON with its
              sha256, into one parquet file. No lineage, chunks, guard or checks (not a
              correct dedupe: records without an email all fall into one group).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rss import peak_mb

HERE = Path(__file__).resolve().parent
KEY_GUARD = 50


def run_scan(path: str, threads: int) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    start, cpu0 = time.perf_counter(), time.process_time()
    con.execute("SELECT max(COLUMNS(*)) FROM read_csv(?, all_varchar = true)", [path]).fetchall()
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu0}


#: how the parent hands --memory-limit to each contender's subprocess
_MEMORY_ENV = "LB_BENCH_MEMORY_LIMIT"


def _memory_limit() -> str:
    """DuckDB's cap for leadbridge and the floors (--memory-limit; the engine's default)."""
    return os.environ.get(_MEMORY_ENV, "2GB")


def reader_sql(path: str) -> str:
    """The bench reader's query: the generated CSV's columns as canonical fields."""
    from leadbridge.engine.custom import lit

    return f"""
        SELECT id AS source_id, NULL::VARCHAR AS contact_name, first_name, last_name,
               email AS contact_email, phone AS contact_phone, stage, owner, created_at,
               updated_at,
               to_json({{'lead_source': lead_source, 'city': city, 'budget': budget,
                        'person_id': person_id}})::VARCHAR AS custom_fields
        FROM read_csv({lit(path)}, all_varchar = true)"""


def _csv_connector(path: str, reader: str = "bench"):
    """A minimal DuckDB-backed reader (default: the same reader in every run, so engine
    changes are measured alone), or with reader="csv" the registered `csv` connector."""
    if reader == "csv":
        from leadbridge.cli._common import build_connector

        return build_connector("csv", path, None, id_column="id"), "csv connector"
    from leadbridge.connector import Connector

    class BenchCsv(Connector):
        name = "csv"

        def records(self, state):  # type: ignore[no-untyped-def]
            import duckdb

            con = duckdb.connect()
            reader = con.sql(reader_sql(path)).to_arrow_reader(100_000)
            yield from reader

    return BenchCsv(), "bench reader"


def run_leadbridge(path: str, threads: int, reader: str = "bench") -> dict:
    from leadbridge.engine import dedupe

    connector, how = _csv_connector(path, reader)
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu0 = time.perf_counter(), time.process_time()
        result = dedupe(connector, Path(tmp) / "out", threads=threads,
                        memory_limit=_memory_limit())
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu0
    # the largest cluster and the placeholder keys tell at a glance whether the guard held
    # (a placeholder phone left in clustering makes one cluster of thousands of strangers)
    return {"seconds": seconds, "cpu": cpu, "clusters": result.build.clusters, "reader": how,
            "chunks": result.chunks, "largest": result.build.largest_cluster,
            "placeholders": result.build.placeholder_keys}


def run_floor(path: str, threads: int, native: bool = False) -> dict:
    from floor_dedupe import run_floor as floor

    source, how = (reader_sql(path), "read_csv in the same DuckDB") if native \
        else _csv_connector(path)
    with tempfile.TemporaryDirectory() as tmp:
        result = floor(source, Path(tmp) / "out", threads, _memory_limit())
    return {**result, "reader": how}


def run_floor_arrow(path: str, threads: int) -> dict:
    from floor_arrow import run_floor_arrow as floor

    with tempfile.TemporaryDirectory() as tmp:
        result = floor(path, Path(tmp) / "out", threads, _memory_limit())
    return {**result, "reader": "read_csv in DuckDB, to Arrow"}


def _keyed_table(con, path: str) -> None:  # type: ignore[no-untyped-def]
    from leadbridge.mega_model import duckdb_macros

    for statement in duckdb_macros():
        con.execute(statement)
    con.execute("""
        CREATE TABLE keyed AS
        SELECT id AS unique_id,
               CASE WHEN lb_email_valid(email) THEN lb_email_key(email) END AS email_key,
               lb_phone_key(phone) AS phone_key
        FROM read_csv(?, all_varchar = true)""", [path])
    for col in ("email_key", "phone_key"):
        con.execute(f"""UPDATE keyed SET {col} = NULL WHERE {col} IN
            (SELECT {col} FROM keyed GROUP BY {col} HAVING count(*) > {KEY_GUARD})""")


def run_splink(path: str, threads: int) -> dict:
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    start, cpu0 = time.perf_counter(), time.process_time()
    _keyed_table(con, path)
    db_api = DuckDBAPI(connection=con)
    sdf = db_api.register("keyed")
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[block_on("email_key"), block_on("phone_key")],
        comparisons=[],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(sdf, settings, log_level=40)
    pairs = linker.inference.deterministic_link()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pairs, None)
    n = con.execute(f"SELECT count(DISTINCT cluster_id) FROM {clusters.physical_name}").fetchone()[0]
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu0,
            "clusters": n}


def run_python(path: str, threads: int) -> dict:
    import csv
    from collections import Counter

    from leadbridge import mega_model as mm

    start, cpu0 = time.perf_counter(), time.process_time()
    rows = []
    counts: Counter[str] = Counter()
    with open(path, newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            email = rec["email"] or None
            ek = mm.email_key(email) if mm.is_valid_email(email) else None
            pk = mm.phone_key(rec["phone"] or None)
            ek = "e:" + ek if ek else None
            pk = "p:" + pk if pk else None
            rows.append((rec["id"], ek, pk))
            counts.update(k for k in (ek, pk) if k)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    for rid, ek, pk in rows:
        for key in (ek, pk):
            if key and counts[key] <= KEY_GUARD:
                a, b = find(rid), find(key)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    n = len({find(rid) for rid, _, _ in rows})
    return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu0,
            "clusters": n}


def run_merge_only(path: str, threads: int) -> dict:
    from floor_dedupe import connect

    from leadbridge.engine.custom import lit

    con = connect(threads, _memory_limit())
    columns = ("first_name", "last_name", "email", "phone", "stage", "owner", "lead_source",
               "city", "budget", "created_at")
    newest = ", ".join(f"arg_max({c}, updated_at) AS {c}" for c in columns)
    with tempfile.TemporaryDirectory() as tmp:
        merged = lit(str(Path(tmp) / "merged.parquet"))
        start, cpu0 = time.perf_counter(), time.process_time()
        con.execute(f"""
            COPY (SELECT k, j, sha256(j) AS h FROM (
                    SELECT k, to_json({{{', '.join(f"'{c}': {c}" for c in columns)}}}) AS j
                    FROM (SELECT lb_email_key(email) AS k, {newest}
                          FROM read_csv(?, all_varchar = true) GROUP BY k)))
            TO {merged} (FORMAT parquet)""", [path])
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu0
        groups = con.execute(f"SELECT count(*) FROM {merged}").fetchone()[0]
    return {"seconds": seconds, "cpu": cpu, "clusters": groups}


CONTENDERS = {"scan": run_scan, "merge-only": run_merge_only,
              "leadbridge": run_leadbridge, "splink": run_splink,
              "floor": run_floor, "python": run_python,
              "floor-native": lambda path, threads: run_floor(path, threads, native=True),
              "floor-arrow": run_floor_arrow}


def child(name: str, path: str, threads: int) -> None:
    if name.startswith("leadbridge"):
        result = run_leadbridge(path, threads, "csv" if name == "leadbridge-csv" else "bench")
    else:
        result = CONTENDERS[name](path, threads)
    result["peak_mb"] = peak_mb()
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="leadbridge dedupe benchmark")
    parser.add_argument("--rows", default="100000", help="comma-separated sizes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--contenders", default="scan,leadbridge,splink,python",
                        help="also: leadbridge-csv (reads through the registered csv connector)")
    parser.add_argument("--python-max-rows", type=int, default=1_000_000,
                        help="skip the plain-Python contender above this size")
    parser.add_argument("--memory-limit", default="2GB",
                        help="DuckDB memory cap of leadbridge and the floors (default: the "
                             "engine's own 2GB; e.g. 16GB to see a run without spilling)")
    parser.add_argument("--dir", default=None, help="where generated CSVs go (default: temp)")
    parser.add_argument("--extra-columns", type=int, default=0,
                        help="generate N extra CRM properties per record (a wide export)")
    parser.add_argument("--child", nargs=3, metavar=("NAME", "PATH", "THREADS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    sys.path.insert(0, str(HERE))
    from generate import write_csv

    work = Path(args.dir or tempfile.mkdtemp(prefix="lb-bench-"))
    names = [c.strip() for c in args.contenders.split(",") if c.strip()]
    table = []
    for rows in [int(r) for r in args.rows.split(",")]:
        wide = f"-w{args.extra_columns}" if args.extra_columns else ""
        path = work / f"leads-{rows}-{args.seed}{wide}.csv"
        if not path.exists():
            write_csv(rows, args.seed, path, args.extra_columns)
        results: dict[str, dict] = {}
        for name in names:
            if name == "python" and rows > args.python_max_rows:
                continue
            proc = subprocess.run(
                [sys.executable, __file__, "--child", name, str(path), str(args.threads)],
                capture_output=True, text=True,
                env={**os.environ, "PYTHONHASHSEED": "0", _MEMORY_ENV: args.memory_limit})
            if proc.returncode != 0:
                print(f"{name} failed at {rows} rows:\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        floor = results.get("scan", {}).get("seconds")
        for name, res in results.items():
            ratio = res["seconds"] / floor if floor else float("nan")
            table.append((rows, name, res["seconds"], ratio, res["cpu"], res["peak_mb"],
                          res.get("clusters", ""), res.get("largest", ""),
                          res.get("reader", "")))
            print(f"{rows:>9} {name:<11} {res['seconds']:8.2f}s {ratio:7.1f}x "
                  f"cpu {res['cpu']:7.2f}s "
                  f"{res['peak_mb']:8.0f} MB  clusters={res.get('clusters', '')} "
                  f"largest={res.get('largest', '')} placeholders={res.get('placeholders', '')} "
                  f"{res.get('reader', '')}", flush=True)
    print()
    # CPU seconds (all threads, the timed part only) resist the machine's load better than
    # wall seconds: a busy shared machine stretches wall time, not CPU time
    print("| rows | contender | seconds | x scan | CPU s | peak RSS MB | clusters | largest |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for rows, name, sec, ratio, cpu, peak, clusters, largest, _ in table:
        print(f"| {rows:,} | {name} | {sec:.2f} | {ratio:.1f} | {cpu:.2f} | {peak:.0f} "
              f"| {clusters} | {largest} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
