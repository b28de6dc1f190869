"""Full syncs against a real sandbox with every fault switch on, in turn and together.

After each scenario (see ``reliability_support.run_scenario``): every source record has exactly
one final status, no two leads share an id, email key or phone key, the lead count equals the
golden rows MEGA accepted, the report, the ledger and MEGA name the same leads, the end state
equals an uninterrupted run, and a re-run sends nothing. More seeds:
``LEADBRIDGE_RELIABILITY_SEEDS=1-20 pytest tests/reliability/test_fault_sweep.py`` or
``python benchmarks/bench_reliability.py``.
"""

from __future__ import annotations

import os

import pytest
from reliability_support import EXPECTED, SCENARIOS, Tally, run_scenario, seeds


@pytest.mark.parametrize("seed", seeds("1"))
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_bulk_sync_survives_faults(name: str, seed: int, tmp_path_factory: pytest.TempPathFactory
                                   ) -> None:
    tally = run_scenario(name, seed, tmp_path_factory.getbasetemp(), people=700, mode="bulk")
    _faults_happened(tally)


#: all_together in live mode needs ~20 resumed runs: only with more seeds (benchmarks, locally)
LIVE = ["fail_after"] + (["all_together"] if os.environ.get("LEADBRIDGE_RELIABILITY_SEEDS")
                         else [])


@pytest.mark.parametrize("seed", seeds("2"))
@pytest.mark.parametrize("name", LIVE)
def test_live_sync_survives_faults(name: str, seed: int, tmp_path_factory: pytest.TempPathFactory
                                   ) -> None:
    """Live mode: one request per lead, so many more requests meet a fault."""
    tally = run_scenario(name, seed, tmp_path_factory.getbasetemp(), people=30, mode="live")
    _faults_happened(tally)


def _faults_happened(tally: Tally) -> None:
    """The CI seeds are chosen so each scenario's fault really happens (a sweep without its
    fault proves nothing); extra seeds may be quieter and only count."""
    if not os.environ.get("LEADBRIDGE_RELIABILITY_SEEDS"):
        name = tally.scenario.split("+")[0]
        hit = {k: tally.faults[k] for k in EXPECTED[name]}
        assert all(hit.values()) if name != "all_together" else \
            sum(1 for v in hit.values() if v) >= 2, f"{tally.scenario}: {hit}"


@pytest.mark.parametrize("seed", seeds("3"))
@pytest.mark.parametrize("name", ["all_together"] + (
    ["fail_after", "restart_db"] if os.environ.get("LEADBRIDGE_RELIABILITY_SEEDS") else []))
def test_incremental_update_survives_faults(name: str, seed: int,
                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    """A first load, then the changed source (renames, new people) read incrementally and
    sent as merges — both under faults — ends like the same two syncs without faults."""
    tally = run_scenario(name, seed, tmp_path_factory.getbasetemp(), people=700, mode="bulk",
                         update=True)
    _faults_happened(tally)
