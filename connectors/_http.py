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
``httpx.Response`` (2xx only); ``get_json``/``post_json`` return parsed JSON. ``bucket`` +
``pace(bucket, per_second)`` give separate client-side pacing (e.g. HubSpot search 5 req/s).
``http.last_headers`` holds the headers of the latest response (connectors read their vendor's
quota headers there); ``http.requests`` counts requests sent. Failures raise
``leadbridge.errors.SourceError`` with a message naming the CRM, the method, the path (never the
query string or headers), the status and the vendor's own message — never a token.

Backwards compatible from the first commit: only add keyword arguments with defaults.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import stamina

from ..connector import Option
from ..errors import SourceError

RETRY_STATUSES = frozenset({500, 502, 503, 504})
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
                raise SourceError(f"{exc}; gave up after {self._attempts} attempts. "
                                  "Try again later.") from None
            except httpx.HTTPError as exc:
                raise SourceError(f"{where}: {type(exc).__name__} after {self._attempts} "
                                  f"attempts; check the base_url and network.") from None
            if resp.status_code == 401 and auth and self._refresh and not refreshed:
                refreshed = True
                self._refresh()
                continue
            if resp.status_code >= 400:
                hint = " Check the token/credentials." if resp.status_code in (401, 403) else ""
                raise SourceError(
                    f"{where} failed with HTTP {resp.status_code}: {vendor_message(resp)}.{hint}"
                )
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
                all_headers.update(headers or {})
                self.requests += 1
                resp = self.client.request(method, url, params=params, json=json, data=data,
                                           headers=all_headers)
                self.last_headers = resp.headers
                if self._on_response:
                    self._on_response(resp)
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
                    return min(max(float(resp.headers[header]), 0.0), 300.0)
                except ValueError:
                    continue
        if self._retry_after_body is not None:
            wait = self._retry_after_body(resp)
            if wait is not None:
                return min(max(float(wait), 0.0), 300.0)
        return None  # exponential backoff with jitter

    def get_json(self, path_or_url: str, **kw: Any) -> Any:
        return self.request("GET", path_or_url, **kw).json()

    def post_json(self, path_or_url: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path_or_url, json=body, **kw).json()


def jitter(seconds: float) -> float:
    """A little randomness for client-side sleeps."""
    return seconds * (0.5 + random.random())
