"""Pipedrive connector against a fake Pipedrive over real HTTP."""

import time
from datetime import datetime, timedelta, timezone

import pytest

from leadbridge.connectors.pipedrive import CURSOR, PipedriveConnector
from leadbridge.errors import OptionsError, SourceError
from tests.fakes.pipedrive import BUYER_SELLER

T0 = datetime(2026, 3, 3, 16, 45, tzinfo=timezone.utc)
TOKEN = "pd-secret-token"


def run(fake, state, **opts):
    opts = {"token": TOKEN, "base_url": fake.base_url, **opts}
    return list(PipedriveConnector(**opts).records(state))


def test_persons_map_primary_owner_custom_fields_and_lead_line(fake):
    sam = fake.add(T0, name="Sam Okafor", first_name="Sam", last_name="Okafor", owner_id=12,
                   emails=[{"value": "sam.home@example.com", "primary": False, "label": "home"},
                           {"value": "sam.okafor@example.com", "primary": "true",
                            "label": "work"}],
                   phones=[{"value": "+1 555 555 0123", "primary": True, "label": "mobile"}],
                   custom_fields={BUYER_SELLER: 18}, label_ids=[5])
    gone = fake.add(T0, name="Rita Novak", is_deleted=True, owner_id=14)
    state = {}
    by_id = {r["source_id"]: r for r in run(fake, state, lead_line_field="Buyer or seller")}
    a = by_id[str(sam)]
    assert a["contact_email"] == "sam.okafor@example.com" and a["emails"] == [
        "sam.home@example.com"]
    assert a["contact_phone"] == "+1 555 555 0123" and a["phones"] is None
    assert a["owner"] == "ann@example.com" and a["lead_line"] == "seller"
    assert a["custom_fields"] == {"Buyer or seller": "Seller", "label_ids": [5]}
    assert "source_platform" not in a
    b = by_id[str(gone)]
    assert b["deleted"] is True and b["owner"] == "14" and b["contact_name"] == "Rita Novak"
    assert state[CURSOR] == "2026-03-03T16:45:00.000Z"
    path, query, headers = next(c for c in fake.calls if c[0] == "/api/v2/persons")
    assert headers["x-api-token"] == TOKEN and "api_token" not in query
    assert query["sort_by"] == ["update_time"]


def test_every_person_once_across_full_and_incremental_runs_with_ties(fake):
    ids = [fake.add(T0 + timedelta(seconds=i // 6)) for i in range(100)]
    state = {}
    full = run(fake, state, page_size=7)
    assert sorted(int(r["source_id"]) for r in full) == sorted(ids)
    changed = set()
    for i in range(0, 100, 4):
        fake.touch(ids[i], T0 + timedelta(hours=1, seconds=i // 30), first_name=f"v{i}")
        changed.add(str(ids[i]))
    for _ in range(9):
        changed.add(str(fake.add(T0 + timedelta(hours=1, seconds=3))))
    fake.calls.clear()
    inc = run(fake, state, page_size=7, lookback_seconds=0)
    got = [r["source_id"] for r in inc]
    assert len(got) == len(set(got)) and set(got) == changed
    assert all(q.get("updated_since") == ["2026-03-03T16:45:16Z"]
               for p, q, h in fake.calls if p == "/api/v2/persons")
    assert run(fake, state, page_size=7, lookback_seconds=0) == []


def test_burst_limit_waited_from_headers_and_429_retried(fake, monkeypatch):
    from leadbridge.connectors import _http
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 1.0)  # wait x-ratelimit-reset as given
    fake.burst, fake.window = 4, 0.3
    for i in range(30):
        fake.add(T0 + timedelta(seconds=i))
    started = time.monotonic()
    assert len(run(fake, {}, page_size=3)) == 30
    assert fake.rejected_429 == 0 and time.monotonic() - started >= 0.3
    fake._hits.spend(4)  # someone else spent the window: a 429 first
    assert len(run(fake, {}, page_size=30)) == 30
    assert fake.rejected_429 >= 1


def test_bad_token_is_clear_and_never_shown(fake):
    with pytest.raises(SourceError) as exc:
        run(fake, {}, token="pd-wrong-token")
    assert "401" in str(exc.value) and "unauthorized" in str(exc.value)
    assert "pd-wrong-token" not in str(exc.value)
    assert TOKEN not in repr(PipedriveConnector(token=TOKEN))


def test_server_errors_retried_and_options_checked(fake):
    fake.add(T0)
    fake.fail_queue = [502, 503]
    assert len(run(fake, {})) == 1
    with pytest.raises(OptionsError, match="lead_line_field"):
        run(fake, {}, lead_line_field="No such field")
    with pytest.raises(OptionsError) as exc:
        PipedriveConnector(page_size=501)
    assert "PIPEDRIVE_TOKEN" in str(exc.value)
