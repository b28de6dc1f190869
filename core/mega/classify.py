"""The one place that decides what a MEGA response (or a failed request) means.

Every answer goes through :func:`classify`: 2xx is success, 429/5xx and transport failures are
retriable, 400/401/403/404/409 are fatal. Callers never call ``raise_for_status()`` themselves.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..mega_model import SCOPE_READ, SCOPE_WEBHOOKS, SCOPE_WRITE
from .errors import (
    MegaAPIError,
    MegaAuthenticationError,
    MegaAuthorizationError,
    MegaConflictError,
    MegaInvalidRequestError,
    MegaNotFoundError,
    MegaRateLimitError,
    MegaServerError,
    MegaTransportError,
)

__all__ = ["MAX_WAIT_SECONDS", "classify", "header_seconds", "is_retriable", "parse_retry_after",
           "required_scope"]

#: The longest wait a MEGA hint can mean: its longest rate window is an hour (section 11).
MAX_WAIT_SECONDS = 3600.0

_BY_STATUS: dict[int, type[MegaAPIError]] = {
    400: MegaInvalidRequestError,
    401: MegaAuthenticationError,
    403: MegaAuthorizationError,
    404: MegaNotFoundError,
    409: MegaConflictError,
    429: MegaRateLimitError,
}
_DEFAULT_TYPE: dict[int, str] = {
    400: "invalid_request_error", 401: "authentication_error", 403: "authorization_error",
    404: "not_found_error", 409: "api_error", 429: "rate_limit_error",
}


def required_scope(method: str, path: str) -> str:
    """The scope MEGA requires for an endpoint (reference section 2)."""
    if "/lead-webhooks" in path:
        return SCOPE_WEBHOOKS
    return SCOPE_READ if method.upper() == "GET" else SCOPE_WRITE


def header_seconds(value: str | None, unit: float = 1.0) -> float | None:
    """A wait hint header (``value`` counted in ``unit`` seconds) as seconds in
    0..:data:`MAX_WAIT_SECONDS`; ``None`` when absent or not a finite number.

    Why: ``inf``, ``1e400`` or ``99999999999`` made ``time.sleep`` raise OverflowError (a
    traceback) and ``nan`` passes any clamp; no MEGA window needs a wait beyond an hour, so a
    longer hint is garbage and the client backs off on its own instead.
    """
    if value is None:
        return None
    try:
        seconds = float(value) * unit
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds > MAX_WAIT_SECONDS:
        return None
    return max(0.0, seconds)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (integer seconds per MEGA; HTTP dates are ignored)."""
    return header_seconds(headers.get("retry-after"))


def _envelope(response: httpx.Response, redact: Callable[[str], str] = str
              ) -> tuple[str | None, int | None, str]:
    """(type, code, message) from MEGA's error envelope, tolerating anything else.

    ``redact`` removes the request's credentials first (a server or proxy may echo the
    ``Authorization`` header back), before the text is cut, so no fragment of one is kept.
    """
    try:
        data: Any = json.loads(response.content or b"null")
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        etype = err.get("type") if isinstance(err.get("type"), str) else None
        code = err.get("code") if isinstance(err.get("code"), int) else None
        message = err.get("message") if isinstance(err.get("message"), str) else ""
        return etype, code, redact(message)
    text = redact(response.text).strip().replace("\n", " ")[:200] if response.content else ""
    return None, None, text or response.reason_phrase or "no error body"


def _hint(status: int, message: str, method: str, path: str,
          idempotency_key: str | None, chunk_index: int | None) -> str:
    low = message.lower()
    scope = required_scope(method, path)
    if status == 401:
        return ("MEGA did not accept the credentials: check MEGA_TOKEN (a key looks like "
                "mega_<64 hex>, issued by MEGA) and that MEGA_CUSTOMER_ID is set")
    if status == 403:
        if "scope" in low or scope in message:
            return (f"the key lacks scope {scope}: ask your MEGA account manager to grant it "
                    "or use a key that has it")
        if "customer" in low or "locked" in low or "tenant" in low:
            return "the key is locked to another customer: check MEGA_CUSTOMER_ID"
        return (f"either the key lacks scope {scope} or it is locked to another customer: "
                "check MEGA_CUSTOMER_ID and the key's scopes")
    if status == 409:
        if idempotency_key:
            what = f"chunk {chunk_index}" if chunk_index is not None else "this request"
            return (f"Idempotency-Key {idempotency_key} of {what} was already used with a "
                    "different body, so MEGA refuses it; the content sent under this key "
                    "changed since it was first sent (rows edited or re-ordered): re-plan so "
                    "the changed chunk gets a new key, and never reuse a key for new content")
        return "MEGA reports a duplicate resource: it already exists"
    if status == 404:
        return "it does not exist for this customer (or belongs to another customer)"
    if status == 400:
        return "MEGA refused the request as malformed; it will not succeed unchanged"
    if status == 429:
        return ("MEGA's rate limit was still exceeded after every retry: wait and re-run, "
                "or ask MEGA for a higher limit")
    if status >= 500:
        return ("MEGA kept failing; re-running is safe: writes reuse the same Idempotency-Key, "
                "so MEGA replays what it already did")
    return ""


_SAFE_PATH = re.compile(r"[^A-Za-z0-9_\-/.~%]")


def classify(response: httpx.Response, *, method: str, path: str, attempts: int = 1,
             chunk_index: int | None = None, idempotency_key: str | None = None,
             redact: Callable[[str], str] = str) -> MegaAPIError | None:
    """``None`` for a 2xx answer, otherwise the error it stands for (not raised here).

    ``redact`` takes the request's credentials out of whatever text the answer carries."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    etype, code, message = _envelope(response, redact)
    if status >= 500:
        cls: type[MegaAPIError] = MegaServerError
    else:
        cls = _BY_STATUS.get(status, MegaInvalidRequestError if status < 500 else MegaServerError)
    path = _SAFE_PATH.sub("", path)
    hint = _hint(status, message, method, path, idempotency_key, chunk_index)
    if 300 <= status < 400:  # redirects are never followed (they could leak the token)
        target = urlsplit(response.headers.get("location", ""))
        host = target.netloc.rpartition("@")[2]  # never echo a user:password@ it carries
        hint = (f"the server redirects to {target.scheme}://{host}{target.path}: "
                "set MEGA_BASE_URL to the final https URL")
    return cls(
        status=status, type=etype or _DEFAULT_TYPE.get(status, "api_error"),
        code=code if code is not None else status, message=message, method=method, path=path,
        hint=hint,
        attempts=attempts, retry_after=parse_retry_after(response.headers),
        chunk_index=chunk_index, idempotency_key=idempotency_key,
    )


def is_retriable(exc: BaseException, *, idempotent: bool = True) -> bool:
    """Whether another attempt may succeed.

    429 always (MEGA did nothing). 5xx and transport failures only for idempotent requests
    (keyed writes, GET, PATCH, DELETE, the stage move): for them a repeat cannot do the work
    twice. A non-idempotent POST is retried only when the connection never got established.
    """
    if isinstance(exc, MegaRateLimitError):
        return True
    if isinstance(exc, MegaServerError):
        return idempotent
    if isinstance(exc, MegaTransportError):
        return idempotent or exc.cause == "connect"
    return False


def transport_cause(exc: httpx.TransportError) -> str:
    """A short, secret-free name for what went wrong on the wire."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        return "connect"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "dropped"
    return "network"
