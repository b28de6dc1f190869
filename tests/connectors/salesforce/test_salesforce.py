"""Salesforce connector against a fake org over real HTTP."""

import logging

import pytest

from leadbridge.connectors.salesforce import CURSOR, SalesforceConnector
from leadbridge.errors import OptionsError, SourceError


def ts(s):
    return f"2026-02-01T10:00:{s:02d}.000+0000"


def conn(fake, **opts):
    return SalesforceConnector(login_url=fake.base_url, client_id="cid",
                               client_secret="sf-client-secret", **opts)


def test_full_then_incremental_every_record_once_with_ties_and_deletes(fake):
    fake.page_size = 7
    for i in range(40):  # 4 timestamps only: ties straddle every page boundary
        fake.add("Lead", f"00Q{i:05d}", ts(i % 4), Email=f"l{i}@x.com", Status="Open",
                 OwnerEmail="o@x.com", Budget__c=i)
    fake.rows["Lead"][0]["IsConverted"] = True
    state = {}
    recs = list(conn(fake, custom_fields="Budget__c").records(state))
    ids = [r["source_id"] for r in recs]
    assert len(ids) == len(set(ids)) == 39 and "00Q00000" not in ids
    r1 = next(r for r in recs if r["source_id"] == "00Q00001")
    assert r1["owner"] == "o@x.com" and r1["stage"] == "Open"
    assert r1["custom_fields"]["Budget__c"] == 1
    fake.rows["Lead"][5].update(SystemModstamp=ts(30), Email="new@x.com")
    fake.rows["Lead"][6].update(SystemModstamp=ts(30), IsDeleted=True)
    fake.add("Lead", "00Q99999", ts(3), Email="tie@x.com")  # same ts, higher Id than cursor
    recs2 = list(conn(fake, custom_fields="Budget__c", lookback_seconds=0).records(state))
    got = {r["source_id"]: r for r in recs2}
    assert set(got) == {"00Q00005", "00Q00006", "00Q99999"}
    assert got["00Q00005"]["contact_email"] == "new@x.com" and got["00Q00006"]["deleted"]
    assert state[CURSOR]["Lead"] == {"ts": ts(30), "id": "00Q00006"}


def test_lookback_finds_rows_committed_late_and_never_resends_a_version(fake):
    for i in range(10):
        fake.add("Lead", f"00Q{i:05d}", ts(10 + i))
    state = {}
    list(conn(fake).records(state))
    cur = state[CURSOR]["Lead"]
    assert (cur["ts"], cur["id"]) == (ts(19), "00Q00009") and len(cur["recent"]) == 10
    assert list(conn(fake).records(state)) == []  # all within the lookback, all sent already
    # committed after that run, stamped earlier than its cursor (Airbyte #27146)
    fake.add("Lead", "00QLATE", ts(15), Email="late@x.com")
    assert [r["source_id"] for r in conn(fake, lookback_seconds=0).records(dict(state))] == []
    fake.rows["Lead"][2]["SystemModstamp"] = ts(40)
    got = [r["source_id"] for r in conn(fake).records(state)]
    assert got == ["00QLATE", "00Q00002"]
    assert (state[CURSOR]["Lead"]["ts"], state[CURSOR]["Lead"]["id"]) == (ts(40), "00Q00002")
    assert list(conn(fake).records(state)) == []


def test_contacts_and_expired_session_refreshed_once(fake):
    fake.add("Lead", "00QA", ts(1), Email="l@x.com")
    fake.add("Contact", "003A", ts(1), Email="c@x.com")
    it = conn(fake, objects="Lead,Contact").records({})
    assert next(it)["source_id"] == "00QA"
    fake.expire_sessions()  # the session dies mid-run: re-authenticate once, go on
    rest = list(it)
    assert [r["source_id"] for r in rest] == ["003A"] and rest[0]["custom_fields"]["salesforce_object"] == "Contact"
    assert fake.logins == 2


def test_request_limit_exceeded_stops_cleanly(fake):
    fake.limit_exceeded = True
    with pytest.raises(SourceError, match="REQUEST_LIMIT_EXCEEDED"):
        list(conn(fake).records({}))
    fake.limit_exceeded, fake.api_used = False, 95_000
    with pytest.raises(SourceError, match="stop_at_usage"):
        list(conn(fake).records({}))


def test_secrets_never_shown_and_options(fake, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError) as err:
        list(SalesforceConnector(login_url=fake.base_url, client_id="cid",
                                 client_secret="wrong-secret-xyz").records({}))
    assert "invalid_grant" in str(err.value) or "authentication failure" in str(err.value)
    assert "wrong-secret-xyz" not in str(err.value) + caplog.text
    with pytest.raises(OptionsError, match="jwt"):
        conn(fake, auth="jwt")
    with pytest.raises(OptionsError, match="objects"):
        conn(fake, objects="Account")
    fake.refresh_tokens.add("rt-secret")
    fake.add("Lead", "00QR", ts(1))
    c = conn(fake, auth="refresh_token", refresh_token="rt-secret")
    assert [r["source_id"] for r in c.records({})] == ["00QR"]
    assert "rt-secret" not in repr(c.config)


def test_rotated_refresh_token_used_for_the_next_session(fake):
    fake.refresh_tokens.add("rt-first")
    fake.rotate_refresh = True
    fake.page_size = 1
    fake.add("Lead", "00QA", ts(1))
    fake.add("Lead", "00QB", ts(2))
    it = conn(fake, auth="refresh_token", refresh_token="rt-first").records({})
    assert next(it)["source_id"] == "00QA"
    fake.expire_sessions()  # the next login must use the rotated token: the first is revoked
    assert [r["source_id"] for r in it] == ["00QB"] and fake.logins == 2
    assert "rt-first" not in fake.refresh_tokens
