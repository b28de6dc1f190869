"""Property: whatever the timestamps (ties everywhere), search cap and edits, a full sync then
an incremental sync yield every contact once, and the incremental exactly the changed ones."""

from hypothesis import given, settings
from hypothesis import strategies as st

from leadbridge.connectors.hubspot import HubSpotConnector
from tests.fakes.hubspot import FakeHubSpot

TOKEN = "pat-secret-token"
BASE = 1_700_000_000_000

contacts = st.lists(st.integers(0, 5), min_size=1, max_size=260)        # ts offsets (s)
edits = st.lists(st.tuples(st.integers(1, 400), st.integers(0, 4)), max_size=260)


def test_full_then_incremental_exactly_once():
    with FakeHubSpot() as fake:
        fake.search_per_second = 10_000

        @settings(max_examples=30)  # each example is three syncs over HTTP
        @given(contacts, edits, st.sampled_from([200, 300, 500]), st.sampled_from([0, 60]))
        def check(offsets, changes, cap, lookback):
            fake.contacts.clear()
            fake.search_cap = cap
            for i, off in enumerate(offsets, start=1):
                fake.add(str(i), BASE + off * 1000)
            opts = {"token": TOKEN, "base_url": fake.base_url, "search_per_second": 1000,
                    "search_cap": cap, "lookback_seconds": lookback, "include_archived": False}
            state = {}
            first = [r["source_id"] for r in HubSpotConnector(**opts).records(state)]
            assert sorted(first, key=int) == [str(i) for i in range(1, len(offsets) + 1)]
            top = max(offsets) * 1000
            changed = set()
            for cid, step in changes:  # edits and new contacts at or after the cursor
                ts = BASE + top + step * 1000 + 1
                if str(cid) in fake.contacts:
                    fake.touch(str(cid), ts, firstname=f"v{step}")
                else:
                    fake.add(str(cid), ts, firstname=f"v{step}")
                changed.add(str(cid))
            second = [r["source_id"] for r in HubSpotConnector(**opts).records(state)]
            assert len(second) == len(set(second)) and set(second) == changed
            assert list(HubSpotConnector(**opts).records(state)) == []

        check()
