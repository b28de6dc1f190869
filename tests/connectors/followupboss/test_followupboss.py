"""Follow Up Boss connector against a fake FUB over real HTTP."""

import base64
import time
from datetime import datetime, timedelta, timezone

import pytest

from leadbridge.connectors.followupboss import CURSOR, FollowUpBossConnector
from leadbridge.errors import OptionsError, SourceError

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
KEY, SYSKEY = "fub-secret-key", "sys-secret-key"


def run(fake, state, **opts):
    opts = {"api_key": KEY, "system_key": SYSKEY, "base_url": fake.base_url, **opts}
    return list(FollowUpBossConnector(**opts).records(state))


def test_people_map_primary_first_owner_stage_and_lead_line(fake):
    seller = fake.add(T0, name="Priya Shah", firstName="Priya", lastName="Shah", stage="Lead",
                      source="Zillow", assignedUserId=7, assignedTo="Dana Agent",
                      tags=["Seller", "Spring Open House"], customMoveInDate="2026-06-01",
                      emails=[{"value": "p.shah@example.com", "type": "work", "isPrimary": False},
                              {"value": "priya.shah@example.com", "type": "home",
                               "isPrimary": True}],
                      phones=[{"value": "(555) 555-0177", "isPrimary": 1},
                              {"value": "555-555-0178", "isPrimary": 0}])
    buyer = fake.add(T0, name="Luis Ortega", stage="Active Client", assignedUserId=99,
                     assignedTo="Chris Broker",
                     emails=[{"value": "LUIS.ORTEGA@EXAMPLE.COM", "isPrimary": "1"}])
    typed = fake.add(T0, name="Kim", type="Seller Inquiry")
    trashed = fake.add(T0, name="Gone", stage="Trash")
    state = {}
    by_id = {r["source_id"]: r for r in run(fake, state, custom_fields="customMoveInDate")}
    a = by_id[str(seller)]
    assert a["contact_email"] == "priya.shah@example.com" and a["emails"] == ["p.shah@example.com"]
    assert a["contact_phone"] == "(555) 555-0177" and a["phones"] == ["555-555-0178"]
    assert a["owner"] == "dana@example.com" and a["stage"] == "Lead"
    assert a["lead_line"] == "seller" and "source_platform" not in a
    assert a["custom_fields"]["customMoveInDate"] == "2026-06-01"
    assert a["custom_fields"]["source"] == "Zillow"
    b = by_id[str(buyer)]
    assert b["owner"] == "Chris Broker"  # unknown user id: the agent's name
    assert b["lead_line"] == "buyer" and b["contact_name"] == "Luis Ortega"
    assert by_id[str(typed)]["lead_line"] == "seller"
    assert by_id[str(trashed)]["deleted"] is True
    assert state[CURSOR] == "2026-03-01T08:00:00.000Z"
    path, query, headers = next(c for c in fake.calls if c[0] == "/v1/people")
    assert headers["x-system"] == "leadbridge" and headers["x-system-key"] == SYSKEY
    assert base64.b64decode(headers["authorization"][6:]).decode() == f"{KEY}:"
    assert query["includeTrash"] == ["true"] and "emails" in query["fields"][0]


def test_every_person_once_past_the_deep_offset_limit_and_incremental(fake):
    fake.deep_limit = 30  # FUB's ~2,000, scaled down: offsets past it are refused
    ids = [fake.add(T0 + timedelta(seconds=i // 4)) for i in range(120)]
    state = {}
    full = run(fake, state, page_size=10)
    assert sorted(int(r["source_id"]) for r in full) == sorted(ids)
    assert not any("offset" in q for p, q, h in fake.calls)
    changed = set()
    for i in range(0, 120, 5):
        fake.touch(ids[i], T0 + timedelta(hours=1, seconds=i // 20), firstName=f"v{i}")
        changed.add(str(ids[i]))
    for i in range(15):
        changed.add(str(fake.add(T0 + timedelta(hours=1))))
    inc = run(fake, state, page_size=10, lookback_seconds=0)
    got = [r["source_id"] for r in inc]
    assert len(got) == len(set(got)) and set(got) == changed
    # the boundary people of the first run are not sent again by the inclusive bound
    assert run(fake, state, page_size=10, lookback_seconds=0) == []


def test_incremental_is_right_even_if_updatedafter_is_ignored(fake, monkeypatch):
    old = fake.add(T0)
    new = fake.add(T0 + timedelta(hours=2))
    state = {CURSOR: "2026-03-01T09:00:00.000Z"}
    real = fake._people

    def ignoring(req):
        req.query.pop("updatedAfter", None)
        return real(req)

    fake._people = ignoring
    fake.stop()
    fake.start()
    assert [r["source_id"] for r in run(fake, state, lookback_seconds=0)] == [str(new)]
    assert str(old) != str(new)


def test_rate_limit_window_is_waited_not_hammered(fake):
    fake.limit, fake.window = 6, 0.4
    for i in range(40):
        fake.add(T0 + timedelta(seconds=i))
    started = time.monotonic()
    assert len(run(fake, {}, page_size=5)) == 40
    assert fake.rejected_429 == 0 and time.monotonic() - started >= 0.4


def test_429_with_retry_after_is_retried(fake, monkeypatch):
    from leadbridge.connectors import _http
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 1.0)  # honour Retry-After as given
    fake.limit, fake.window, fake.retry_after = 4, 0.2, "0.2"
    fake.add(T0)
    fake._hits.spend(4)  # another integration spent the window
    assert len(run(fake, {})) == 1
    assert fake.rejected_429 >= 1


def test_expired_account_and_bad_key_are_clear_without_secrets(fake):
    fake.expired = True
    with pytest.raises(SourceError) as exc:
        run(fake, {})
    assert "403" in str(exc.value) and "expired" in str(exc.value)
    fake.expired = False
    with pytest.raises(SourceError) as exc:
        run(fake, {}, api_key="wrong-key-value")
    assert "401" in str(exc.value)
    for text in (str(exc.value), repr(FollowUpBossConnector(api_key=KEY, system_key=SYSKEY))):
        assert KEY not in text and SYSKEY not in text and "wrong-key-value" not in text


def test_server_errors_retried_and_options_checked(fake):
    fake.add(T0)
    fake.fail_queue = [503, 500]
    assert len(run(fake, {})) == 1
    with pytest.raises(OptionsError) as exc:
        FollowUpBossConnector(default_lead_line="renter")
    assert "FUB_API_KEY" in str(exc.value) and "default_lead_line" in str(exc.value)
