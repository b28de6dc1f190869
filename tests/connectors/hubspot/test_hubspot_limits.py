"""HubSpot: long property lists, the daily limit, OAuth renewal from expires_in, edits made
while a sync reads, merged contacts."""

import time

import pytest

from leadbridge.connectors.hubspot import CURSOR, HubSpotConnector, property_chunks
from leadbridge.errors import SourceError

TOKEN = "pat-secret-token"
BASE = 1_700_000_000_000
LONG = tuple(f"custom_property_with_a_long_internal_name_{i:04d}" for i in range(400))


def conn(fake, **opts):
    fake.search_per_second = 10_000
    return HubSpotConnector(token=TOKEN, base_url=fake.base_url, search_per_second=1000, **opts)


def test_long_property_lists_are_chunked_under_the_url_limit_and_merged_by_id(fake):
    fake.custom_props = LONG  # ~19,600 URL characters of names: too long for one request
    for i in range(1, 151):
        fake.add(str(i), BASE + i, email=f"c{i}@x.com", **{LONG[0]: f"first{i}", LONG[-1]: f"last{i}"})
    recs = list(conn(fake, custom_properties="*", include_archived=False).records({}))
    assert sorted(int(r["source_id"]) for r in recs) == list(range(1, 151))
    for r in recs:
        i = r["source_id"]
        assert r["contact_email"] == f"c{i}@x.com"
        assert r["custom_fields"] == {LONG[0]: f"first{i}", LONG[-1]: f"last{i}"}
    assert max(fake.list_urls) <= fake.max_url
    assert len(fake.list_urls) == 2 * 2  # 2 pages x 2 property chunks
    with pytest.raises(SourceError, match="414"):  # one unsplit list is refused by HubSpot
        list(conn(fake, custom_properties="*", properties_chars=10**6).records({}))


def test_property_chunks_keep_every_name_once_in_order():
    props = [f"p{i}" * (i % 7 + 1) for i in range(300)]
    chunks = property_chunks(props, 200)
    assert [p for c in chunks for p in c] == props
    assert all(sum(len(p) + 3 for p in c) <= 200 for c in chunks) and len(chunks) > 1


def test_spent_daily_allowance_stops_without_retrying(fake):
    for i in range(1, 301):
        fake.add(str(i), BASE + i)
    fake.daily_remaining = 4  # owners (active, deactivated), two pages: the allowance is gone
    state = {}
    got = []
    with pytest.raises(SourceError, match="daily API limit"):
        for r in conn(fake).records(state):
            got.append(r)
    assert len(got) == 100 and state == {} and len(fake.calls) == 4
    fake.daily_remaining, fake.daily_spent = None, True
    with pytest.raises(SourceError, match="daily API limit"):
        list(conn(fake).records({}))
    assert fake.rejected_429 == 1


def test_oauth_token_renewed_from_expires_in_before_any_401_and_rotation_kept(fake):
    fake.tokens = set()
    fake.refresh_tokens = {"refresh-secret": "client-secret-value"}
    fake.expires_in, fake.rotate_refresh = 0, True  # every token is due at once
    for i in range(1, 251):
        fake.add(str(i), BASE + i)
    c = HubSpotConnector(refresh_token="refresh-secret", client_id="cid",
                         client_secret="client-secret-value", base_url=fake.base_url)
    recs = list(c.records({}))
    assert len({r["source_id"] for r in recs}) == 250
    api_calls = len(fake.calls)
    assert fake.unauthorized == 0 and fake.refreshes == api_calls >= 5


def test_contact_edited_during_a_full_sync_is_read_by_the_next_run(fake):
    for i in range(1, 251):
        fake.add(str(i), BASE + i)
    state = {}
    it = conn(fake).records(state)
    next(it)  # page 1 read; now contact 1 (already read) and 250 (not yet) change
    now = int(time.time() * 1000)
    fake.touch("1", now, firstname="edited")
    fake.touch("250", now + 1, firstname="later")
    assert len(list(it)) == 249
    assert state[CURSOR] <= now  # the run start, not the newest timestamp seen
    time.sleep(0.01)  # the next run starts after both edits
    again = {r["source_id"]: r for r in conn(fake, lookback_seconds=0).records(state)}
    # 1 changed after it was read: sent again; 250 was read in its new version: not resent
    assert list(again) == ["1"] and again["1"]["first_name"] == "edited"


def test_contacts_merged_into_another_are_reported_deleted(fake):
    fake.add("10", BASE, email="keep@x.com", hs_merged_object_ids="11;12")
    fake.add("12", BASE, email="also-listed@x.com")  # listed: stays a live record
    recs = {r["source_id"]: r for r in conn(fake).records({})}
    assert recs["11"] == {"source_id": "11", "source_platform": "hubspot", "deleted": True}
    assert not recs["12"].get("deleted") and not recs["10"].get("deleted")


def test_lead_status_can_be_the_stage(fake):
    fake.add("1", BASE, lifecyclestage="lead", hs_lead_status="IN_PROGRESS")
    (r,) = conn(fake, stage_property="hs_lead_status", include_archived=False).records({})
    assert r["stage"] == "IN_PROGRESS" and r["custom_fields"] == {"lifecyclestage": "lead"}


def test_lookback_rereads_skip_versions_already_sent_and_archives_are_reported_once(fake):
    for i in range(1, 21):  # all within the 300 s lookback of the cursor
        fake.add(str(i), BASE + i * 1000)
    fake.add("21", BASE)
    fake.archive("21", BASE + 50_000)
    state = {}
    first = [r["source_id"] for r in conn(fake).records(state)]
    assert sorted(first, key=int) == [str(i) for i in range(1, 22)]
    assert [r["source_id"] for r in conn(fake).records(state)] == []  # nothing changed
    fake.add("22", BASE + 5_500)          # indexed late: older than the cursor, never sent
    fake.touch("3", BASE + 30_000, firstname="new")
    fake.archive("4", BASE + 60_000)
    got = {r["source_id"]: r for r in conn(fake).records(state)}
    assert sorted(got, key=int) == ["3", "4", "22"] and got["4"]["deleted"]
    assert [r["source_id"] for r in conn(fake).records(state)] == []


def test_malformed_token_530_is_named(fake):
    fake.fail_queue = [530]
    with pytest.raises(SourceError, match="530.*malformed token"):
        list(conn(fake).records({}))
