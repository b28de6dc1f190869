"""The shared HTTP client against answers no vendor should send, over real HTTP on 127.0.0.1:
a clear SourceError naming the call, never a traceback, and never a credential in a message."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors import _http  # noqa: E402
from leadbridge.connectors._http import HttpClient, items, record_id  # noqa: E402
from leadbridge.connectors._people import RunCursor, parse_ts, utc_text  # noqa: E402
from leadbridge.errors import SourceDataError, SourceError  # noqa: E402
from leadbridge.httpserver import Response  # noqa: E402
from tests.fakes.canned import Canned  # noqa: E402

TOKEN = "pat-na1-0f1e2d3c-secret"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 0.0)


def _client(fake: Canned, **kw) -> HttpClient:
    return HttpClient(fake.base_url, name="TestCRM",
                      auth=lambda: {"Authorization": f"Bearer {TOKEN}"}, **kw)


@pytest.mark.parametrize("body", [
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",  # a proxy's page with a 200
    b"",                                                      # 200 with an empty body
    b'{"results": [{"id": "1", "properties": {"email": "a@exa',  # cut off mid-answer
    b'{"results": [{"id": "1", "name": "\xff\xfe"}]}',        # not UTF-8
    b'{"total": 1' + b"1" * 5000 + b"}",                      # an integer Python refuses
    b"[" * 100_000 + b"]" * 100_000,                          # nested past the recursion limit
], ids=["html", "empty", "cut", "not-utf8", "huge-int", "too-deep"])
def test_a_2xx_body_that_is_not_json_is_a_source_error_naming_the_call(body):
    with Canned({("GET", "/v1/people"): Response(200, body)}) as fake, _client(fake) as http:
        with pytest.raises(SourceError) as err:
            http.get_json("/v1/people", params={"limit": 5})
    message = str(err.value)
    assert "TestCRM GET /v1/people answered HTTP 200 with a body that is not JSON" in message
    assert "limit" not in message and TOKEN not in message


@pytest.mark.parametrize("body", [b'[{"id": "1"}]', b"null", b'"results"', b"42"])
def test_get_object_refuses_json_that_is_not_an_object(body):
    with Canned({("GET", "/v1/people"): Response(200, body)}) as fake, _client(fake) as http:
        with pytest.raises(SourceDataError, match="where an object was expected"):
            http.get_object("/v1/people")


def test_a_vendor_error_that_echoes_the_credentials_never_shows_them():
    """Some APIs quote the request back in their error; the message must not carry it on."""
    def echo(req, n):
        return Response(401, {"message": f"invalid credentials: {req.header('authorization')} "
                                         f"x-api-token={req.header('x-api-token')}"})

    def echo_form(req, n):
        return Response(400, {"error_description": f"bad request {req.body.decode()}"})

    def slow(req, n):
        return Response(429, {"message": f"slow down {req.header('authorization')}"},
                        {"Retry-After": "0"})

    basic = base64.b64encode(f"{TOKEN}:".encode()).decode()
    fake = Canned({("GET", "/bearer"): echo, ("GET", "/basic"): echo,
                   ("GET", "/header"): echo, ("POST", "/oauth/token"): echo_form,
                   ("GET", "/slow"): slow})
    with fake:
        cases = [("/bearer", {"Authorization": f"Bearer {TOKEN}"}),
                 ("/basic", {"Authorization": f"Basic {basic}"}),
                 ("/header", {"x-api-token": TOKEN}),
                 ("/slow", {"Authorization": f"Bearer {TOKEN}"})]
        for path, headers in cases:
            with HttpClient(fake.base_url, name="TestCRM", auth=lambda h=headers: h,
                            attempts=2) as http, pytest.raises(SourceError) as err:
                http.get_json(path)
            assert TOKEN not in str(err.value) and basic not in str(err.value), path
            assert "***" in str(err.value), path
        with HttpClient(fake.base_url, name="TestCRM") as http, \
                pytest.raises(SourceError) as err:
            http.request("POST", "/oauth/token", auth=False,
                         data={"grant_type": "refresh_token", "client_id": "app-1",
                               "client_secret": TOKEN, "refresh_token": TOKEN[::-1]})
        assert TOKEN not in str(err.value) and TOKEN[::-1] not in str(err.value)
        assert "grant_type=refresh_token" in str(err.value)  # what is not secret still shows


def test_a_wait_hint_that_is_not_a_number_falls_back_to_backoff():
    """``Retry-After: nan`` (or NaN in a Zoho-style body) passed the 0..300 s clamp, every
    comparison with NaN being false, and time.sleep raised a ValueError traceback."""
    def slow_then_ok(req, n):
        if n == 1:
            return Response(429, b'{"details": {"retry_after": NaN}}', {"Retry-After": "nan"})
        return Response(200, {"ok": True})

    def body_hint(resp):
        return resp.json()["details"]["retry_after"]

    with Canned({("GET", "/v1/people"): slow_then_ok}) as fake, \
            _client(fake, retry_after=body_hint) as http:
        assert http.get_json("/v1/people") == {"ok": True}
        assert http.requests == 2


def test_records_of_the_wrong_shape_are_located_errors():
    with pytest.raises(SourceDataError, match=r"crm: /people: people is a string"):
        items({"people": "none"}, "people", where="crm: /people")
    with pytest.raises(SourceDataError, match=r"people\[1\] is null, not a record"):
        items({"people": [{"id": 1}, None]}, "people", where="crm: /people")
    with pytest.raises(SourceDataError, match=r"meta is a list, not an object"):
        items({"meta": [1]}, "meta", "people", where="crm: /people")
    assert items({}, "people", where="crm: /people") == []
    for bad in (None, "", {"x": 1}, True, 1.5):
        with pytest.raises(SourceDataError, match="not an id"):
            record_id({"id": bad}, "id", "crm: /people")
    assert record_id({"id": 7}, "id", "crm: /people") == "7"


@pytest.mark.parametrize("value", ["9" * 20, 10**25, 1e308, float("nan")])
def test_a_timestamp_beyond_any_calendar_is_unreadable_not_a_crash(value):
    assert parse_ts(value) is None
    assert utc_text(value) == str(value)
    state: dict = {}
    cursor = RunCursor(state, "cur")
    assert cursor.take("1", value)  # read, it only moves no cursor
    cursor.save()
    assert state == {}


def test_a_hooks_error_that_quotes_the_body_never_shows_the_credentials():
    """A connector's on_response hook (Salesforce's query faults) builds its message from the
    vendor's body; the client redacts it on the way out like its own messages."""
    def echo(req, n):
        return Response(400, {"message": f"bad query for {req.header('authorization')}"})

    def hook(resp):
        if resp.status_code == 400:
            raise SourceError(f"TestCRM hook: {_http.vendor_message(resp)}")

    with Canned({("GET", "/v1/people"): echo}) as fake, _client(fake, on_response=hook) as http:
        with pytest.raises(SourceError) as err:
            http.get_json("/v1/people")
    message = str(err.value)
    assert message.startswith("TestCRM hook: bad query for") and "***" in message
    assert TOKEN not in message
