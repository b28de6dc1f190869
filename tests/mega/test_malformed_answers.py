"""Answers MEGA should never send (2xx of the wrong shape, garbage wait hints, rate headers out
of any range) end in a clear MegaError or are ignored, never in a Python traceback."""

from __future__ import annotations

import time

import pytest

from leadbridge.errors import MegaError
from leadbridge.httpserver import Response
from leadbridge.mega import MegaInvalidRequestError, MegaServerError
from leadbridge.mega.classify import MAX_WAIT_SECONDS, header_seconds

from mega_support import BULK_OK, envelope

ROWS = [{"row_ref": "r1", "contact_email": "a@example.com"}]
EMPTY_PAGE = {"leads": [], "total": 0, "limit": 100, "offset": 0, "next_cursor": None}


def _list(client):
    return list(client.list_leads())


def _bulk(client):
    return client.bulk_import(ROWS)


def _create(client):
    return client.create_lead({"contact_email": "a@example.com"})


@pytest.mark.parametrize("body,call,fragment", [
    ([{"id": "a"}], _list, "not a JSON object"),                   # a list, not a page
    (None, _list, "not a JSON object"),                            # JSON null
    ({"leads": "abc", "next_cursor": None}, _list, "leads is not a list"),
    ({"leads": {"id": "a"}, "next_cursor": None}, _list, "leads is not a list"),
    ({"next_cursor": None}, _list, "leads is not a list"),
    ({"leads": [None], "next_cursor": None}, _list, "not an object with an id"),
    ({"leads": [{"contact_name": "no id"}], "next_cursor": None}, _list, "with an id"),
    ({"leads": [], "next_cursor": {"k": 1}}, _list, "next_cursor"),  # unhashable cursor
    ({"summary": {}}, _bulk, "results is not a list"),
    ({"results": None}, _bulk, "results is not a list"),
    ({"results": "r1"}, _bulk, "results is not a list"),
    ({"lead": None}, _create, "lead is not an object with an id"),
    ([{"id": "a"}], _create, "not a JSON object"),
    ({"webhooks": "abc"}, lambda c: c.list_webhooks(), "webhooks is not a list"),
])
def test_a_2xx_of_the_wrong_shape_is_a_server_error(scripted, body, call, fragment) -> None:
    """Before: a list page listed nothing (silently), ``leads: "abc"`` yielded characters, a
    dict cursor raised TypeError, a bulk answer without results failed rows it may have
    written; now each is a MegaServerError naming what is wrong, retried like a 5xx."""
    server = scripted([Response(201 if call is _create else 200, body)])
    with server.client(max_attempts=2) as client, pytest.raises(MegaServerError) as info:
        call(client)
    assert fragment in str(info.value)
    assert info.value.attempts == 2 and len(server.seen) == 2


def test_an_empty_page_with_a_fresh_cursor_every_time_stops_the_listing(scripted) -> None:
    calls = iter(range(1000))

    def page(_request):
        return Response(200, {**EMPTY_PAGE, "next_cursor": f"c{next(calls)}"})

    server = scripted([page])
    with server.client() as client, pytest.raises(MegaError, match="10 empty pages in a row"):
        _list(client)
    assert len(server.seen) == 10


def test_a_few_empty_pages_with_a_cursor_are_followed(scripted) -> None:
    """MEGA may filter after paging: an empty page with a cursor is not an error by itself."""
    empty = Response(200, {**EMPTY_PAGE, "next_cursor": "c1"})
    again = Response(200, {**EMPTY_PAGE, "next_cursor": "c2"})
    last = Response(200, {**EMPTY_PAGE, "leads": [{"id": "a"}]})
    server = scripted([empty, again, last])
    with server.client() as client:
        assert [lead["id"] for lead in _list(client)] == ["a"]
    assert [s.query.get("cursor") for s in server.seen] == [None, "c1", "c2"]


@pytest.mark.parametrize("headers", [
    {"Retry-After": "inf"}, {"Retry-After": "1e400"}, {"Retry-After": "99999999999"},
    {"Retry-After-Ms": "inf"}, {"Retry-After-Ms": "1e15"}, {"Retry-After": "nan"},
])
def test_a_garbage_retry_after_is_ignored_and_the_client_backs_off(scripted, headers) -> None:
    """Before: ``time.sleep`` got infinity or years and raised OverflowError (a traceback)."""
    server = scripted([envelope(429, "rate_limit_error", "later", headers), BULK_OK])
    started = time.monotonic()
    with server.client() as client:
        _bulk(client)
    assert len(server.seen) == 2 and time.monotonic() - started < 5
    assert client.stats.backoff_seconds < 1


@pytest.mark.parametrize("headers", [
    {"RateLimit-Limit": "inf", "RateLimit-Remaining": "1"},
    {"RateLimit-Limit": "1e400"},
    {"RateLimit-Limit": "1e300", "RateLimit-Remaining": "0"},
    {"RateLimit-Limit": "10", "RateLimit-Remaining": "-1e12"},
    {"RateLimit-Limit": "10", "RateLimit-Remaining": "inf", "RateLimit-Reset": "inf"},
    {"RateLimit-Limit": "nan", "RateLimit-Remaining": "nan", "RateLimit-Reset": "nan"},
])
def test_rate_headers_out_of_any_range_do_not_break_the_pacer(scripted, headers) -> None:
    """Before: ``inf`` raised OverflowError, ``1e300`` or a remaining of ``-1e12`` made the
    pacer build a list of that many phantom requests (OverflowError, MemoryError)."""
    server = scripted([Response(200, BULK_OK.body, headers=headers)])
    with server.client() as client:
        _bulk(client)
        _bulk(client)
        (limit, _, remaining), = client.pacer.snapshot()["bulk"]
    assert limit == 10 and 0 <= remaining <= 10 and len(server.seen) == 2


def test_a_negative_remaining_holds_the_window_like_zero(scripted) -> None:
    drained = Response(200, BULK_OK.body, headers={
        "RateLimit-Limit": "10", "RateLimit-Remaining": "-3", "RateLimit-Reset-Ms": "300"})
    server = scripted([drained])
    with server.client() as client:
        _bulk(client)
        assert client.pacer.snapshot()["bulk"][0][2] == 0


@pytest.mark.parametrize("value,unit,expected", [
    ("2", 1.0, 2.0), ("1500", 0.001, 1.5), ("-5", 1.0, 0.0), (None, 1.0, None),
    ("soon", 1.0, None), ("nan", 1.0, None), ("inf", 1.0, None), ("-inf", 1.0, None),
    (str(MAX_WAIT_SECONDS), 1.0, MAX_WAIT_SECONDS), (str(MAX_WAIT_SECONDS + 1), 1.0, None),
])
def test_header_seconds(value, unit, expected) -> None:
    assert header_seconds(value, unit) == expected


def test_a_redirect_never_echoes_credentials_in_its_location(scripted) -> None:
    moved = Response(302, "", headers={"Location": "https://user:hunter2@mega.example/leads"})
    server = scripted([moved])
    with server.client() as client, pytest.raises(MegaInvalidRequestError) as info:
        client.list_leads_page()
    assert "https://mega.example/leads" in str(info.value)
    assert "hunter2" not in str(info.value) and "user:" not in str(info.value)


@pytest.mark.parametrize("status", [400, 401, 500])
@pytest.mark.parametrize("envelope_body", [True, False])
def test_an_error_body_echoing_the_token_never_shows_it(scripted, status, envelope_body) -> None:
    """A proxy or server that echoes ``Authorization`` put the token in the error message
    (and so in logs, the run report's stopped reason and the terminal)."""
    from mega_support import TOKEN

    def echo(request):
        text = "x" * 170 + " you sent " + request.headers["authorization"]  # spans the cut
        body = {"error": {"type": "api_error", "code": status, "message": text}}
        return Response(status, body if envelope_body else text.encode())

    server = scripted([echo])
    with server.client(max_attempts=1) as client, pytest.raises(MegaError) as info:
        client.list_leads_page()
    text = str(info.value) + repr(info.value) + str(getattr(info.value, "message", ""))
    assert TOKEN not in text and TOKEN[:12] not in text and "ab12ab12" not in text


@pytest.mark.parametrize("status", [200, 400, 503])
def test_json_nested_too_deep_is_not_json_not_a_recursion_error(scripted, status) -> None:
    """``json.loads`` raises RecursionError (not ValueError) on ``[[[[…`` 100,000 deep."""
    deep = b"[" * 100_000 + b"]" * 100_000
    server = scripted([Response(status, deep)])
    with server.client(max_attempts=1) as client, pytest.raises(MegaError) as info:
        client.list_leads_page()
    assert f"answered {status}" in str(info.value)
