"""HubSpot connector against a fake HubSpot over real HTTP."""

import logging

import pytest

from leadbridge.connectors.hubspot import CURSOR, HubSpotConnector
from leadbridge.errors import OptionsError, SourceError

TOKEN = "pat-secret-token"

BASE = 1_700_000_000_000


def run(fake, state, **opts):
    fake.search_per_second = 10_000  # the pace test below checks the real 5/s limit
    conn = HubSpotConnector(token=TOKEN, base_url=fake.base_url, search_per_second=1000, **opts)
    return list(conn.records(state))


def test_full_sync_maps_fields_owner_and_archived(fake):
    fake.add("1", BASE, email="a@x.com", firstname="Ann", lastname="Lee", phone="+1 555 0100",
             mobilephone="+1 555 0101", hs_additional_emails="a2@x.com;a3@x.com",
             lifecyclestage="lead", hs_lead_status="NEW", hubspot_owner_id="7",
             favorite_color="blue")
    fake.add("3", BASE, email="c@x.com", hubspot_owner_id="8")
    fake.archived_owners["8"] = "left.the.company@example.com"  # a deactivated user
    fake.add("2", BASE, email="gone@x.com")
    fake.archived.add("2")
    state = {}
    recs = run(fake, state, custom_properties="favorite_color")
    by_id = {r["source_id"]: r for r in recs}
    a = by_id["1"]
    assert a["contact_email"] == "a@x.com" and a["emails"] == ["a2@x.com", "a3@x.com"]
    assert a["contact_phone"] == "+1 555 0100" and a["phones"] == ["+1 555 0101"]
    assert a["owner"] == "owner@example.com" and a["stage"] == "lead"
    assert a["custom_fields"] == {"favorite_color": "blue", "hs_lead_status": "NEW"}
    assert by_id["2"] == {"source_id": "2", "source_platform": "hubspot", "deleted": True}
    assert by_id["3"]["owner"] == "left.the.company@example.com"
    assert state[CURSOR] == BASE


def test_every_contact_once_across_full_and_incremental_with_cap_and_ties(fake):
    fake.search_cap = 300  # same logic as HubSpot's 10,000, smaller to keep the test fast
    for i in range(1, 251):
        fake.add(str(i), BASE + i)
    state = {}
    assert sorted(int(r["source_id"]) for r in run(fake, state)) == list(range(1, 251))
    # 1,000 changes: 8 timestamps only, so ties straddle every page and window boundary
    for i in range(1, 1001):
        if str(i) in fake.contacts:
            fake.touch(str(i), BASE + 10_000_000 + (i % 8) * 1000, firstname=f"v{i}")
        else:
            fake.add(str(i), BASE + 10_000_000 + (i % 8) * 1000, firstname=f"v{i}")
    recs = run(fake, state, lookback_seconds=0, search_cap=300)
    ids = [r["source_id"] for r in recs]
    assert len(ids) == len(set(ids)) == 1000
    assert all(r["first_name"] == f"v{r['source_id']}" for r in recs)
    assert any(m == "POST" for m, _ in fake.calls)
    assert state[CURSOR] == BASE + 10_000_000 + 7000


def test_more_equal_timestamps_than_the_search_cap_all_come_through(fake):
    fake.search_cap = 200  # a month-end batch: twice the cap share one lastmodifieddate
    for i in range(1, 400):
        fake.add(str(i), BASE + 5)
    fake.add("400", BASE + 1)  # before the cursor: not due
    state = {CURSOR: BASE + 5}
    ids = [r["source_id"] for r in run(fake, state, lookback_seconds=0, search_cap=200,
                                       include_archived=False)]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 400)]
    searches = [c for c in fake.calls if c[0] == "POST"]
    assert len(searches) >= 4 and state[CURSOR] == BASE + 5


@pytest.mark.parametrize("retry_after", [True, False])
def test_rate_limits_respected(fake, retry_after):
    fake.retry_after = retry_after
    fake.window_max, fake.window_seconds = 5, 0.3
    for i in range(1, 1201):
        fake.add(str(i), BASE + i)
    recs = run(fake, {})
    assert len({r["source_id"] for r in recs}) == 1200
    # the connector waits out the spent window from the headers instead of hitting 429s
    assert fake.rejected_429 <= 1


def test_429_without_retry_after_and_5xx_are_retried(fake):
    fake.retry_after = False
    fake.add("1", BASE)
    fake.fail_queue = [429, 503, 502, 500]
    assert [r["source_id"] for r in run(fake, {}, include_archived=False)] == ["1"]


def test_search_pace_keeps_under_the_per_second_limit(fake):
    for i in range(1, 801):
        fake.add(str(i), BASE + i)
    conn = HubSpotConnector(token=TOKEN, base_url=fake.base_url, search_per_second=4.5,
                            include_archived=False)
    recs = list(conn.records({CURSOR: BASE + 1}))
    assert len(recs) == 800 and fake.rejected_429 == 0


def test_oauth_refresh_and_secrets_never_shown(fake, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    fake.tokens = set()
    fake.refresh_tokens = {"refresh-secret": "client-secret-value"}
    fake.add("1", BASE, email="a@x.com")
    conn = HubSpotConnector(token="expired-secret-token", refresh_token="refresh-secret",
                            client_id="cid", client_secret="client-secret-value",
                            base_url=fake.base_url)
    assert [r["source_id"] for r in conn.records({})][0] == "1"
    bad = HubSpotConnector(token="wrong-secret-token", base_url=fake.base_url)
    with pytest.raises(SourceError) as err:
        list(bad.records({}))
    shown = str(err.value) + caplog.text + "".join(capsys.readouterr()) + repr(conn.config)
    for secret in ("expired-secret-token", "refresh-secret", "client-secret-value",
                   "wrong-secret-token", "access-1"):
        assert secret not in shown
    assert "HubSpot GET" in str(err.value) and "401" in str(err.value)


def test_options_errors(fake, monkeypatch):
    with pytest.raises(OptionsError, match="no credentials"):
        HubSpotConnector(base_url=fake.base_url)
    with pytest.raises(OptionsError, match="nope"):
        run(fake, {}, custom_properties="nope")
    monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_BASE_URL", fake.base_url)
    fake.add("5", BASE)
    assert [r["source_id"] for r in HubSpotConnector(include_archived=False).records({})] == ["5"]
