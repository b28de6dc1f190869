"""Retry and classification behaviour against tiny scripted servers (real sockets, exact counts)."""

from __future__ import annotations

import time

import pytest

from leadbridge.chunking import make_chunks
from leadbridge.httpserver import Response
from leadbridge.mega import (
    MegaAuthenticationError,
    MegaAuthorizationError,
    MegaConflictError,
    MegaInvalidRequestError,
    MegaNotFoundError,
    MegaRateLimitError,
    MegaServerError,
    MegaTransportError,
)

from mega_support import BULK_OK, CUSTOMER, envelope

ROWS = [{"row_ref": "r1", "contact_email": "a@example.com"}]


def test_5xx_then_success_retries_with_the_same_key(scripted) -> None:
    server = scripted([envelope(503, "api_error", "busy"), envelope(500, "api_error", "oops"),
                       BULK_OK])
    with server.client() as client:
        answer = client.bulk_import(ROWS)
    assert answer["summary"]["total"] == 0
    assert len(server.seen) == 3
    keys = {s.headers["idempotency-key"] for s in server.seen}
    bodies = {s.body for s in server.seen}
    assert len(keys) == 1 and len(bodies) == 1
    assert client.stats.retries == 2 and client.stats.server_errors == 2


def test_dropped_connections_exhaust_exactly_max_attempts(scripted) -> None:
    server = scripted([Response(drop=True)])
    chunk = make_chunks(ROWS, customer_id=CUSTOMER)[0]
    with server.client(max_attempts=4) as client:
        with pytest.raises(MegaTransportError) as info:
            client.send_chunk(chunk)
    assert len(server.seen) == 4
    assert {s.headers["idempotency-key"] for s in server.seen} == {chunk.idempotency_key}
    assert {s.body for s in server.seen} == {chunk.body}  # bytes verbatim, every attempt
    err = info.value
    assert err.attempts == 4 and err.cause == "dropped" and err.chunk_index == 0
    assert "chunk 0" in str(err) and "re-run" in str(err)


def test_server_error_after_every_retry_is_a_server_error(scripted) -> None:
    server = scripted([envelope(502, "api_error", "bad gateway")])
    with server.client(max_attempts=3) as client, pytest.raises(MegaServerError) as info:
        client.bulk_import(ROWS)
    assert len(server.seen) == 3
    assert info.value.status == 502 and info.value.attempts == 3


def test_timeouts_are_retried_then_reported(scripted) -> None:
    def slow(request):
        time.sleep(1.0)
        return BULK_OK

    server = scripted([slow, slow, BULK_OK])
    with server.client(timeout=0.3, max_attempts=3) as client:  # margin for a loaded CI
        assert client.bulk_import(ROWS)["dry_run"] is False
    assert len(server.seen) == 3
    assert client.stats.transport_errors == 2


@pytest.mark.parametrize("status,etype,cls", [
    (400, "invalid_request_error", MegaInvalidRequestError),
    (401, "authentication_error", MegaAuthenticationError),
    (403, "authorization_error", MegaAuthorizationError),
    (404, "not_found_error", MegaNotFoundError),
    (409, "api_error", MegaConflictError),
])
def test_fatal_statuses_are_never_retried(scripted, status, etype, cls) -> None:
    server = scripted([envelope(status, etype, "nope"), BULK_OK])
    with server.client() as client, pytest.raises(cls) as info:
        client.bulk_import(ROWS)
    assert len(server.seen) == 1
    err = info.value
    assert (err.status, err.type, err.code, err.message) == (status, etype, status, "nope")
    assert (err.method, err.path) == ("POST", "/api/agents/crm/leads/bulk")


def test_non_envelope_error_bodies_still_classify(scripted) -> None:
    server = scripted([Response(502, "<html>Bad Gateway</html>"), Response(404, "gone")])
    with server.client(max_attempts=1) as client:
        with pytest.raises(MegaServerError) as info:
            client.list_leads_page()
        assert "Bad Gateway" in str(info.value)
        with pytest.raises(MegaNotFoundError):
            client.list_leads_page()


def test_429_waits_retry_after_then_succeeds(scripted) -> None:
    limited = envelope(429, "rate_limit_error", "Rate limit exceeded. Please retry later.",
                       {"Retry-After": "1", "Retry-After-Ms": "250", "RateLimit-Limit": "10",
                        "RateLimit-Remaining": "0", "RateLimit-Reset": "1"})
    server = scripted([limited, BULK_OK])
    with server.client() as client:
        client.bulk_import(ROWS)
    assert len(server.seen) == 2
    gap = server.seen[1].at - server.seen[0].at
    assert gap >= 0.25  # Retry-After honoured (jitter only adds)
    assert client.stats.rate_limited == 1


def test_429_storm_is_bounded(scripted) -> None:
    limited = envelope(429, "rate_limit_error", "slow down", {"Retry-After-Ms": "5"})
    server = scripted([limited])
    with server.client(max_attempts=5) as client, pytest.raises(MegaRateLimitError) as info:
        client.bulk_import(ROWS)
    assert len(server.seen) == 5 and info.value.attempts == 5
    assert "after 5 attempts" in str(info.value)


def test_webhook_create_is_not_retried_after_a_5xx_but_is_after_429(scripted) -> None:
    created = Response(201, {"webhook": {"id": "wh_1"}, "secret": "mega_whsec_x"})
    server = scripted([envelope(500, "api_error", "boom"), created])
    with server.client() as client, pytest.raises(MegaServerError):
        client.create_webhook("https://example.com/h")
    assert len(server.seen) == 1  # a repeat could register the hook twice
    server = scripted([envelope(429, "rate_limit_error", "x", {"Retry-After-Ms": "5"}), created])
    with server.client() as client:
        assert client.create_webhook("https://example.com/h")["secret"] == "mega_whsec_x"
    assert len(server.seen) == 2


def test_stage_move_and_webhook_updates_are_retried(scripted) -> None:
    server = scripted([Response(drop=True), Response(200, {"success": True})])
    with server.client() as client:
        assert client.move_stage("3f9c1a7e-0000-4000-8000-000000000001", "won") == {
            "success": True}
    assert [s.path for s in server.seen] == [
        "/api/agents/crm/leads/3f9c1a7e-0000-4000-8000-000000000001/stage"] * 2
    assert "idempotency-key" not in server.seen[0].headers  # MEGA ignores it there


def test_headers_every_request_carries(scripted) -> None:
    server = scripted([BULK_OK])
    with server.client() as client:
        client.bulk_import(ROWS)
    headers = server.seen[0].headers
    assert headers["authorization"].startswith("Bearer mega_")
    assert headers["x-customer-id"] == CUSTOMER
    assert headers["content-type"] == "application/json"


def test_server_reported_limit_is_adopted(scripted) -> None:
    """The server says 3 per window (a customer override): the client never sends a 4th."""
    window = 60 * 0.01
    ok = Response(200, BULK_OK.body, headers={"RateLimit-Limit": "3", "RateLimit-Remaining": "2",
                                              "RateLimit-Reset": "1"})
    server = scripted([ok])
    with server.client() as client:
        for _ in range(8):
            client.bulk_import(ROWS)
    times = [s.at for s in server.seen[1:]]  # from the first answer on, the client knows
    for i, start in enumerate(times):
        in_window = [t for t in times[i:] if t < start + window]
        assert len(in_window) <= 3


def test_remaining_zero_holds_the_bucket_until_reset(scripted) -> None:
    """Another process used the quota: the server says 0 left, refilled in 300 ms."""
    drained = Response(200, BULK_OK.body, headers={
        "RateLimit-Limit": "10", "RateLimit-Remaining": "0", "RateLimit-Reset": "1",
        "RateLimit-Reset-Ms": "300"})
    server = scripted([drained, BULK_OK])
    with server.client() as client:
        client.bulk_import(ROWS)
        client.bulk_import(ROWS)
    assert server.seen[1].at - server.seen[0].at >= 0.29


def test_stamina_testing_mode_skips_a_long_retry_after(scripted) -> None:
    """A 30 s Retry-After is skipped under stamina.set_testing; the retry still happens."""
    import stamina

    limited = envelope(429, "rate_limit_error", "later", {"Retry-After": "30"})
    server = scripted([limited, limited, BULK_OK])
    started = time.monotonic()
    with stamina.set_testing(True, attempts=3), server.client() as client:
        client.bulk_import(ROWS)
    assert len(server.seen) == 3
    assert time.monotonic() - started < 10  # (the pacer still holds for one scaled window)
    with stamina.set_testing(True, attempts=2), server.client() as client:
        server = scripted([limited])
        with pytest.raises(MegaRateLimitError) as info:
            client.bulk_import(ROWS)
    assert len(server.seen) == 2 and info.value.retry_after == 30


def test_connection_refused_is_a_transport_error_after_every_attempt() -> None:
    import socket

    from leadbridge.mega import MegaClient

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with MegaClient(f"http://127.0.0.1:{port}", "mega_x", CUSTOMER, max_attempts=3,
                    time_scale=0.01) as client:
        with pytest.raises(MegaTransportError) as info:
            client.create_webhook("https://example.com/h")  # never reached MEGA: retried
    assert info.value.cause == "connect" and info.value.attempts == 3
    assert client.stats.attempts == 3 and "MEGA_BASE_URL" in str(info.value)


def test_a_cursor_that_repeats_stops_the_listing(scripted) -> None:
    from leadbridge.errors import MegaError

    page = Response(200, {"leads": [{"id": "a"}], "total": 9, "limit": 1, "offset": 0,
                          "next_cursor": "eyJsb29wIjp0cnVlfQ"})
    server = scripted([page])
    with server.client() as client, pytest.raises(MegaError, match="same next_cursor"):
        list(client.list_leads(limit=1, status="active", stage_id="s-1", offset=0))
    assert len(server.seen) == 2
    first, second = (s.query for s in server.seen)
    assert first == {"limit": "1", "status": "active", "stageId": "s-1", "offset": "0"}
    assert second == {"limit": "1", "status": "active", "stageId": "s-1",
                      "cursor": "eyJsb29wIjp0cnVlfQ"}  # same filters, cursor replaces offset


def test_a_redirect_is_not_followed_and_says_what_to_set(scripted) -> None:
    moved = Response(301, "", headers={"Location": "https://app.gomega.ai/api/agents/crm/leads?x=1"})
    server = scripted([moved])
    with server.client() as client, pytest.raises(MegaInvalidRequestError) as info:
        client.list_leads_page()
    assert len(server.seen) == 1
    assert "redirects to https://app.gomega.ai/api/agents/crm/leads" in str(info.value)
    assert "MEGA_BASE_URL" in str(info.value) and "x=1" not in str(info.value)
