"""Shared HTTP plumbing for every HTTP connector (HubSpot, Salesforce, Zoho, GHL, ...).

Why: every CRM needs the same careful client — one connection pool, explicit timeouts,
retries of 5xx/timeouts with backoff (stamina), 429 honoured with or without Retry-After,
rate-limit headers read, one token refresh on 401, and secrets never in logs or errors.
Write it once here; a connector only supplies its auth headers and reads JSON.

How to use it in a connector::

    from leadbridge.connectors._http import HttpClient, base_url_option

    class MyConnector(Connector):
        options = (
            Option("token", "secret", required=True, env="MYCRM_TOKEN"),
            base_url_option("MYCRM", "https://api.mycrm.com"),   # option base_url, env MYCRM_BASE_URL
        )

        def records(self, state):
            token = self.config["token"]
            with HttpClient(
                self.config["base_url"],
                name="MyCRM",
                auth=lambda: {"Authorization": f"Bearer {token.reveal()}"},
                refresh=None,                  # or a callable that renews the token (called once per 401)
                reset_header="X-RateLimit-Reset",  # optional: seconds to wait when a 429 has no Retry-After
                min_interval=0.0,             # optional client-side pacing between requests (seconds)
            ) as http:
                page = http.get_json("/v1/people", params={"limit": 100})
                ...

``HttpClient.request(method, url_or_path, *, params, json, data, headers, bucket)`` returns the
``httpx.Response`` (2xx only); ``get_json``/``post_json`` return parsed JSON, ``get_object``/
``post_object`` the same checked to be a JSON object, ``parse(resp)`` a response's JSON (a body
that is not JSON is a SourceError, not a traceback). For what is inside an answer:
``items(page, "data", where=...)`` the list of records (each an object), ``dig(page, "paging",
"next", where=...)`` a nested value, ``record_id(row, "id", where)`` the id as text, and
``convert(lambda: self._record(row), rid, where)`` the record or, when a field has a type the
vendor never sends, a rejected record saying so; ``once(seen, cursor, message)`` stops a read
whose paging cursor repeats. ``bucket`` +
``pace(bucket, per_second)`` give separate client-side pacing (e.g. HubSpot search 5 req/s).
``http.last_headers`` holds the headers of the latest response (connectors read their vendor's
quota headers there); ``http.requests`` counts requests sent. Failures raise
``leadbridge.errors.SourceError`` with a message naming the CRM, the method, the path (never the
query string or headers), the status and the vendor's own message — never a token (a credential
the vendor echoes back is replaced by ``***``).

Backwards compatible from the first commit: only add keyword arguments with defaults.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import httpx
import stamina

from ..connector import Option
from ..errors import SourceDataError, SourceError

R = TypeVar("R")
RETRY_STATUSES = frozenset({500, 502, 503, 504})
#: Shorter header values and parts are not credentials ("Bearer", a version date).
MIN_SECRET = 8
#: Header and form field names whose values are credentials (Authorization, x-api-token,
#: api_key, client_secret, refresh_token, assertion, ...).
_SECRET_FIELD = re.compile(r"auth|secret|token|password|assertion|key", re.IGNORECASE)
#: Tests set this to 0 (or a tiny value) to keep backoff sleeps short.
BACKOFF_SCALE = float(os.environ.get("LEADBRIDGE_HTTP_BACKOFF_SCALE", "1"))


def base_url_option(prefix: str, default: str) -> Option:
    """The shared ``base_url`` option, read from ``<PREFIX>_BASE_URL`` when not given."""
    return Option(
        "base_url", "str", default=default, env=f"{prefix}_BASE_URL",
        help=f"API base URL (tests and proxies point it elsewhere; env {prefix}_BASE_URL)",
    )


class _Retry(Exception):
    """A retryable answer; ``wait`` is the server-requested pause in seconds (or None)."""

    def __init__(self, message: str, wait: float | None) -> None:
        super().__init__(message)
        self.wait = wait


def _backoff(exc: Exception) -> bool | float:
    if isinstance(exc, _Retry):
        return exc.wait * BACKOFF_SCALE if exc.wait is not None else True
    return isinstance(exc, (httpx.TimeoutException, httpx.TransportError))


def vendor_message(resp: httpx.Response) -> str:
    """The vendor's own error text (JSON ``message``/``error_description``/first item), short."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200].strip()
    if isinstance(body, list) and body:
        body = body[0]
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "errorCode"):
            if body.get(key):
                text = str(body[key])
                code = body.get("errorCode")
                return f"{code}: {text}" if code and key != "errorCode" else text
    return str(body)[:200]


class HttpClient:
    """One ``httpx.Client`` with the retry, rate-limit and refresh policy every CRM needs."""

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        auth: Callable[[], Mapping[str, str]] | None = None,
        refresh: Callable[[], None] | None = None,
        attempts: int = 6,
        timeout: float = 60.0,
        reset_header: str | None = None,
        min_interval: float = 0.0,
        on_response: Callable[[httpx.Response], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        retry_after: Callable[[httpx.Response], float | None] | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._auth = auth
        self._refresh = refresh
        self._attempts = attempts
        self._reset_header = reset_header
        self._on_response = on_response
        self._retry_after_body = retry_after  # vendor wait hint in the 429 body (Zoho)
        self._pace: dict[str, float] = {"": min_interval}
        self._last_sent: dict[str, float] = {}
        self._lock = threading.Lock()
        self.last_headers: httpx.Headers = httpx.Headers()
        self.requests = 0
        self._secrets: set[str] = set()  # credentials sent so far, never shown in a message
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=10.0), follow_redirects=False,
            transport=transport, headers={"User-Agent": "leadbridge"},
        )

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpClient({self.name!r}, {self.base_url!r})"

    # -- pacing --------------------------------------------------------------------------
    def pace(self, bucket: str, per_second: float) -> None:
        """Send at most ``per_second`` requests per second in ``bucket`` (client side)."""
        self._pace[bucket] = 1.0 / per_second if per_second > 0 else 0.0

    def _wait_turn(self, bucket: str) -> None:
        interval = self._pace.get(bucket, self._pace[""])
        if interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            due = self._last_sent.get(bucket, 0.0) + interval
            if due > now:
                time.sleep(due - now)
            self._last_sent[bucket] = time.monotonic()

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    # -- requests ------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        bucket: str = "",
        auth: bool = True,
    ) -> httpx.Response:
        """Send with retries; return the 2xx response or raise SourceError."""
        url = self.url(path_or_url)
        where = f"{self.name} {method} {httpx.URL(url).path}"
        refreshed = False
        while True:
            try:
                resp = self._send_with_retries(method, url, where, params, json, data,
                                               headers, bucket, auth)
            except _Retry as exc:
                raise SourceError(self.redact(f"{exc}; gave up after {self._attempts} attempts. "
                                              "Try again later.")) from None
            except httpx.HTTPError as exc:
                raise SourceError(f"{where}: {type(exc).__name__} after {self._attempts} "
                                  f"attempts; check the base_url and network.") from None
            if resp.status_code == 401 and auth and self._refresh and not refreshed:
                refreshed = True
                self._refresh()
                continue
            if resp.status_code >= 400:
                hint = " Check the token/credentials." if resp.status_code in (401, 403) else ""
                raise SourceError(self.redact(
                    f"{where} failed with HTTP {resp.status_code}: {vendor_message(resp)}.{hint}"
                ))
            return resp

    def _send_with_retries(self, method, url, where, params, json, data, headers, bucket,
                           auth) -> httpx.Response:
        for attempt in stamina.retry_context(
            on=_backoff, attempts=self._attempts, timeout=None,
            wait_initial=0.5 * BACKOFF_SCALE, wait_max=60.0 * BACKOFF_SCALE,
            wait_jitter=0.5 * BACKOFF_SCALE,
        ):
            with attempt:
                self._wait_turn(bucket)
                all_headers = dict(self._auth() if (auth and self._auth) else {})
                self._remember(v for k, v in all_headers.items() if _SECRET_FIELD.search(k))
                if isinstance(data, Mapping):  # a token request's form: client secret, ...
                    self._remember(v for k, v in data.items() if _SECRET_FIELD.search(str(k)))
                all_headers.update(headers or {})
                self.requests += 1
                resp = self.client.request(method, url, params=params, json=json, data=data,
                                           headers=all_headers)
                self.last_headers = resp.headers
                if self._on_response:
                    try:
                        self._on_response(resp)
                    except SourceError as exc:  # a connector's hook may quote the body
                        exc.args = tuple(self.redact(a) if isinstance(a, str) else a
                                         for a in exc.args)
                        raise
                if resp.status_code == 429:
                    raise _Retry(f"{where} rate limited (HTTP 429: {vendor_message(resp)})",
                                 self._retry_after(resp))
                if resp.status_code in RETRY_STATUSES:
                    raise _Retry(f"{where} failed with HTTP {resp.status_code}", None)
                return resp
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_after(self, resp: httpx.Response) -> float | None:
        for header in ("Retry-After", self._reset_header):
            if header and resp.headers.get(header):
                try:
                    return _wait_seconds(float(resp.headers[header]))
                except ValueError:
                    continue
        if self._retry_after_body is not None:
            wait = self._retry_after_body(resp)
            try:
                return None if wait is None else _wait_seconds(float(wait))
            except ValueError:
                pass
        return None  # exponential backoff with jitter

    def _remember(self, values: Iterable[Any]) -> None:
        """Note credentials sent (a header value, its token part, a Basic pair decoded)."""
        for value in values:
            text = str(value)
            scheme, _, encoded = text.partition(" ")  # "Bearer <token>": the token alone too
            parts = [text, encoded.strip()]
            if scheme.lower() == "basic":
                try:
                    parts += base64.b64decode(encoded, validate=True).decode().split(":")
                except (binascii.Error, UnicodeDecodeError):
                    pass
            self._secrets.update(p for p in parts if len(p) >= MIN_SECRET)

    def redact(self, message: str) -> str:
        """``message`` without any credential this client sent. Why: a vendor's error body
        may echo the request's token back, and messages end up in logs and reports."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            message = message.replace(secret, "***")
        return message

    def parse(self, resp: httpx.Response, *, expect: type | None = None) -> Any:
        """The answer's JSON, checked to be an ``expect`` (e.g. ``dict``) when given.

        Why: a proxy's HTML page, an empty or cut-off body, bad bytes, or JSON of another shape
        with a 2xx status must stop the run with a SourceError naming the call, not with a
        traceback from deep inside a connector.
        """
        where = f"{self.name} {resp.request.method} {resp.request.url.path}"
        try:
            body = resp.json()
        # JSONDecodeError, UnicodeDecodeError, an over-long integer; RecursionError: JSON
        # nested thousands of levels deep
        except (ValueError, RecursionError):
            text = resp.text.lstrip()
            if not text:
                shown = "it is empty"
            elif text[0] in "{[":  # cut off or mangled: its records are nobody's business here
                shown = f"malformed JSON, {len(resp.content)} bytes"
            else:  # an HTML page, a proxy's text: its start says who answered
                shown = f"it starts {' '.join(text[:80].split())!r}"
            raise SourceError(self.redact(
                f"{where} answered HTTP {resp.status_code} with a body that is not JSON "
                f"({shown}); check the base_url, or try again later")) from None
        if expect is not None and not isinstance(body, expect):
            raise SourceDataError(
                f"{where} answered with JSON {_kind(body)} where {_kind(expect())} was expected")
        return body

    def get_json(self, path_or_url: str, **kw: Any) -> Any:
        return self.parse(self.request("GET", path_or_url, **kw))

    def post_json(self, path_or_url: str, body: Any = None, **kw: Any) -> Any:
        return self.parse(self.request("POST", path_or_url, json=body, **kw))

    def get_object(self, path_or_url: str, **kw: Any) -> dict[str, Any]:
        """``get_json`` for an endpoint that answers a JSON object (anything else: error)."""
        return self.parse(self.request("GET", path_or_url, **kw), expect=dict)

    def post_object(self, path_or_url: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        """``post_json`` for an endpoint that answers a JSON object (anything else: error)."""
        return self.parse(self.request("POST", path_or_url, json=body, **kw), expect=dict)


def once(seen: set[str], cursor: Any, message: str) -> str:
    """``str(cursor)``, noted in ``seen``; a SourceError saying ``message`` when it came
    before in the same read. Why: a vendor that repeats a paging cursor would have the
    reader page forever; every connector stops the same way, in its own words."""
    cursor = str(cursor)
    if cursor in seen:
        raise SourceError(message)
    seen.add(cursor)
    return cursor


def _wait_seconds(value: float) -> float:
    """A vendor's wait hint clamped to 0..300 s. ``nan`` (``Retry-After: nan``, or NaN in a
    JSON body) would pass the clamp, as every comparison with it is false, and make
    ``time.sleep`` raise: it is refused, and the client backs off on its own."""
    if math.isnan(value):
        raise ValueError("not a number")
    return min(max(value, 0.0), 300.0)


def _kind(value: Any) -> str:
    """How a JSON value is named in messages: 'an object', 'a list', 'null', ..."""
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else
                     type(value).__name__)


def items(page: Any, *keys: str, where: str) -> list[dict[str, Any]]:
    """The records at ``page[k1][k2]...`` (missing or null: none), each checked to be an object.

    Why: a page whose list is a string, or whose list holds a null, must stop with an error
    saying where, not crash in the connector or be read as an empty page.
    """
    rows = dig(page, *keys, where=where)
    if not rows:  # missing, null, or an empty value of any kind ("data": {} from PHP APIs)
        return []
    if not isinstance(rows, list):
        raise SourceDataError(f"{where}: {'.'.join(keys)} is {_kind(rows)}, not a list of "
                              "records")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise SourceDataError(f"{where}: {'.'.join(keys)}[{i}] is {_kind(row)}, not a record")
    return rows


def dig(value: Any, *keys: str, where: str) -> Any:
    """``value[k1][k2]...``, None where a level is missing, null or empty (``[]`` is how PHP
    APIs send an empty object). Why: a paging block that is a string or a number must stop the
    read with an error, not look like "no next page" (which would end the read early without a
    word) nor crash with an AttributeError."""
    for i, key in enumerate(keys):
        if not value and not isinstance(value, dict):
            return None
        if not isinstance(value, dict):
            raise SourceDataError(f"{where}: {'.'.join(keys[:i]) or 'the answer'} is "
                                  f"{_kind(value)}, not an object")
        value = value.get(key)
    return value


def record_id(row: Mapping[str, Any], key: str, where: str) -> str:
    """A record's id as text. Why: a record without a usable id cannot be tracked to one
    outcome (``str(None)`` would make every such record the same record ``"None"``)."""
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        shown = "an empty string" if isinstance(value, str) else _kind(value)
        raise SourceDataError(f"{where}: a record's {key!r} is {shown}, not an id; cannot "
                              "tell which record it is")
    return str(value)


def convert(build: Callable[[], R], source_id: str, where: str) -> R | dict[str, Any]:
    """``build()``'s canonical record, or a rejected record when a field holds a value of a
    type the vendor never sends there (a number for a list, an object for text).

    Why: such a record still ends in exactly one outcome (``rejected``, with the reason) and
    the run goes on, instead of a traceback stopping it.
    """
    try:
        return build()
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        return {"source_id": source_id,
                "reject_reason": f"{where}: record {source_id} has a value of an unexpected type "
                                 f"({type(exc).__name__}: {str(exc)[:120]})"}


def jitter(seconds: float) -> float:
    """A little randomness for client-side sleeps."""
    return seconds * (0.5 + random.random())
