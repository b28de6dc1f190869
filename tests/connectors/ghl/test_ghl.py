"""GoHighLevel connector against a fake GHL over real HTTP."""

import time
from datetime import datetime, timedelta, timezone

import pytest

from leadbridge.connectors.ghl import CURSOR, GHLConnector
from leadbridge.errors import OptionsError, SourceError

T0 = datetime(2026, 3, 1, 15, 0, tzinfo=timezone.utc)
TOKEN = "pit-secret-token"


def run(fake, state, **opts):
    opts = {"token": TOKEN, "location_id": fake.location_id, "base_url": fake.base_url, **opts}
    return list(GHLConnector(**opts).records(state))


def test_full_sync_maps_tags_custom_fields_owner_and_attribution(fake):
    cid = fake.add(T0, firstName="Dana", lastName="Reyes", email="dana.reyes@example.com",
                   additionalEmails=[{"email": "dana.r@example.com"}], phone="+15555550142",
                   additionalPhones=[{"phone": "+15555550143"}], type="lead",
                   source="quote form", assignedTo="Us3rA1b2C3d4E5f6G7h8",
                   tags=["google ads", "new lead"],
                   customFields=[{"id": "Cf1Aa2Bb3Cc4Dd5Ee6Ff", "value": "Deep clean"}],
                   attributionSource={"utmSource": "google", "gclid": "G-1"})
    phone_only = fake.add(T0 + timedelta(minutes=1), phone="+15555550177", type="customer")
    state = {}
    by_id = {r["source_id"]: r for r in run(fake, state)}
    a = by_id[cid]
    assert a["contact_name"] == "Dana Reyes" and a["source_platform"] == "ghl"
    assert a["contact_email"] == "dana.reyes@example.com" and a["emails"] == ["dana.r@example.com"]
    assert a["contact_phone"] == "+15555550142" and a["phones"] == ["+15555550143"]
    assert a["owner"] == "sam.rivera@example.com" and a["stage"] == "lead"
    assert a["custom_fields"] == {"Preferred service": "Deep clean", "tags": ["google ads",
                                  "new lead"], "source": "quote form",
                                  "attribution_utmSource": "google", "attribution_gclid": "G-1"}
    b = by_id[phone_only]
    assert b["contact_name"] is None and b["contact_phone"] == "+15555550177"
    assert state[CURSOR] == "2026-03-01T15:01:00.000Z"
    searches = [body for m, p, body in fake.calls if p == "/contacts/search"]
    assert all(s["locationId"] == fake.location_id and s["pageLimit"] == 500 for s in searches)


def test_every_contact_once_past_the_page_cap_and_across_incremental(fake):
    fake.page_cap = 50  # GHL's 10,000, scaled down: only searchAfter reaches beyond it
    ids = [fake.add(T0 + timedelta(seconds=i // 7)) for i in range(140)]  # ties of 7
    state = {}
    full = run(fake, state, page_limit=20)
    assert sorted(r["source_id"] for r in full) == sorted(ids)
    searches = [b for m, p, b in fake.calls if p == "/contacts/search"]
    assert len(searches) == 8 and all("page" not in b for b in searches)
    changed = set()
    for i in range(0, 140, 3):
        fake.touch(ids[i], T0 + timedelta(days=1, seconds=i // 10), firstName=f"v{i}")
        changed.add(ids[i])
    for i in range(30):
        changed.add(fake.add(T0 + timedelta(days=1, seconds=i // 10), firstName=f"n{i}"))
    fake.calls.clear()
    inc = run(fake, state, page_limit=20, lookback_seconds=0)
    got = [r["source_id"] for r in inc]
    assert len(got) == len(set(got)) and set(got) == changed
    first = next(b for m, p, b in fake.calls if p == "/contacts/search")
    assert first["filters"][0]["value"] == {"gte": "2026-03-01T15:00:19.000Z"}


def test_burst_limit_is_respected_from_headers(fake):
    fake.burst_max, fake.burst_ms = 5, 300
    for i in range(60):
        fake.add(T0 + timedelta(seconds=i))
    started = time.monotonic()
    recs = run(fake, {}, page_limit=10, resolve_owners=False)
    assert len(recs) == 60
    assert fake.rejected_429 == 0  # waited for the window instead of hammering
    assert time.monotonic() - started >= 0.3


def test_429_without_retry_after_is_retried(fake):
    fake.add(T0)
    fake.burst_max = 2
    fake._window.spend(2)  # a window another client already spent
    fake.burst_ms = 200
    assert len(run(fake, {}, resolve_owners=False)) == 1


def test_invalid_token_is_a_clear_error_without_the_token(fake):
    fake.add(T0)
    with pytest.raises(SourceError) as exc:
        run(fake, {}, token="pit-wrong-token-value")
    text = str(exc.value)
    assert "401" in text and "Invalid token" in text and "GHL_TOKEN" in text
    assert "pit-wrong-token-value" not in text


def test_wrong_location_names_it(fake):
    with pytest.raises(SourceError, match="location nope"):
        run(fake, {}, location_id="nope", resolve_owners=False)


def test_server_errors_are_retried_and_version_header_sent(fake):
    fake.add(T0)
    fake.fail_queue = [502, 500]
    assert len(run(fake, {}, version="2021-07-28")) == 1
    with pytest.raises(SourceError, match="Version header"):
        run(fake, {}, version="1999-01-01")


def test_options_checked_together_and_secret_hidden():
    with pytest.raises(OptionsError) as exc:
        GHLConnector()
    assert "GHL_TOKEN" in str(exc.value) and "GHL_LOCATION_ID" in str(exc.value)
    c = GHLConnector(token=TOKEN, location_id="L")
    assert TOKEN not in repr(c)
    with pytest.raises(OptionsError, match="page_limit"):
        GHLConnector(token=TOKEN, location_id="L", page_limit=501)
