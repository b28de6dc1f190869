"""The client against the real sandbox over real sockets."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import httpx
import pytest
from mega_support import client_for

from leadbridge.chunking import make_chunks
from leadbridge.mega import (
    MegaAuthenticationError,
    MegaAuthorizationError,
    MegaConflictError,
    MegaInvalidRequestError,
    MegaNotFoundError,
)
from leadbridge.mega_model import SCOPE_READ, SCOPE_WRITE
from leadbridge.sandbox import TokenGrant


def _rows(n: int, prefix: str = "p") -> list[dict]:
    return [{"row_ref": f"{prefix}{i}", "contact_email": f"{prefix}{i}@example.com",
             "contact_name": f"Person {i}"} for i in range(n)]


def test_dropped_connection_after_the_write_then_retry_gives_one_lead_per_row(
        sandbox_factory) -> None:
    sb = sandbox_factory(fail_after=0.5, seed=3)
    grant = sb.config.tokens[0]
    rows = _rows(60)
    chunks = make_chunks(rows, customer_id=grant.customer_id, size=10)
    with client_for(sb, max_attempts=12) as client:
        answers = [client.send_chunk(chunk) for chunk in chunks]
    # faults really happened: writes committed, then the socket dropped or a 5xx came back
    assert sb.faults.counts["after_drop"] > 0 and sb.faults.counts["after_error"] > 0
    assert client.stats.transport_errors > 0 and client.stats.retries > 0
    # every retry replayed the stored answer: each row created exactly once
    assert all(a["summary"]["created"] == 10 for a in answers)
    leads = sb.leads(grant.customer_id)
    assert len(leads) == len(rows)
    assert sorted(lead["contact_email"] for lead in leads) == sorted(r["contact_email"]
                                                                    for r in rows)


def test_errors_before_the_write_and_latency_are_survived(sandbox_factory) -> None:
    sb = sandbox_factory(fail_before=0.4, latency=0.005, seed=11)
    grant = sb.config.tokens[0]
    rows = _rows(30, "fb")
    with client_for(sb, max_attempts=12) as client:
        for chunk in make_chunks(rows, customer_id=grant.customer_id, size=5):
            assert client.send_chunk(chunk)["summary"]["created"] == 5
        assert len(list(client.list_leads(limit=4))) == 30  # reads retried too
    assert sb.faults.counts["before"] > 0 and client.stats.server_errors > 0
    assert len(sb.leads(grant.customer_id)) == 30


def test_429_storm_from_a_second_process_sharing_the_key(sandbox_factory) -> None:
    """Someone else hammers the same key; the client still lands every row exactly once."""
    sb = sandbox_factory()
    grant = sb.config.tokens[0]
    stop, storming = threading.Event(), threading.Event()
    hammered = {"429": 0}

    def hammer() -> None:  # a storm of two windows (1.2 s), ~200 requests a second
        headers = {"Authorization": f"Bearer {grant.token}", "x-customer-id": grant.customer_id}
        until = time.monotonic() + 1.2
        with httpx.Client(base_url=sb.base_url, headers=headers) as raw:
            while not stop.is_set() and time.monotonic() < until:
                time.sleep(0.005)
                r = raw.post("/api/agents/crm/leads/bulk",
                             json={"leads": [{"contact_name": "noise"}], "dry_run": True})
                hammered["429"] += r.status_code == 429
                if r.status_code == 429:
                    storming.set()

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    assert storming.wait(5)  # the bucket is already exhausted when the client starts
    try:
        rows = _rows(40, "s")
        with client_for(sb, max_attempts=30) as client:
            for chunk in make_chunks(rows, customer_id=grant.customer_id, size=4):
                client.send_chunk(chunk)
    finally:
        stop.set()
        thread.join(5)
    assert hammered["429"] > 0 and client.stats.rate_limited > 0
    emails = sorted(lead["contact_email"] for lead in sb.leads(grant.customer_id))
    assert emails == sorted(r["contact_email"] for r in rows)


def test_paced_client_sees_no_429_in_steady_state(sandbox) -> None:
    with client_for(sandbox) as client:
        for i in range(25):
            client.bulk_import([{"contact_email": f"steady{i}@example.com"}])
        for i in range(70):
            client.list_leads_page(limit=1)
    assert client.stats.rate_limited == 0 and client.stats.attempts == 95


def test_key_reused_with_another_body_is_a_conflict_naming_chunk_and_key(client) -> None:
    key = "lb-test-" + uuid.uuid4().hex
    first = client.bulk_import(_rows(2, "k"), idempotency_key=key)
    again = client.bulk_import(_rows(2, "k"), idempotency_key=key)
    assert again == first  # a replay, not a second write
    with pytest.raises(MegaConflictError) as info:
        client.bulk_import(_rows(3, "k"), idempotency_key=key)
    err = info.value
    assert err.status == 409 and err.type == "api_error" and err.attempts == 1
    assert key in str(err) and "different body" in str(err)

    chunk = make_chunks(_rows(2, "c"), customer_id=client.customer_id)[0]
    client.send_chunk(chunk)
    forged = type(chunk)(3, make_chunks(_rows(3, "c"), customer_id=client.customer_id)[0].body,
                         chunk.idempotency_key, ())
    with pytest.raises(MegaConflictError, match="chunk 3"):
        client.send_chunk(forged)


def test_send_chunk_twice_is_replayed_not_repeated(sandbox, client) -> None:
    chunk = make_chunks(_rows(5, "r"), customer_id=client.customer_id)[0]
    first, second = client.send_chunk(chunk), client.send_chunk(chunk)
    assert first == second
    assert len(sandbox.leads(client.customer_id)) == 5
    # bulk_import builds the same body as make_chunks, hence the same key: also a replay
    assert client.bulk_import(_rows(5, "r")) == first


def test_dry_run_is_never_cached_and_writes_nothing(sandbox, client) -> None:
    preview = client.bulk_import(_rows(3, "d"), dry_run=True)
    assert preview["dry_run"] is True and sandbox.leads(client.customer_id) == []
    real = client.bulk_import(_rows(3, "d"))
    assert real["dry_run"] is False and real["summary"]["created"] == 3


def test_wrong_token_is_an_authentication_error(sandbox) -> None:
    grant = sandbox.config.tokens[0]
    bad = TokenGrant("mega_" + "0" * 64, grant.customer_id)
    with client_for(sandbox, bad) as client, pytest.raises(MegaAuthenticationError) as info:
        client.list_leads_page()
    assert info.value.status == 401 and "MEGA_TOKEN" in str(info.value)
    assert client.stats.attempts == 1


def test_missing_scope_says_which_scope(sandbox_factory) -> None:
    read_only = TokenGrant.generate((SCOPE_READ,))
    sb = sandbox_factory(tokens=(read_only,))
    with client_for(sb, read_only) as client:
        assert client.list_leads_page()["leads"] == []
        with pytest.raises(MegaAuthorizationError) as info:
            client.bulk_import(_rows(1))
    assert f"the key lacks scope {SCOPE_WRITE}" in str(info.value)
    assert client.stats.attempts == 2  # not retried


def test_key_locked_to_another_customer(sandbox) -> None:
    grant = sandbox.config.tokens[0]
    other = TokenGrant(grant.token, str(uuid.uuid4()))  # right key, wrong customer id
    with client_for(sandbox, other) as client, pytest.raises(MegaAuthorizationError) as info:
        client.list_leads_page()
    assert "the key is locked to another customer: check MEGA_CUSTOMER_ID" in str(info.value)


def test_pagination_over_many_pages_with_ties_on_updated_at(sandbox, client) -> None:
    rows = _rows(230, "t")
    client.bulk_import(rows)  # one request: many leads share one updated_at
    stored = sandbox.leads(client.customer_id)
    assert len({lead["updated_at"] for lead in stored}) < len(stored)  # ties exist
    for direction in ("asc", "desc"):
        leads = list(client.list_leads(limit=7, sort_by="updated_at", sort_dir=direction))
        ids = [lead["id"] for lead in leads]
        assert len(ids) == len(set(ids)) == 230
        assert set(ids) == {lead["id"] for lead in stored}
    page = client.list_leads_page(limit=100)
    assert page["total"] == 230 and len(page["leads"]) == 100 and page["next_cursor"]


def test_filters_and_custom_fields(sandbox, client) -> None:
    client.bulk_import([
        {"row_ref": "b", "contact_email": "buyer@example.com", "lead_line": "buyer",
         "custom_fields": {"budget": "500000"}},
        {"row_ref": "s", "contact_phone": "(206) 555-0123", "lead_line": "seller"},
    ])
    buyers = list(client.list_leads(lead_line="buyer", include_custom_fields=True))
    assert [b["contact_email"] for b in buyers] == ["buyer@example.com"]
    assert buyers[0]["custom_fields"]["budget"] == "500000"
    assert "custom_fields" not in next(iter(client.list_leads(lead_line="seller")))
    assert len(list(client.list_leads(search="2065550123"))) == 1
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    assert list(client.list_leads(updated_since=future)) == []
    assert len(list(client.list_leads(created_since="2000-01-01T00:00:00.000Z"))) == 2
    assert list(client.list_leads(status="won")) == []
    with pytest.raises(ValueError, match="sort_by"):
        list(client.list_leads(sort_by="name"))


def test_single_create_and_stage_moves(client) -> None:
    lead = client.create_lead({"contact_name": "Ann", "contact_email": "ann@example.com"})
    assert lead["contact_email"] == "ann@example.com"
    assert client.move_stage(lead["id"], "won", reason="signed") == {"success": True}
    assert client.move_stage(lead["id"], "won")["already_in_stage"] is True
    with pytest.raises(MegaInvalidRequestError, match="Stage not found"):
        client.move_stage(lead["id"], "no-such-stage")
    with pytest.raises(MegaNotFoundError):
        client.move_stage(str(uuid.uuid4()), "won")


def test_webhook_management(client) -> None:
    created = client.create_webhook("https://example.com/hooks/mega", description="crm")
    hook, secret = created["webhook"], created["secret"]
    assert secret.startswith("mega_whsec_")
    assert [w["id"] for w in client.list_webhooks()] == [hook["id"]]
    rotated = client.update_webhook(hook["id"], is_active=False, rotate_secret=True)
    assert rotated["webhook"]["is_active"] is False and rotated["secret"] != secret
    assert client.delete_webhook(hook["id"]) is True
    assert client.list_webhooks() == []
    with pytest.raises(MegaNotFoundError):
        client.delete_webhook(hook["id"])


def test_a_sent_chunk_is_freed_without_the_cycle_collector(client, sandbox) -> None:
    """Each answer (and the chunk body its request holds) is freed once read, not left for
    Python's cyclic collector: a long sync otherwise carries its sent bodies in memory."""
    import gc

    grant = sandbox.config.tokens[0]
    chunks = make_chunks(_rows(40, "gc"), customer_id=grant.customer_id, size=10)
    client.send_chunk(chunks[0])  # the connection is open before counting
    gc.collect()
    gc.disable()
    try:
        for chunk in chunks[1:]:
            assert client.send_chunk(chunk)["summary"]["created"] == 10
        list(client.list_leads(limit=5))  # reads too: 8 pages
        alive = [o for o in gc.get_objects() if isinstance(o, (httpx.Response, httpx.Request))]
    finally:
        gc.enable()
    assert alive == []
