"""The recently-sent versions HubSpot, Salesforce and RunCursor keep for their lookback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadbridge.connectors import _recent
from leadbridge.connectors._people import RunCursor, iso
from leadbridge.connectors._recent import RecentVersions, window

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)

versions = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), st.integers(0, 50),
                           max_size=40)


@given(versions, st.integers(0, 50), st.integers(1, 10))
def test_window_keeps_the_newest_inside_the_window(seen: dict[str, int], floor: int,
                                                    cap: int) -> None:
    kept = window(seen, floor, cap)
    inside = {k: v for k, v in seen.items() if v >= floor}
    assert kept.items() <= inside.items()
    assert len(kept) == min(cap, len(inside))
    # nothing dropped is newer than something kept
    dropped = inside.keys() - kept.keys()
    assert not kept or all(inside[d] <= min(kept.values()) for d in dropped)
    assert list(kept) == sorted(kept)  # saved in a stable order


@given(versions, versions, st.integers(0, 50))
def test_this_runs_versions_replace_the_previous_runs(before: dict[str, int],
                                                      now: dict[str, int], floor: int) -> None:
    recent: RecentVersions[int] = RecentVersions({k: str(v) for k, v in before.items()},
                                                 convert=int)
    for rid, version in now.items():
        assert recent.sent_before(rid, version) == (before.get(rid) == version)
        recent.add(rid, version)
    assert recent.to_save(floor) == window({**before, **now}, floor)


def test_run_cursor_over_the_cap_keeps_the_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_recent, "CAP", 3)
    state: dict = {}
    cursor = RunCursor(state, "cur", lookback_seconds=60)
    for i in range(10):
        assert cursor.take(f"r{i}", iso(T0 + timedelta(seconds=i)))
    cursor.save()
    # the 3 newest inside the 60 s window survive (before: the whole list was dropped)
    assert state["cur_recent"] == {f"r{i}": iso(T0 + timedelta(seconds=i)) for i in (7, 8, 9)}
    again = RunCursor(state, "cur", lookback_seconds=60)
    assert [i for i in range(10) if again.take(f"r{i}", iso(T0 + timedelta(seconds=i)))] \
        == list(range(7))
