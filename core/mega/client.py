"""``MegaClient``: every MEGA CRM Lead API endpoint on one ``httpx.Client``, paced and retried.

* One ``httpx.Client`` per instance (use it as a context manager); ``transport=`` injectable.
* Pacing (:mod:`.pacing`) keeps each bucket under MEGA's limits, so 429 is rare; when it comes
  anyway, the client waits ``Retry-After`` plus jitter and retries.
* Timeouts, dropped connections and 5xx are retried with exponential backoff and the **same**
  ``Idempotency-Key`` (stamina ``retry_context``), a bounded number of times.
* 400/401/403/404/409 are never retried; every answer is classified in :mod:`.classify`.
* The token lives in a :class:`~leadbridge.connector.Secret` and is put on the wire by an
  ``httpx.Auth`` whose ``repr`` hides it; it never reaches a log line, an error or a ``repr``.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import stamina

from .._version import __version__
from ..chunking import Chunk, canonical_json, idempotency_key as derive_key
from ..connector import Secret
from ..errors import MegaError
from ..mega_model import (BULK_ENDPOINT, BULK_MAX_ROWS, CREATE_ENDPOINT, LIST_ENDPOINT,
                          ON_DUPLICATE, id_text)
from .classify import classify, header_seconds, is_retriable, parse_retry_after, transport_cause
from .config import resolve_settings
from .errors import MegaRateLimitError, MegaServerError, MegaTransportError
from .pacing import BUCKET_BULK, BUCKET_DEFAULT, Pacer

__all__ = ["LIST_FILTERS", "ClientStats", "MegaClient"]

log = logging.getLogger("leadbridge.mega")

WEBHOOKS_ENDPOINT = "/api/agents/crm/lead-webhooks"

#: keyword accepted by list_leads -> query parameter MEGA documents (section 4.1).
LIST_FILTERS: dict[str, str] = {
    "status": "status", "stage_id": "stageId", "stageId": "stageId", "search": "search",
    "created_since": "created_since", "updated_since": "updated_since",
    "sort_by": "sort_by", "sort_dir": "sort_dir", "lead_line": "lead_line",
    "include_custom_fields": "include_custom_fields", "cursor": "cursor", "limit": "limit",
    "offset": "offset",
}
_ENUMS: dict[str, tuple[str, ...]] = {
    "sort_by": ("created_at", "updated_at", "last_interaction_at"),
    "sort_dir": ("asc", "desc"),
    "lead_line": ("buyer", "seller"),
}
#: Consecutive empty pages that still carry a next_cursor before list_leads gives up.
_MAX_EMPTY_PAGES = 10
_WEBHOOK_FIELDS = ("url", "event_types", "timeout_seconds", "retry_attempts", "description",
                   "is_active")


class _BearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer …`` at send time; the token is never held in plain sight."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = "Bearer " + self._token.reveal()
        yield request

    def __repr__(self) -> str:
        return "<MEGA bearer auth ***>"


@dataclass
class ClientStats:
    """What happened on the wire; benchmarks and run reports read it."""

    requests: int = 0          # logical calls
    attempts: int = 0          # HTTP attempts (requests + retries)
    retries: int = 0
    rate_limited: int = 0      # 429 answers seen
    server_errors: int = 0     # 5xx answers seen
    transport_errors: int = 0  # timeouts / refused / dropped
    backoff_seconds: float = 0.0


class MegaClient:
    """A client for MEGA's CRM Lead API (reference: shared/reference/mega-api.md).

    ``base_url``, ``token`` and ``customer_id`` default to ``MEGA_BASE_URL`` (else
    ``https://app.gomega.ai``), ``MEGA_TOKEN`` and ``MEGA_CUSTOMER_ID``.

    ``time_scale`` shrinks the documented rate windows and the retry backoff (pair it with
    the sandbox's ``--time-scale``); ``clock``/``sleep`` replace the pacer's time functions.
    """

    def __init__(
        self,
        base_url: str | None = None,
        token: str | Secret | None = None,
        customer_id: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        max_attempts: int = 6,
        time_scale: float = 1.0,
        pacing: bool = True,
        spread: bool = True,
        limits: Mapping[str, tuple[tuple[int, float], ...]] | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        retry_after_jitter: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        allow_http: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        token = token if isinstance(token, Secret) else Secret(token or "")  # no plain local
        settings = resolve_settings(base_url, token, customer_id, env=env, allow_http=allow_http)
        del env
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.base_url = settings.base_url
        self.customer_id = settings.customer_id
        self.max_attempts = max_attempts
        self.time_scale = time_scale
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.retry_after_jitter = retry_after_jitter
        self._token = settings.token
        self.stats = ClientStats()
        self._stats_lock = threading.Lock()
        self.pacer = Pacer(limits, time_scale=time_scale, spread=spread, enabled=pacing,
                           clock=clock, sleep=sleep)
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=_BearerAuth(settings.token),
            headers={"User-Agent": f"leadbridge/{__version__}",
                     "x-customer-id": self.customer_id, "Accept": "application/json"},
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> MegaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return (f"MegaClient(base_url={getattr(self, 'base_url', None)!r}, "
                f"customer_id={getattr(self, 'customer_id', None)!r}, token='***')")

    __str__ = __repr__

    # -- leads ---------------------------------------------------------------------------------

    def list_leads_page(self, **filters: Any) -> dict[str, Any]:
        """One raw ``LeadListResponse`` page (``leads``, ``total``, ``next_cursor``, …)."""
        return self._call("GET", LIST_ENDPOINT, params=_list_params(filters), shape=_page_shape)

    def list_leads(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every lead matching the filters, following ``next_cursor`` to the last page.

        Filters: status, stage_id (stageId), search, created_since, updated_since (str or
        aware datetime), sort_by, sort_dir, lead_line, include_custom_fields, limit (page size,
        default 100 here), cursor (start from), offset.
        """
        params = _list_params(filters)
        params.setdefault("limit", "100")
        seen: set[str] = set()
        empty = 0
        while True:
            page = self._call("GET", LIST_ENDPOINT, params=params, shape=_page_shape)
            yield from page["leads"]
            cursor = page.get("next_cursor")
            if not cursor:
                return
            if cursor in seen:
                raise MegaError("MEGA returned the same next_cursor twice while listing leads; "
                                "stopping instead of looping forever")
            # a keyset cursor comes from a page's last lead: fresh cursors on empty pages
            # would be followed for ever (a few are tolerated, should MEGA filter after paging)
            empty = empty + 1 if not page["leads"] else 0
            if empty >= _MAX_EMPTY_PAGES:
                raise MegaError(f"MEGA returned {empty} empty pages in a row, each with a new "
                                "next_cursor, while listing leads; stopping instead of "
                                "following cursors forever")
            seen.add(cursor)
            params = {k: v for k, v in params.items() if k != "offset"}
            params["cursor"] = cursor

    def create_lead(self, lead: Mapping[str, Any], idempotency_key: str | None = None
                    ) -> dict[str, Any]:
        """Create (or merge into) one lead; returns the ``lead`` object MEGA answers with.

        Without ``idempotency_key`` the key is derived from customer, endpoint and body, so a
        retry or a re-run of the same create is replayed by MEGA, never repeated.
        """
        body = canonical_json(dict(lead))
        key = idempotency_key or derive_key(self.customer_id, CREATE_ENDPOINT, body)
        answer = self._call("POST", CREATE_ENDPOINT, body=body, idempotency_key=key,
                            shape=_create_shape)
        return answer["lead"]

    def bulk_import(self, rows: Iterable[Mapping[str, Any]], on_duplicate: str = "update",
                    dry_run: bool = False, idempotency_key: str | None = None
                    ) -> dict[str, Any]:
        """POST up to 500 rows to ``/leads/bulk``; returns the ``BulkImportResponse``.

        The body is built exactly like :func:`leadbridge.chunking.make_chunks` builds it, so
        the derived key equals that chunk's key.
        """
        batch = [dict(r) for r in rows]
        if not 1 <= len(batch) <= BULK_MAX_ROWS:
            raise ValueError(f"bulk_import takes 1..{BULK_MAX_ROWS} rows, got {len(batch)}")
        if on_duplicate not in ON_DUPLICATE:
            raise ValueError(f"on_duplicate must be one of {ON_DUPLICATE}, got {on_duplicate!r}")
        payload: dict[str, Any] = {"leads": batch, "on_duplicate": on_duplicate}
        if dry_run:
            payload["dry_run"] = True
        body = canonical_json(payload)
        key = idempotency_key or derive_key(self.customer_id, BULK_ENDPOINT, body)
        return self._call("POST", BULK_ENDPOINT, body=body, idempotency_key=key,
                          bucket=BUCKET_BULK, shape=_bulk_shape)

    def send_chunk(self, chunk: Chunk) -> dict[str, Any]:
        """POST a prepared chunk's body bytes verbatim under its own ``Idempotency-Key``."""
        return self._call("POST", BULK_ENDPOINT, body=chunk.body,
                          idempotency_key=chunk.idempotency_key, bucket=BUCKET_BULK,
                          chunk_index=chunk.index, shape=_bulk_shape)

    def move_stage(self, lead_id: str, stage_slug: str, reason: str | None = None
                   ) -> dict[str, Any]:
        """Move a lead to a pipeline stage (API 1.1.0); safe to retry (MEGA compares-and-sets)."""
        payload: dict[str, Any] = {"stage_slug": stage_slug}
        if reason is not None:
            payload["reason"] = reason
        return self._call("POST", f"{LIST_ENDPOINT}/{_segment(lead_id)}/stage",
                          body=canonical_json(payload))

    # -- webhooks --------------------------------------------------------------------------------

    def list_webhooks(self) -> list[dict[str, Any]]:
        return list(self._call("GET", WEBHOOKS_ENDPOINT, shape=_webhooks_shape)["webhooks"])

    def create_webhook(self, url: str, **fields: Any) -> dict[str, Any]:
        """Register a webhook; returns ``{"webhook": …, "secret": …}`` (the secret only once).

        Not retried after the request may have reached MEGA (no idempotency on this route).
        """
        payload = {"url": url, **_webhook_fields(fields)}
        return self._call("POST", WEBHOOKS_ENDPOINT, body=canonical_json(payload),
                          idempotent=False)

    def update_webhook(self, webhook_id: str, **changes: Any) -> dict[str, Any]:
        """Change a webhook (``rotate_secret=True`` mints a new secret, returned once)."""
        payload = _webhook_fields(changes, extra=("rotate_secret",))
        return self._call("PATCH", f"{WEBHOOKS_ENDPOINT}/{_segment(webhook_id)}",
                          body=canonical_json(payload))

    def delete_webhook(self, webhook_id: str) -> bool:
        answer = self._call("DELETE", f"{WEBHOOKS_ENDPOINT}/{_segment(webhook_id)}")
        return bool(answer.get("deleted"))

    # -- the one request path ------------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
              body: bytes | None = None, idempotency_key: str | None = None,
              bucket: str = BUCKET_DEFAULT, idempotent: bool = True,
              chunk_index: int | None = None,
              shape: Callable[[Any], str | None] | None = None) -> dict[str, Any]:
        """Send with pacing and bounded retries; return the decoded JSON or raise.

        ``shape`` checks a 2xx answer's JSON and names what is wrong with it (``None``: fine);
        a wrong shape is a ``MegaServerError`` like a body that is not JSON (retried, then
        raised), so callers only ever index documented fields and never get a traceback.
        """
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        self._count("requests")

        def retry_hook(exc: Exception) -> bool | float:
            return self._retry_wait(exc, idempotent=idempotent)

        scale = self.time_scale
        for attempt in stamina.retry_context(
            on=retry_hook, attempts=self.max_attempts, timeout=None,
            wait_initial=self.backoff_initial * scale, wait_max=self.backoff_max * scale,
            wait_jitter=self.backoff_initial * scale,
        ):
            with attempt:
                return self._attempt(method, path, params, body, headers, bucket, attempt.num,
                                     chunk_index, idempotency_key, shape)
        raise AssertionError("unreachable: stamina re-raises the last error")

    def _attempt(self, method: str, path: str, params: Mapping[str, str] | None,
                 body: bytes | None, headers: dict[str, str], bucket: str, num: int,
                 chunk_index: int | None, key: str | None,
                 shape: Callable[[Any], str | None] | None = None) -> dict[str, Any]:
        self.pacer.acquire(bucket)
        self._count("attempts")
        started = time.monotonic()
        try:
            try:
                response = _released(self._http.request(method, path, params=params,
                                                        content=body, headers=headers))
            finally:
                self.pacer.complete(bucket)
        except httpx.TransportError as exc:
            cause = transport_cause(exc)
            self._count("transport_errors")
            log.debug("MEGA %s %s: %s on attempt %d (%s)", method, path, cause, num,
                      type(exc).__name__)
            raise MegaTransportError(
                f"MEGA {method} {path}"
                + (f" (chunk {chunk_index})" if chunk_index is not None else "")
                + f": no answer ({cause}: {type(exc).__name__}: {exc}) after {num} attempt(s); "
                "check the network and MEGA_BASE_URL, then re-run (writes are keyed, so a "
                "re-run never duplicates)",
                method=method, path=path, attempts=num, cause=cause, chunk_index=chunk_index,
                idempotency_key=key) from None
        elapsed = time.monotonic() - started
        retry_after = _retry_after(response.headers)
        self.pacer.observe(bucket, response.headers, response.status_code, retry_after)
        log.debug("MEGA %s %s -> %d in %.0f ms (attempt %d, key %s)", method, path,
                  response.status_code, elapsed * 1000, num, key or "-")
        if response.status_code == 429:
            self._count("rate_limited")
        elif response.status_code >= 500:
            self._count("server_errors")
        error = classify(response, method=method, path=path, attempts=num,
                         chunk_index=chunk_index, idempotency_key=key, redact=self._redact)
        if error is not None:
            if retry_after is not None:
                error.retry_after = retry_after
            raise error
        try:
            data = response.json()
            problem = shape(data) if shape is not None else None
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            problem = "the answer is not JSON"
        if problem is not None:
            raise MegaServerError(
                status=response.status_code, type="api_error", code=response.status_code,
                message=problem, method=method, path=path, attempts=num,
                hint="an unexpected proxy or server answered; check MEGA_BASE_URL",
                chunk_index=chunk_index, idempotency_key=key) from None
        return data if isinstance(data, dict) else {"data": data}

    def _redact(self, text: str) -> str:
        """``text`` without the token. Why: an error body may echo the ``Authorization``
        header back, and error messages reach logs, run reports and the terminal."""
        token = self._token.reveal()
        return text.replace(token, "***") if token else text

    def _retry_wait(self, exc: Exception, *, idempotent: bool) -> bool | float:
        """stamina hook: False (give up), True (exponential backoff) or seconds to wait."""
        if not is_retriable(exc, idempotent=idempotent):
            return False
        self._count("retries")
        if isinstance(exc, MegaRateLimitError) and exc.retry_after is not None:
            wait = exc.retry_after
            wait += random.uniform(0, self.retry_after_jitter * max(wait, 1.0 * self.time_scale))
            log.debug("MEGA 429: waiting %.3fs (Retry-After plus jitter)", wait)
            with self._stats_lock:
                self.stats.backoff_seconds += wait
            return wait
        log.debug("MEGA retriable failure (%s): backing off", type(exc).__name__)
        return True

    def _count(self, name: str) -> None:
        with self._stats_lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)


# -- helpers -----------------------------------------------------------------------------------

def _released(response: httpx.Response) -> httpx.Response:
    """``response`` without its (already read and closed) stream.

    Why: httpx's stream wrapper points back at its response (encode/httpx#3733), so every
    answer, with the request it holds (a chunk's ~250 KB body), waits for Python's cyclic
    collector. On CPython 3.11 that collector keeps up (a 300k-record sync held at most 18
    answers, 2.3 MB); one that runs less often (3.14's, or a host that tunes ``gc``) lets
    sent bodies pile up. Without the cycle an answer is freed as soon as it has been read.
    ``request()`` has read the body, so ``content``, ``json()`` and ``headers`` do not
    need the stream.
    """
    response.stream = httpx.ByteStream(b"")
    return response


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait; prefers a millisecond ``Retry-After-Ms`` when a server sends one."""
    ms = header_seconds(headers.get("retry-after-ms"), unit=0.001)
    return ms if ms is not None else parse_retry_after(headers)


# -- answer shapes (a problem in words, or None); documented in mega-api.md sections 4-5, 13 ----

def _object(data: Any, what: str) -> str | None:
    return None if isinstance(data, dict) else f"the answer is not a JSON object ({what})"


def _has_id(item: Any) -> bool:
    return bool(id_text(item.get("id"))) if isinstance(item, dict) else False


def _page_shape(data: Any) -> str | None:
    """A ``LeadListResponse``: ``leads`` a list of leads with ids, ``next_cursor`` a string or
    null. Why: a list body or a ``leads`` string listed nothing (or characters) silently, and
    an object as cursor raised TypeError."""
    problem = _object(data, "a page of leads")
    if problem:
        return problem
    leads = data.get("leads")
    if not isinstance(leads, list):
        return "the page's leads is not a list"
    if not all(_has_id(lead) for lead in leads):
        return "a lead on the page is not an object with an id"
    cursor = data.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        return "the page's next_cursor is neither a string nor null"
    return None


def _bulk_shape(data: Any) -> str | None:
    """A ``BulkImportResponse`` whose ``results`` is a list (one row's bad result is the
    caller's to fail; a missing list would leave every row without an answer)."""
    problem = _object(data, "a bulk import answer")
    if problem:
        return problem
    return None if isinstance(data.get("results"), list) else "its results is not a list"


def _create_shape(data: Any) -> str | None:
    """``{"lead": Lead}``: the lead object with its id (a merge and an insert look alike)."""
    problem = _object(data, "a created lead")
    if problem:
        return problem
    return None if _has_id(data.get("lead")) else "its lead is not an object with an id"


def _webhooks_shape(data: Any) -> str | None:
    problem = _object(data, "a webhook list")
    if problem:
        return problem
    return None if isinstance(data.get("webhooks"), list) else "its webhooks is not a list"


def _segment(value: str) -> str:
    if not value:
        raise ValueError("an id is required")
    return quote(str(value), safe="")


def _format_param(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name}: give a timezone-aware datetime (MEGA compares instants)")
        utc = value.astimezone(dt.timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _list_params(filters: Mapping[str, Any]) -> dict[str, str]:
    unknown = sorted(set(filters) - set(LIST_FILTERS))
    if unknown:
        raise ValueError(f"unknown list_leads filter(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(LIST_FILTERS))}")
    params: dict[str, str] = {}
    for name, value in filters.items():
        if value is None:
            continue
        allowed = _ENUMS.get(name)
        if allowed and value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        if name == "limit" and not (isinstance(value, int) and 1 <= value <= 100):
            raise ValueError(f"limit must be an integer 1..100, got {value!r}")
        if name == "offset" and not (isinstance(value, int) and value >= 0):
            raise ValueError(f"offset must be an integer >= 0, got {value!r}")
        params[LIST_FILTERS[name]] = _format_param(name, value)
    return params


def _webhook_fields(fields: Mapping[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    allowed = _WEBHOOK_FIELDS + extra
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ValueError(f"unknown webhook field(s) {', '.join(unknown)}; "
                         f"known: {', '.join(allowed)}")
    return {k: v for k, v in fields.items() if v is not None or k == "description"}

