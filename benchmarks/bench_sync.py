"""Sync benchmark: requests sent and wall time of the whole job against the sandbox.

Generates N messy records with duplicates (benchmarks/generate.py, in a process of its
own), then, in one process:

1. **naive**: what a script sending the raw records 500 per request would send
   (ceil(N / 500) bulk requests; with ``--naive-run`` it is actually sent to a second sandbox
   so its leads can be counted too);
2. **leadbridge**: `sync` end to end (stage, build, plan, chunk, push, ledger, report) against
   an in-process sandbox whose rate-limit windows are shrunk by ``--time-scale`` (the client
   paces to the same scaled limits: 10 bulk requests per scaled minute);
3. **re-run**: the same sync again (unchanged input: no request at all).

    python benchmarks/bench_sync.py --rows 100000 --time-scale 0.01

At time scale 1 the bulk limit alone would take (requests - 10) * 6 s; the figure printed
as "rate-limited floor" is that bound scaled.

``--sandbox-process`` serves the sandbox from its own process (``leadbridge sandbox``), so
the peak RSS printed is the sync's alone, as it would be against the real MEGA; without it
the figure includes the in-process sandbox's copy of every lead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import generate  # noqa: E402  (benchmarks/generate.py, the engine helper's generator)
from rss import peak_mb, reset_peak  # noqa: E402


#: The generator's stage values mapped onto the sandbox pipeline, as a job file would.
ENGINE = {"stage_map": {"new": "new", "New": "new", "contacted": "contacted",
                        "qualified": "qualified", "Qualified ": "qualified",
                        "appointment": "qualified", "negotiation": "proposal", "won": "won",
                        "lost": "lost"}}


def _csv_connector(path: Path) -> Any:
    from leadbridge.plugins import load_registry

    info = load_registry().get("csv")
    return info.cls(**{info.cls.positional: str(path)})


def _arrow_connector(rows: int, seed: int) -> Any:
    """Fallback when no csv connector is installed: the generated table as Arrow batches."""
    import pyarrow as pa

    from leadbridge.connector import Connector

    class Generated(Connector):
        name = "generated"

        def records(self, state: dict[str, Any]):  # type: ignore[override]
            table = generate.generate_table(rows, seed)
            names = table.column("first_name").to_pylist()
            last = table.column("last_name").to_pylist()
            full = [" ".join(p for p in (f, ln) if p) or None for f, ln in zip(names, last)]
            out = pa.table({
                "source_id": table.column("id"), "contact_name": pa.array(full, pa.string()),
                "contact_email": table.column("email"), "contact_phone": table.column("phone"),
                "stage": table.column("stage"), "owner": table.column("owner"),
                "created_at": table.column("created_at"),
                "updated_at": table.column("updated_at"),
            })
            yield from out.to_batches(50_000)

    return Generated()


def naive_run(csv_path: Path, scale: float) -> dict[str, Any]:
    """Send raw rows 500 per request, no dedup: what a straightforward script does."""
    import csv as _csv

    from leadbridge.mega import MegaClient
    from leadbridge.sandbox import Sandbox, SandboxConfig

    cfg = SandboxConfig.default(time_scale=scale)
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = [{k: v for k, v in {
            "contact_name": " ".join(p for p in (r["first_name"], r["last_name"]) if p),
            "contact_email": r["email"], "contact_phone": r["phone"]}.items() if v}
            for r in _csv.DictReader(fh)]
    start = time.perf_counter()
    with Sandbox(cfg) as box:
        grant = cfg.tokens[0]
        with MegaClient(box.base_url, grant.token, grant.customer_id, time_scale=scale,
                        env={}) as client:
            failed = 0
            for i in range(0, len(rows), 500):
                answer = client.bulk_import([r or {"contact_name": "?"} for r in rows[i:i + 500]])
                failed += answer["summary"]["failed"]
        leads = len(box.leads(grant.customer_id))
    return {"requests": math.ceil(len(rows) / 500), "leads": leads, "failed_rows": failed,
            "seconds": round(time.perf_counter() - start, 2)}


@contextlib.contextmanager
def _sandbox(cfg: Any, own_process: bool) -> Iterator[tuple[str, Any]]:
    """(base URL, a function counting the customer's leads) of a sandbox serving ``cfg``."""
    from leadbridge.sandbox import Sandbox

    grant = cfg.tokens[0]
    if not own_process:
        with Sandbox(cfg) as box:
            yield box.base_url, lambda: len(box.leads(grant.customer_id))
        return
    cmd = [sys.executable, "-c", "from leadbridge.cli import main; main()", "sandbox",
           "--time-scale", str(cfg.time_scale), "--stages", ",".join(cfg.stages),
           "--owners", ",".join(cfg.owners),
           "--token", f"{grant.token}:{grant.customer_id}:{','.join(grant.scopes)}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        if "listening on " not in first:
            raise SystemExit(f"the sandbox did not start: {first.strip()}")
        base_url = first.split("listening on ", 1)[1].strip()

        def count() -> int:
            from leadbridge.mega import MegaClient

            with MegaClient(base_url, grant.token, grant.customer_id,
                            time_scale=cfg.time_scale, env={}) as c:
                return sum(1 for _ in c.list_leads())

        yield base_url, count
    finally:
        proc.terminate()
        try:  # holding millions of leads, it can take a while to go
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-scale", type=float, default=0.01,
                        help="rate-limit windows x this (0.01: a minute lasts 0.6 s)")
    parser.add_argument("--naive-run", action="store_true",
                        help="also send the naive script's requests to a second sandbox")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--sandbox-process", action="store_true",
                        help="serve the sandbox from its own process: the peak RSS printed "
                             "is then the sync's alone")
    args = parser.parse_args(argv)

    from leadbridge.pipeline import sync
    from leadbridge.plugins import load_registry
    from leadbridge.sandbox import SandboxConfig

    work = Path(args.workdir or tempfile.mkdtemp(prefix="lb-bench-sync-"))
    work.mkdir(parents=True, exist_ok=True)
    # generated in a process of its own: the generator's DuckDB peaks at several GB at 5M
    # rows, which this process's peak RSS (the sync's figure) must not include
    csv_path = work / "leads.csv"
    subprocess.run([sys.executable, str(Path(generate.__file__)), "--rows", str(args.rows),
                    "--seed", str(args.seed), "--out", str(csv_path)], check=True)
    use_csv = "csv" in load_registry().connectors
    make = (lambda: _csv_connector(csv_path)) if use_csv else \
        (lambda: _arrow_connector(args.rows, args.seed))

    naive = {"requests": math.ceil(args.rows / 500)}
    if args.naive_run:
        naive = naive_run(csv_path, args.time_scale)

    cfg = SandboxConfig.default(time_scale=args.time_scale)
    ws = work / "ws.duckdb"
    for stale in (ws, ws.with_name("ws.duckdb.wal")):
        stale.unlink(missing_ok=True)
    with _sandbox(cfg, args.sandbox_process) as (base_url, count_leads):
        from leadbridge.mega import MegaClient

        grant = cfg.tokens[0]
        with MegaClient(base_url, grant.token, grant.customer_id,
                        time_scale=args.time_scale, env={}) as client:
            # summaries only: a result's per-record outcomes (~0.5 GB at 5M records) kept
            # alive through the re-run would count in the re-run's peak
            t0 = time.perf_counter()
            s = sync(make(), workspace=ws, client=client, stages=cfg.stages,
                     owners=cfg.owners, engine_options=ENGINE).summary
            t1 = time.perf_counter()
            attempts_first = client.stats.attempts
            peak_first = round(peak_mb())
            each_run = reset_peak()  # the re-run's own peak, not the first run's
            second = sync(make(), workspace=ws, client=client, stages=cfg.stages,
                          owners=cfg.owners, engine_options=ENGINE).summary
            t2 = time.perf_counter()
            peak_rerun = round(peak_mb()) if each_run else None
        leads = count_leads()
    # the kernel's peak restarts at the reset: the whole process's is the larger of the two
    peak = max(peak_first, peak_mb())
    floor = max(0, s["requests"] - 10) * 6.0 * args.time_scale
    result = {
        "rows": args.rows, "source": "csv" if use_csv else "arrow", "time_scale": args.time_scale,
        "naive_bulk_requests": naive["requests"], "naive": naive,
        "leadbridge_bulk_requests": s["requests"], "golden_rows": s["golden_rows"],
        "clusters": (s.get("build") or {}).get("clusters"),
        "request_ratio": round(naive["requests"] / max(1, s["requests"]), 2),
        "leads_in_sandbox": leads, "record_status": s["record_status"],
        "prediction_mismatches": s["prediction_mismatches"],
        "first_run_seconds": round(t1 - t0, 2), "rate_limited_floor_seconds": round(floor, 2),
        "http_attempts_first_run": attempts_first,
        "rerun_seconds": round(t2 - t1, 2), "rerun_requests": second["requests"],
        "peak_rss_mb": round(peak), "peak_rss_mb_first_run": peak_first,
        "peak_rss_mb_rerun": peak_rerun, "sandbox": "own process" if args.sandbox_process
        else "in process",
    }
    print(f"records {args.rows:,} -> golden rows {s['golden_rows']:,}")
    print(f"bulk requests: naive {naive['requests']}  leadbridge {s['requests']}  "
          f"(x{result['request_ratio']} fewer)")
    print(f"wall time, whole sync against the sandbox (time scale {args.time_scale}): "
          f"{result['first_run_seconds']} s (rate-limit floor {result['rate_limited_floor_seconds']} s)")
    print(f"re-run of unchanged input: {result['rerun_requests']} requests, "
          f"{result['rerun_seconds']} s")
    print(f"peak RSS of this process: {peak:,.0f} MB (sandbox {result['sandbox']}); "
          f"first run {peak_first} MB, re-run {peak_rerun or '?'} MB")
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
