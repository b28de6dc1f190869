"""RunCursor, the incremental cursor most API connectors share: exactly once across runs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from leadbridge.connectors._people import RunCursor, iso

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
LOOKBACK = 300


def _run(state: dict, records: dict[str, datetime], lookback: int = LOOKBACK) -> list[str]:
    """One incremental read: the API answers every record at or after ``since``."""
    cursor = RunCursor(state, "cur", lookback_seconds=lookback)
    taken = [rid for rid, ts in sorted(records.items(), key=lambda kv: (kv[1], kv[0]))
             if (cursor.since is None or ts >= cursor.since) and cursor.take(rid, iso(ts))]
    cursor.save()
    json.loads(json.dumps(state))  # the state must survive the workspace's JSON
    return taken


offsets = st.dictionaries(st.text("abcdef", min_size=1, max_size=3),
                          st.integers(0, 2 * LOOKBACK * 1000), min_size=1, max_size=25)


@given(offsets, st.data())
def test_unchanged_rerun_yields_nothing_and_changes_come_once(offs, data) -> None:
    records = {rid: T0 + timedelta(milliseconds=ms) for rid, ms in offs.items()}
    state: dict = {}
    assert sorted(_run(state, records)) == sorted(records)
    assert _run(state, records) == []  # nothing changed: nothing, even inside the lookback
    changed = data.draw(st.sets(st.sampled_from(sorted(records))))
    newest = max(records.values())
    for rid in changed:
        records[rid] = newest + timedelta(milliseconds=data.draw(st.integers(1, 5000)))
    assert sorted(_run(state, records)) == sorted(changed)
    assert _run(state, records) == []


def test_a_late_indexed_record_inside_the_lookback_still_comes() -> None:
    records = {"a": T0, "b": T0 + timedelta(seconds=10)}
    state: dict = {}
    _run(state, records)
    records["late"] = T0 + timedelta(seconds=5)  # committed with an older timestamp
    assert _run(state, records) == ["late"]


def test_states_written_before_recent_versions_were_saved_still_skip_the_boundary() -> None:
    state = {"cur": iso(T0), "cur_ids": ["a"]}
    assert _run(state, {"a": T0, "b": T0}) == ["b"]


def test_lookback_then_exact_cursor_runs_stay_exactly_once() -> None:
    records = {f"r{i}": T0 + timedelta(seconds=i // 4) for i in range(12)}
    state: dict = {}
    _run(state, records)  # with a lookback: versions saved
    records["r0"] = records["r5"] = T0 + timedelta(hours=1)
    assert sorted(_run(state, records, lookback=0)) == ["r0", "r5"]
    assert _run(state, records, lookback=0) == []
    assert _run(state, records) == []
