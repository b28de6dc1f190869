"""REST query faults a long Salesforce read meets: an expired ``nextRecordsUrl``
(INVALID_QUERY_LOCATOR) and QUERY_TIMEOUT, both injected by the fake org as HTTP 400 with
Salesforce's error array. Every record must come exactly once, in (SystemModstamp, Id) order,
and the cursor must end on the last one."""

import pytest

from leadbridge.connectors.salesforce import CURSOR, SalesforceConnector
from leadbridge.errors import SourceError


def ts(second, minute=0):
    return f"2026-02-01T10:{minute:02d}:{second:02d}.000+0000"


def conn(fake, **opts):
    return SalesforceConnector(login_url=fake.base_url, client_id="cid",
                               client_secret="sf-client-secret", bulk_threshold=10**9, **opts)


def order(fake, obj="Lead"):
    """The org's rows in (SystemModstamp, Id) order: what a read must yield, once each."""
    return [r["Id"] for r in sorted(fake.rows[obj], key=lambda r: (r["SystemModstamp"], r["Id"]))]


def cursor_of(state):
    cur = state[CURSOR]["Lead"]
    return cur["ts"], cur["id"]


@pytest.mark.parametrize("lookback", [0, 300])
def test_expired_locators_restart_after_the_last_row_read(fake, lookback):
    fake.page_size = 7
    for i in range(50):  # 5 timestamps: ties straddle every page boundary
        fake.add("Lead", f"00Q{(i * 37) % 50:05d}", ts(10 + i % 5), Email=f"l{i}@x.com")
    fake.locator_faults = {1, 2, 4, 7}  # 1 and 2 back to back: the restart's own locator dies
    state = {"salesforce_cursor": {"Lead": {"ts": ts(0), "id": "00Q0"}}} if lookback else {}
    got = [r["source_id"] for r in conn(fake, lookback_seconds=lookback).records(state)]
    assert fake.faults == ["INVALID_QUERY_LOCATOR"] * 4
    assert got == order(fake)  # each once, none lost, order kept
    assert cursor_of(state) == (ts(14), max(r["Id"] for r in fake.rows["Lead"]
                                            if r["SystemModstamp"] == ts(14)))
    # restarts went on from the last row read (a keyset), not from the window's start
    restarts = [q for q in fake.queries if "Id > '" in q]
    assert len(restarts) == 4 and all("ORDER BY SystemModstamp, Id" in q for q in restarts)
    # the next run: only what changed since
    fake.rows["Lead"][3].update(SystemModstamp=ts(30), Email="new@x.com")
    fake.add("Lead", "00QNEW", ts(31))
    fake.locator_faults = set()
    again = [r["source_id"] for r in conn(fake, lookback_seconds=lookback).records(state)]
    assert again == [fake.rows["Lead"][3]["Id"], "00QNEW"]
    assert cursor_of(state) == (ts(31), "00QNEW")


def test_every_locator_expiring_still_reads_everything_once(fake):
    fake.page_size = 4
    for i in range(30):
        fake.add("Lead", f"00Q{i:05d}", ts(i % 3))
    fake.locator_faults = set(range(1, 1000))
    state = {}
    got = [r["source_id"] for r in conn(fake, lookback_seconds=0).records(state)]
    assert got == order(fake)
    assert fake.faults and set(fake.faults) == {"INVALID_QUERY_LOCATOR"}
    assert cursor_of(state) == (ts(2), "00Q00029")


@pytest.mark.parametrize("incremental", [False, True])
def test_query_timeout_splits_into_smaller_windows(fake, incremental):
    fake.page_size = 5
    for i in range(60):  # 3 rows a second over 20 seconds spread across 10 minutes
        fake.add("Lead", f"00Q{i:05d}", ts(i // 3 % 60, minute=i // 6))
    fake.timeout_over = 8  # any query over more than 8 rows times out
    state = {CURSOR: {"Lead": {"ts": "2026-02-01T09:59:00.000+0000", "id": "00Q"}}} \
        if incremental else {}
    got = [r["source_id"] for r in conn(fake, lookback_seconds=0).records(state)]
    assert got == order(fake)
    assert "QUERY_TIMEOUT" in fake.faults and set(fake.faults) == {"QUERY_TIMEOUT"}
    assert any("SystemModstamp < " in q for q in fake.queries)  # windows had an upper bound
    last = max(fake.rows["Lead"], key=lambda r: (r["SystemModstamp"], r["Id"]))
    assert cursor_of(state) == (last["SystemModstamp"], last["Id"])


def test_both_faults_together_with_lookback_and_deletes(fake):
    fake.page_size = 3
    for i in range(40):
        fake.add("Lead", f"00Q{i:05d}", ts(i % 8, minute=i % 5), Email=f"l{i}@x.com")
    fake.rows["Lead"][7]["IsDeleted"] = True
    fake.timeout_over = 6
    fake.locator_faults = {1, 3, 5, 8, 13}
    state = {}
    recs = list(conn(fake).records(state))
    assert [r["source_id"] for r in recs] == order(fake)
    assert [r["source_id"] for r in recs if r.get("deleted")] == ["00Q00007"]
    assert {"QUERY_TIMEOUT", "INVALID_QUERY_LOCATOR"} <= set(fake.faults)
    # an unchanged re-run (lookback re-reads, faults still on) sends nothing again
    assert list(conn(fake).records(state)) == []


def test_a_one_second_window_that_still_times_out_stops_with_a_clear_error(fake):
    for i in range(3):
        fake.add("Lead", f"00QA{i}", ts(5))
    for i in range(12):  # more than timeout_over in a single second: no window can help
        fake.add("Lead", f"00QB{i:02d}", ts(9))
    fake.timeout_over = 5
    state = {}
    got = []
    with pytest.raises(SourceError, match="QUERY_TIMEOUT.*one-second.*2026-02-01T10:00:09Z"):
        for rec in conn(fake, lookback_seconds=0).records(state):
            got.append(rec["source_id"])
    assert got == ["00QA0", "00QA1", "00QA2"]
    assert cursor_of(state) == (ts(5), "00QA2")  # what was read is kept, nothing past it


def test_restart_within_a_second_of_millisecond_stamps_repeats_nothing(fake):
    """Salesforce compares SystemModstamp to the millisecond but SOQL literals are whole
    seconds: the restart's keyset matches rows of that second that were read already."""
    fake.ms_precision = True
    fake.page_size = 4
    for i in range(24):  # 2 seconds, 12 distinct milliseconds each, Ids against time order
        stamp = f"2026-02-01T10:00:0{i // 12}.{(i % 12) * 70:03d}+0000"
        fake.add("Lead", f"00Q{99 - i:05d}", stamp)
    fake.locator_faults = {1, 2, 3, 4}
    state = {}
    got = [r["source_id"] for r in conn(fake, lookback_seconds=0).records(state)]
    assert got == order(fake)
    assert len(fake.faults) == 4
    assert cursor_of(state) == ("2026-02-01T10:00:01.770+0000", "00Q00076")


def test_locators_expiring_without_progress_stop_cleanly_after_a_bound(fake):
    """One second holding more millisecond-stamped rows than a page, every locator expiring:
    each restart's first page is rows already read, so the reader gives up, keeping the cursor."""
    fake.ms_precision = True
    fake.page_size = 3
    for i in range(10):
        fake.add("Lead", f"00Q{i:05d}", f"2026-02-01T10:00:00.{i * 10:03d}+0000")
    fake.locator_faults = set(range(1, 1000))
    state, got = {}, []
    with pytest.raises(SourceError, match="INVALID_QUERY_LOCATOR"):
        for rec in conn(fake, lookback_seconds=0).records(state):
            got.append(rec["source_id"])
    assert got == ["00Q00000", "00Q00001", "00Q00002", "00Q00003"]  # each once, in order
    assert len(fake.faults) == 7  # 1 with progress, then 6 without: more than the bound of 5
    assert cursor_of(state) == ("2026-02-01T10:00:00.030+0000", "00Q00003")


def test_property_any_mix_of_faults_reads_each_record_once_in_order():
    """For any org (tied stamps, milliseconds compared or not), page size, set of expiring
    locators and timeout threshold: the read yields each record once in (SystemModstamp, Id)
    order with the cursor on the last one, or stops with a SourceError having yielded a prefix
    of that order with the cursor on its last record (never a loss, never a repeat)."""
    from collections import Counter

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from tests.fakes.salesforce import FakeSalesforce

    stamp = st.tuples(st.integers(0, 3), st.integers(0, 4), st.sampled_from([0, 0, 250, 900]))
    with FakeSalesforce() as fake:

        @settings(max_examples=40, deadline=None)  # each example is one read over HTTP
        @given(st.lists(stamp, min_size=1, max_size=25), st.integers(1, 6),
               st.sets(st.integers(1, 20), max_size=8), st.none() | st.integers(1, 8),
               st.booleans())
        def check(stamps, page, expiring, timeout_over, ms):
            fake.rows["Lead"].clear()
            fake.faults.clear()
            fake.locator_fetches = 0
            fake.page_size, fake.locator_faults = page, set(expiring)
            fake.timeout_over, fake.ms_precision = timeout_over, ms
            for i, (minute, second, milli) in enumerate(stamps):
                fake.add("Lead", f"00Q{(i * 7) % 25:04d}",
                         f"2026-02-01T10:{minute:02d}:{second:02d}.{milli if ms else 0:03d}+0000")
            state, got = {}, []
            try:
                for rec in conn(fake, lookback_seconds=0).records(state):
                    got.append(rec["source_id"])
                finished = True
            except SourceError:
                finished = False
            want = order(fake)
            assert got == (want if finished else want[:len(got)])
            if got:
                last = next(r for r in fake.rows["Lead"] if r["Id"] == got[-1])
                assert cursor_of(state) == (last["SystemModstamp"], last["Id"])
            # whole-second stamps: a restart always makes progress, and a split always helps
            # unless one second alone holds more rows than a query may return
            per_second = max(Counter((m, s) for m, s, _ in stamps).values())
            if not ms and (timeout_over is None or per_second <= timeout_over):
                assert finished

        check()
