"""Bulk API 2.0 query jobs: same records and cursor as the REST query path, pages, failures."""

import copy

import pytest

from leadbridge.connectors._salesforce_bulk import parse_csv
from leadbridge.connectors.salesforce import CURSOR, SalesforceConnector
from leadbridge.errors import SourceError


def ts(s):
    return f"2026-02-01T10:00:{s:02d}.000+0000"


def conn(fake, **opts):
    opts.setdefault("lookback_seconds", 0)
    return SalesforceConnector(login_url=fake.base_url, client_id="cid",
                               client_secret="sf-client-secret", custom_fields="Budget__c", **opts)


def soql(fake, state):
    return sorted(conn(fake, bulk_threshold=10**9).records(state), key=lambda r: r["source_id"])


def bulk(fake, state, **opts):
    return sorted(conn(fake, bulk_threshold=10, bulk_max_records=7, **opts).records(state),
                  key=lambda r: r["source_id"])


def seed(fake):
    for i in range(45):  # 5 timestamps: ties everywhere
        fake.add("Lead", f"00Q{i:05d}", ts(i % 5), Email=f"l{i}@x.com", Status="Open",
                 FirstName=f"F{i}", LastName="L", Name=f"F{i} L", OwnerEmail="o@x.com",
                 Phone=None if i % 3 else f"(555) 555-01{i:02d}", Budget__c=i * 1.5 if i % 2 else i)
    fake.rows["Lead"][1]["IsConverted"] = True       # skipped on both paths
    fake.rows["Lead"][2]["IsDeleted"] = True         # a tombstone on both paths
    fake.rows["Lead"][3].update(FirstName='Quote "q", comma\nand newline', Company="A, Inc.")


def test_bulk_yields_exactly_what_the_rest_query_yields_full_and_incremental(fake):
    seed(fake)
    s_soql, s_bulk = {}, {}
    expected = soql(fake, s_soql)
    got = bulk(fake, s_bulk)
    assert got == expected and len(got) == 44          # 45 minus the converted lead
    assert s_bulk == s_soql and s_bulk[CURSOR]["Lead"] == {"ts": ts(4), "id": "00Q00044"}
    assert len(fake.result_pages) == 7 and sum(fake.result_pages) == 45   # 7 pages of <= 7
    assert {j["operation"] for j in fake.jobs.values()} == {"queryAll"}
    # changes, a deletion and a new record tied with the cursor
    for i in (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16):
        fake.rows["Lead"][i].update(SystemModstamp=ts(30), Email=f"new{i}@x.com")
    fake.rows["Lead"][20].update(SystemModstamp=ts(31), IsDeleted=True)
    fake.add("Lead", "00Q99999", ts(4), Email="tie@x.com")
    before = copy.deepcopy(s_soql)
    expected = soql(fake, s_soql)
    jobs = len(fake.jobs)
    got = bulk(fake, s_bulk)
    assert len(fake.jobs) == jobs + 1                  # 14 due > threshold 10: a Bulk job again
    assert got == expected
    assert [r["source_id"] for r in got] == [*(f"00Q{i:05d}" for i in range(5, 17)),
                                             "00Q00020", "00Q99999"]
    assert s_bulk == s_soql != before


def test_threshold_decides_by_count(fake):
    seed(fake)
    state = {}
    list(conn(fake, bulk_threshold=45).records(state))   # 45 rows due, not more: REST query
    assert not fake.jobs and any("queryAll" in c for c in fake.calls)
    fake.rows["Lead"][0]["SystemModstamp"] = ts(40)
    list(conn(fake, bulk_threshold=0).records(state))    # 0 = always Bulk, no COUNT()
    assert len(fake.jobs) == 1
    assert [p for p in fake.result_pages] == [1]


@pytest.mark.parametrize("outcome", ["Failed", "Aborted"])
def test_job_failure_is_a_clear_error_and_keeps_the_cursor(fake, outcome):
    seed(fake)
    fake.bulk_fail = outcome
    state = {CURSOR: {"Lead": {"ts": ts(0), "id": "00Q00000"}}}
    got = []
    with pytest.raises(SourceError) as err:
        for rec in bulk(fake, state):
            got.append(rec)
    msg = str(err.value)
    assert f"ended {outcome}" in msg and "INVALID_FIELD: injected failure" in msg
    assert "bulk_threshold" in msg and got == []
    assert state == {CURSOR: {"Lead": {"ts": ts(0), "id": "00Q00000"}}}


def test_job_still_running_after_the_timeout_is_aborted(fake):
    seed(fake)
    fake.bulk_polls = 10**6
    with pytest.raises(SourceError, match="aborted"):
        list(conn(fake, bulk_threshold=0, bulk_timeout_seconds=0).records({}))
    assert [j["state"] for j in fake.jobs.values()] == ["Aborted"]


def test_csv_pages_parse_quotes_and_reject_ragged_rows():
    rows = list(parse_csv('"Id","Name"\n"1","a ""b"", c\nd"\n"2",""\n', where="p"))
    assert rows == [{"Id": "1", "Name": 'a "b", c\nd'}, {"Id": "2", "Name": None}]
    assert list(parse_csv("", where="p")) == []
    with pytest.raises(SourceError, match="page 3, CSV line 3: 1 values for 2 columns"):
        list(parse_csv('"Id","Name"\n"1","a"\n"2"\n', where="page 3"))


def test_transient_errors_retried_on_every_bulk_step(fake):
    seed(fake)
    expected = soql(fake, {})
    fake.bulk_hiccups = True  # one 503 each on create, poll and results
    fake.fail_queue = [500]   # and a 500 on the first REST call (describe)
    assert bulk(fake, {}) == expected
    assert fake.hiccups == ["create", "poll", "results"] and not fake.fail_queue


def test_bulk_and_rest_agree_with_a_lookback_and_resend_nothing(fake):
    seed(fake)
    s_soql, s_bulk = {}, {}
    assert bulk(fake, s_bulk, lookback_seconds=300) == sorted(
        conn(fake, bulk_threshold=10**9, lookback_seconds=300).records(s_soql),
        key=lambda r: r["source_id"])
    assert s_bulk == s_soql and len(s_bulk[CURSOR]["Lead"]["recent"]) == 45
    jobs = len(fake.jobs)
    assert bulk(fake, s_bulk, lookback_seconds=300) == []   # a job re-reads the window...
    assert len(fake.jobs) == jobs + 1                        # ...and sends none of it again
