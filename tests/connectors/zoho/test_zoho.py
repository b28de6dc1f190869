"""Zoho connector against a fake Zoho CRM over real HTTP."""

from datetime import datetime, timedelta, timezone

import pytest

from leadbridge.connectors.zoho import CURSOR, ZohoConnector
from leadbridge.errors import OptionsError, SourceError

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc)
SECRETS = ("zoho-client-secret", "1000.refresh-secret")


def conn(fake, **opts):
    opts = {"refresh_token": fake.refresh_token, "client_id": fake.client_id,
            "client_secret": fake.client_secret, "accounts_url": fake.base_url, **opts}
    return ZohoConnector(**opts)


def run(fake, state, **opts):
    return list(conn(fake, **opts).records(state))


def test_full_sync_maps_leads_and_contacts(fake):
    lead = fake.add("Leads", T0, First_Name="Maria", Last_Name="Okafor",
                    Email="maria.okafor@example.com", Secondary_Email="m.o@example.com",
                    Phone="(555) 555-0142", Mobile="+1 555 555 0143",
                    Owner={"name": "Sam Rivera", "id": "9", "email": "sam.rivera@example.com"},
                    Lead_Status="Not Contacted", Lead_Source="Advertisement",
                    Tag=[{"name": "google-ads", "id": "1", "color_code": None}],
                    Preferred_Service="Deep clean")
    contact = fake.add("Contacts", T0 + timedelta(seconds=5), Last_Name="Chen",
                       Email="l.chen@example.com", Home_Phone="555.555.0177")
    state = {}
    recs = run(fake, state, custom_fields="Preferred_Service")
    by_id = {r["source_id"]: r for r in recs}
    a = by_id[lead]
    assert a["contact_name"] == "Maria Okafor" and a["source_platform"] == "zoho"
    assert a["contact_email"] == "maria.okafor@example.com" and a["emails"] == ["m.o@example.com"]
    assert a["contact_phone"] == "(555) 555-0142" and a["phones"] == ["+1 555 555 0143"]
    assert a["owner"] == "sam.rivera@example.com" and a["stage"] == "Not Contacted"
    assert a["custom_fields"] == {"Preferred_Service": "Deep clean", "module": "Leads",
                                  "lead_source": "Advertisement", "tags": ["google-ads"]}
    assert a["updated_at"] == "2026-03-02T03:00:00.000Z"  # +05:30 normalised to UTC
    c = by_id[contact]
    assert c["contact_name"] == "Chen" and c["contact_phone"] == "555.555.0177"
    assert state[CURSOR] == "2026-03-02T03:00:05.000Z"
    # every list call carried the required fields, sorted ascending by Modified_Time
    lists = [q for m, p, q in fake.calls if p.startswith("/crm/v8/") and "deleted" not in p]
    assert all(q["fields"] and q["sort_by"] == ["Modified_Time"] for q in lists)


def test_every_record_once_past_page_and_token_limits_with_ties(fake):
    fake.discrete_limit, fake.token_limit = 40, 60  # Zoho's 2,000 / 100,000, scaled down
    ids = [fake.add("Leads", T0 + timedelta(seconds=i)) for i in range(150)]
    state = {}
    full = run(fake, state, per_page=20, page_token_limit=60, modules="Leads")
    assert sorted(r["source_id"] for r in full) == sorted(ids)
    assert any("page_token" in q for _, _, q in fake.calls)
    # 400 changes on 20 distinct seconds: ties straddle every page and window boundary
    later = T0 + timedelta(days=1)
    changed = set()
    for i in range(400):
        when = later + timedelta(seconds=i % 20)
        if i < 150:
            fake.touch("Leads", ids[i], when, First_Name=f"v{i}")
            changed.add(ids[i])
        else:
            changed.add(fake.add("Leads", when, First_Name=f"v{i}"))
    fake.calls.clear()
    inc = run(fake, state, per_page=20, page_token_limit=60, modules="Leads",
              lookback_seconds=0)
    got = [r["source_id"] for r in inc]
    assert len(got) == len(set(got)) == 400 and set(got) == changed
    assert all(r["first_name"].startswith("v") for r in inc)
    assert all("if-modified-since" not in q for _, _, q in fake.calls)  # header, not query
    assert state[CURSOR] == "2026-03-03T03:00:19.000Z"


def test_too_many_equal_timestamps_is_a_clear_error(fake):
    fake.token_limit = 40
    for _ in range(80):
        fake.add("Leads", T0)
    state = {CURSOR: "2026-03-02T03:00:00.000Z"}
    with pytest.raises(SourceError, match="share Modified_Time"):
        run(fake, state, per_page=20, page_token_limit=40, modules="Leads",
            lookback_seconds=0)


def test_expired_access_token_is_refreshed_mid_run(fake):
    fake.token_uses = 2
    for i in range(30):
        fake.add("Contacts", T0 + timedelta(seconds=i))
    recs = run(fake, {}, per_page=5, modules="Contacts")
    assert len({r["source_id"] for r in recs}) == 30
    assert fake.token_calls == 3  # 6 pages, 2 calls per access token


def test_refresh_budget_spent_is_a_clear_error(fake):
    fake.token_uses, fake.tokens_per_window = 1, 2
    for i in range(30):
        fake.add("Contacts", T0 + timedelta(seconds=i))
    with pytest.raises(SourceError) as exc:
        run(fake, {}, per_page=5, modules="Contacts")
    assert "too many requests" in str(exc.value).lower()
    assert not any(s in str(exc.value) for s in SECRETS)


def test_wrong_client_names_the_data_center_and_hides_secrets(fake):
    with pytest.raises(SourceError) as exc:
        run(fake, {}, client_secret="wrong-secret-value")
    text = str(exc.value)
    assert "invalid_client" in text and "data_center" in text
    assert "wrong-secret-value" not in text and "1000.refresh-secret" not in text


def test_rate_limit_waits_retry_after_from_the_body(fake, monkeypatch):
    from leadbridge.connectors import _http
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 1.0)  # honour the server's wait as given
    fake.requests_per_window, fake.request_window, fake.retry_after = 4, 0.2, 0.2
    for i in range(40):
        fake.add("Leads", T0 + timedelta(seconds=i))
    recs = run(fake, {}, per_page=4, modules="Leads")
    assert len(recs) == 40 and fake.rejected_429 > 0


def test_server_errors_are_retried(fake):
    fake.add("Leads", T0)
    fake.fail_queue = [500, 503]
    assert len(run(fake, {}, modules="Leads")) == 1


def test_deleted_records_on_incremental_runs(fake):
    a = fake.add("Leads", T0)
    b = fake.add("Leads", T0 + timedelta(seconds=1))
    state = {}
    run(fake, state)
    fake.delete("Leads", a, T0 + timedelta(hours=1))
    fake.touch("Leads", b, T0 + timedelta(hours=1), First_Name="B")
    recs = run(fake, state)
    assert {r["source_id"]: r.get("deleted", False) for r in recs} == {a: True, b: False}


def test_nothing_changed_is_an_empty_run(fake):
    a = fake.add("Leads", T0)
    state = {}
    run(fake, state)
    saved = dict(state)
    assert saved[CURSOR + "_ids"] == [a]
    # the bound is inclusive, but the record yielded at the cursor is not yielded again
    assert run(fake, state, lookback_seconds=0, include_deleted=False) == []
    fake.records["Leads"].clear()
    assert run(fake, state, lookback_seconds=0) == []
    assert state == saved


def test_options_are_checked_together_and_secrets_hidden():
    with pytest.raises(OptionsError) as exc:
        ZohoConnector(data_center="mars")
    text = str(exc.value)
    assert "ZOHO_REFRESH_TOKEN" in text and "ZOHO_CLIENT_ID" in text and "data_center" in text
    c = ZohoConnector(refresh_token="1000.refresh-secret", client_id="x",
                      client_secret="zoho-client-secret", data_center="eu")
    assert c.accounts_url == "https://accounts.zoho.eu"
    assert not any(s in repr(c) for s in SECRETS)
    with pytest.raises(OptionsError, match="50"):
        ZohoConnector(refresh_token="r", client_id="x", client_secret="s",
                      custom_fields=",".join(f"F{i}" for i in range(40)))
