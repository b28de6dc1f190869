"""Check at scale what tests/properties checks on small generated inputs.

Why: the Hypothesis properties run on tens of records; DuckDB's parallel plans, spilling and
row-group boundaries only show on big files (the placeholder guard's scale bug did). This
runs ``leadbridge.dedupe`` through the registered csv connector three times, on a file, the
same file again, and its rows shuffled, and checks:

- the three runs' outputs are the same (every parquet file as a multiset, chunks.jsonl
  byte for byte): deterministic, and independent of the input's order;
- lineage has every record exactly once, and every row_ref it names is a golden row;
- chunks hold at most 500 rows and every golden row exactly once;
- MEGA's own keys of every row sent (``mega_model.email_key`` / ``mega_phone_key``, what the
  sandbox applies) equal the plan's keys, and no two rows sent share one.

    python benchmarks/check_scale.py --rows 1000000
    python benchmarks/check_scale.py --csv leads.csv --id-column id \\
        --engine-option household=separate --engine-option survivorship.contact_name=oldest

Exits 1 and says what differed when a check fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
TABLES = ("golden", "lineage", "conflicts", "placeholders")


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


def shuffled_copy(path: Path, out: Path) -> None:
    """The same rows in another order (a hash of the whole line: no two runs differ)."""
    con = _connect()
    con.execute(f"""COPY (SELECT * FROM read_csv(?, all_varchar = true) AS t
                          ORDER BY hash(t::VARCHAR || 'shuffle'))
                    TO '{out}' (HEADER)""", [str(path)])


def run(path: Path, out: Path, id_column: str, pairs: dict[str, str]) -> float:
    from leadbridge.cli._common import build_connector
    from leadbridge.engine import EngineOptions, dedupe

    connector = build_connector("csv", str(path), None, id_column=id_column)
    start = time.perf_counter()
    dedupe(connector, out, options=EngineOptions.from_pairs(pairs) if pairs else None)
    return time.perf_counter() - start


def differences(a: Path, b: Path) -> list[str]:
    """What differs between two output folders (empty when they are the same)."""
    con = _connect()
    found = []
    for name in TABLES:
        left, right = (f"SELECT * FROM read_parquet('{d / (name + '.parquet')}')" for d in (a, b))
        extra = con.execute(f"SELECT count(*) FROM ({left} EXCEPT ALL {right})").fetchone()[0]
        missing = con.execute(f"SELECT count(*) FROM ({right} EXCEPT ALL {left})").fetchone()[0]
        if extra or missing:
            found.append(f"{name}.parquet: {extra} rows only in {a.name}, "
                         f"{missing} only in {b.name}")
    digests = [hashlib.sha256((d / "chunks.jsonl").read_bytes()).hexdigest() for d in (a, b)]
    if digests[0] != digests[1]:
        found.append("chunks.jsonl differs")
    return found


def invariants(out: Path, records: int) -> tuple[list[str], dict[str, int]]:
    """Broken invariants of one output folder, and the counts it saw."""
    from leadbridge.mega_model import BULK_MAX_ROWS, email_key, mega_phone_key

    con = _connect()
    golden = f"read_parquet('{out / 'golden.parquet'}')"
    lineage = f"read_parquet('{out / 'lineage.parquet'}')"
    problems: list[str] = []
    lines, ids, orphans = con.execute(f"""
        SELECT count(*), count(DISTINCT (source, source_id)),
               count(*) FILTER (WHERE row_ref IS NOT NULL
                                AND row_ref NOT IN (SELECT row_ref FROM {golden}))
        FROM {lineage}""").fetchone()
    if not lines == ids == records:
        problems.append(f"lineage: {lines} lines, {ids} distinct records, {records} in the file")
    if orphans:
        problems.append(f"lineage: {orphans} row_refs that are no golden row")
    keys = {ref: (e, p) for ref, e, p in con.execute(
        f"SELECT row_ref, email_key, phone_key FROM {golden}").fetchall()}
    sent: set[str] = set()
    emails: set[str] = set()
    phones: set[str] = set()
    largest = 0
    with open(out / "chunks.jsonl", encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            leads = json.loads(line)["body"]["leads"]
            largest = max(largest, len(leads))
            for lead in leads:
                ref = lead["row_ref"]
                if ref in sent or ref not in keys:
                    problems.append(f"chunk {number}: {ref} sent twice or not a golden row")
                sent.add(ref)
                mine = (email_key(lead.get("contact_email")),
                        mega_phone_key(lead.get("contact_phone")))
                if mine != keys[ref]:
                    problems.append(f"chunk {number}: {ref} keys {mine} != planned {keys[ref]}")
                for key, seen, kind in ((mine[0], emails, "email"), (mine[1], phones, "phone")):
                    if key and key in seen:
                        problems.append(f"chunk {number}: {kind} key {key} sent twice")
                    if key:
                        seen.add(key)
    if largest > BULK_MAX_ROWS:
        problems.append(f"a chunk holds {largest} rows")
    if len(sent) != len(keys):
        problems.append(f"{len(keys) - len(sent)} golden rows in no chunk")
    return problems[:20], {"records": records, "golden rows": len(keys), "rows sent": len(sent),
                           "largest chunk": largest}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, help="a CSV (default: generate --rows)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--id-column", default="id")
    parser.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--dir", type=Path, help="where files go (default: a temp folder)")
    args = parser.parse_args(argv)
    pairs = dict(p.split("=", 1) for p in args.engine_option)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        path = args.csv
        if path is None:
            sys.path.insert(0, str(HERE))
            from generate import write_csv

            path = work / f"leads-{args.rows}-{args.seed}.csv"
            if not path.exists():
                write_csv(args.rows, args.seed, path)
        records = _connect().execute("SELECT count(*) FROM read_csv(?, all_varchar = true)",
                                 [str(path)]).fetchone()[0]
        shuffled = work / "shuffled.csv"
        shuffled_copy(path, shuffled)
        outs = {name: work / f"out-{name}" for name in ("first", "again", "shuffled")}
        for name, out in outs.items():
            seconds = run(shuffled if name == "shuffled" else path, out, args.id_column, pairs)
            print(f"dedupe ({name}): {seconds:.1f} s")
        problems = [f"again: {d}" for d in differences(outs["first"], outs["again"])]
        problems += [f"shuffled: {d}" for d in differences(outs["first"], outs["shuffled"])]
        broken, counts = invariants(outs["first"], records)
        problems += broken
    print(", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        return 1
    print("same outputs on a re-run and on the rows shuffled; lineage, chunks and MEGA's keys hold")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
