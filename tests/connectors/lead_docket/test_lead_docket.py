"""Lead Docket connector against a fake firm API over real HTTP."""

from datetime import datetime, timedelta

import pytest

from leadbridge.connectors.lead_docket import CURSOR, LeadDocketConnector
from leadbridge.errors import OptionsError, SourceError

T0 = datetime(2026, 3, 1, 14, 5, 11)  # firm-local (Chicago): no offset on the wire
KEY = "ld-secret-key"


def run(fake, state, **opts):
    opts = {"api_key": KEY, "base_url": fake.base_url, "requests_per_second": 0,
            "timezone": "America/Chicago", **opts}
    return list(LeadDocketConnector(**opts).records(state))


def test_leads_map_phones_status_and_local_times(fake):
    a = fake.add(T0, FirstName="Jordan", LastName="Blake", Email="jordan.blake@example.com",
                 PhoneNumber="(555) 555-0164", MobilePhone="(555) 555-0164", HomePhone=None,
                 PreferredContactMethod="Text", StatusName="Under Review",
                 SubStatusName="Awaiting Records", CaseType="Auto Accident")
    b = fake.add(T0 + timedelta(hours=1), FirstName="Rosa", LastName="Mendez",
                 HomePhone="555-555-0101", WorkPhone="555-555-0102",
                 PreferredContactMethod="WorkPhone", Code="EXT-2207")
    state = {}
    by_id = {r["source_id"]: r for r in run(fake, state)}
    j = by_id[str(a)]
    assert j["contact_name"] == "Jordan Blake" and j["source_platform"] == "lead_docket"
    assert j["contact_phone"] == "(555) 555-0164" and j["phones"] is None
    assert j["stage"] == "Under Review" and j["custom_fields"]["CaseType"] == "Auto Accident"
    assert j["updated_at"] == "2026-03-01T20:05:11.000Z"  # Chicago (UTC-6) to UTC
    r = by_id[str(b)]
    assert r["contact_phone"] == "555-555-0102" and r["phones"] == ["555-555-0101"]
    assert state[CURSOR] == "2026-03-01T21:05:11.000Z"
    assert fake.calls[0]["date"] == "2000-01-01T00:00:00"
    assert fake.calls[0]["sortOrder"] == "Ascending"


def test_every_lead_once_even_when_leads_change_mid_run(fake):
    ids = [fake.add(T0 + timedelta(seconds=i // 3)) for i in range(60)]
    moved = []

    def edit_during_the_run(page):
        if len(fake.calls) == 2:  # between page 1 and the next request
            fake.touch(ids[2], T0 + timedelta(hours=5), FirstName="moved")
            moved.append(ids[2])

    fake.on_request = edit_during_the_run
    state = {}
    full = run(fake, state, page_size=10)
    got = [int(r["source_id"]) for r in full]
    assert moved and sorted(set(got)) == sorted(ids) and len(got) == len(set(got))
    fake.on_request = None
    changed = set()
    for i in range(0, 60, 4):
        fake.touch(ids[i], T0 + timedelta(hours=6, seconds=i // 20))
        changed.add(str(ids[i]))
    inc = run(fake, state, page_size=10, lookback_seconds=0)
    got = [r["source_id"] for r in inc]
    # the lead edited mid-run was read once with its old data: the next run brings the new
    assert len(got) == len(set(got)) and set(got) == changed | {str(moved[0])}
    assert run(fake, state, lookback_seconds=0) == []


def test_more_ties_than_a_page_turn_pages(fake):
    ids = [fake.add(T0) for _ in range(25)]
    assert sorted(int(r["source_id"]) for r in run(fake, {}, page_size=10)) == ids
    assert {c["page"] for c in fake.calls} == {"1", "2", "3"}


def test_rate_limit_and_server_errors_are_retried(fake, monkeypatch):
    from leadbridge.connectors import _http
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 1.0)
    fake.per_window, fake.window = 2, 0.2
    for i in range(12):
        fake.add(T0 + timedelta(seconds=i))
    fake.fail_queue = [500]
    assert len(run(fake, {}, page_size=3)) == 12
    assert fake.rejected_429 >= 1


def test_client_side_pace(fake):
    for i in range(6):
        fake.add(T0 + timedelta(seconds=i))
    import time
    started = time.monotonic()
    run(fake, {}, page_size=2, requests_per_second=20)
    assert time.monotonic() - started >= 2 / 20


def test_bad_key_is_clear_and_hidden(fake):
    with pytest.raises(SourceError) as exc:
        run(fake, {}, api_key="ld-wrong-key")
    assert "401" in str(exc.value) and "denied" in str(exc.value)
    assert "ld-wrong-key" not in str(exc.value)
    assert KEY not in repr(LeadDocketConnector(api_key=KEY, firm="smithlaw"))


def test_options_checked_together():
    with pytest.raises(OptionsError, match="LEAD_DOCKET_API_KEY"):
        LeadDocketConnector(firm="smithlaw")
    with pytest.raises(OptionsError) as exc:
        LeadDocketConnector(api_key=KEY, timezone="Mars/Olympus", page_size=900)
    text = str(exc.value)
    assert "LEAD_DOCKET_FIRM" in text and "Mars/Olympus" in text and "page_size" in text
    c = LeadDocketConnector(api_key=KEY, firm="smithlaw")
    assert c.base_url == "https://smithlaw.leaddocket.com"
