"""Reliability soak: every fault scenario of tests/reliability across many seeds, with figures.

Each scenario syncs messy records into a faulty in-process sandbox until every record is
final, then checks every invariant of tests/reliability/reliability_support.py (one final
status per record, no two leads sharing an id, email or phone key, lead count = golden rows,
report = ledger = MEGA, end state = an uninterrupted run, a re-run sends nothing). An
invariant that breaks stops the soak with the assertion.

    python benchmarks/bench_reliability.py --seeds 1-10
    python benchmarks/bench_reliability.py --seeds 1-3 --modes bulk \
        --scenarios fail_after,restart_db

SIGKILL soaks of the CLI run through pytest:
``LEADBRIDGE_RELIABILITY_KILLS=40 pytest tests/reliability/test_crash_resume.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "reliability"))

import reliability_support as rs  # noqa: E402


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-5", help="e.g. 1-20 or 1,4,9")
    parser.add_argument("--scenarios", default=",".join(rs.SCENARIOS))
    parser.add_argument("--modes", default="bulk,live")
    parser.add_argument("--people", type=int, default=700, help="people in bulk mode")
    parser.add_argument("--live-people", type=int, default=50, help="people in live mode")
    parser.add_argument("--update", action="store_true",
                        help="also, in bulk mode: a first load then the changed source synced "
                             "incrementally, both under the faults")
    parser.add_argument("--json", action="store_true", help="print the totals as JSON")
    args = parser.parse_args(argv)
    import logging

    logging.getLogger("stamina").addHandler(logging.NullHandler())  # retries are counted
    started = time.monotonic()
    tallies = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in _seeds(args.seeds):
            for mode in args.modes.split(","):
                for name in args.scenarios.split(","):
                    people = args.people if mode == "bulk" else args.live_people
                    for update in (False, True) if args.update and mode == "bulk" else (False,):
                        tally = rs.run_scenario(name, seed, Path(tmp), people=people,
                                                mode=mode, update=update)
                        tallies.append(tally)
                        print(tally.line(), flush=True)
    faults: Counter[str] = Counter()
    for t in tallies:
        faults.update(t.faults)
    totals = {
        "scenarios_run": len(tallies),
        "sync_runs": sum(t.runs for t in tallies),
        "stopped_and_resumed": sum(t.stopped_runs for t in tallies),
        "http_attempts": sum(t.attempts for t in tallies),
        "records": sum(t.records for t in tallies),
        "faults_survived": sum(t.total_faults for t in tallies),
        "client_errors_seen": sum(v for k, v in faults.items() if k.startswith("client_")),
        "faults": dict(sorted(faults.items())),
        "duplicates": 0,
        "records_lost": 0,
        "seconds": round(time.monotonic() - started, 1),
    }
    injected = ", ".join(f"{k} {v}" for k, v in totals["faults"].items()
                         if not k.startswith("client_") and v)
    print(json.dumps(totals, indent=1) if args.json else
          f"{totals['scenarios_run']} scenarios, {totals['sync_runs']} sync runs "
          f"({totals['stopped_and_resumed']} stopped and resumed), {totals['http_attempts']} "
          f"HTTP attempts, {totals['faults_survived']} faults injected and survived "
          f"({injected}"
          f"; the client saw {totals['client_errors_seen']} timeouts, refused or dropped "
          "connections); every invariant "
          f"held: 0 duplicates, 0 records lost; {totals['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
