"""Verifying MEGA's ``lead.created`` webhook deliveries (reference section 13.4).

``signed_payload = X-Mega-Timestamp + "." + raw body``; the signature header is
``"sha256=" + hex(HMAC-SHA256(secret, signed_payload))``. The comparison is constant-time and
a delivery whose timestamp is further than ``tolerance`` seconds from now (past *or* future)
is refused, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from ..connector import Secret
from ..errors import ConfigError
from .errors import WebhookSignatureError, WebhookTimestampError

__all__ = ["DEFAULT_TOLERANCE", "SIGNATURE_PREFIX", "sign_webhook", "verify_webhook"]

DEFAULT_TOLERANCE = 300
SIGNATURE_PREFIX = "sha256="
_DIGITS = re.compile(r"[0-9]{1,12}")


def _text(value: str | bytes | int | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace")
    return str(value)


def _key(secret: str | bytes | Secret) -> bytes:
    """The HMAC key. An empty or missing secret is refused (ConfigError): with an empty key
    anyone can compute a valid signature, so an unset secret variable would accept forgeries."""
    if isinstance(secret, Secret):
        secret = secret.reveal()
    if not isinstance(secret, str | bytes) or not secret:
        raise ConfigError("the webhook secret is empty or missing: pass the mega_whsec_... "
                          "value MEGA returned when the webhook was created or rotated")
    return secret if isinstance(secret, bytes) else secret.encode("utf-8", "surrogateescape")


def sign_webhook(secret: str | bytes | Secret, timestamp: str | int, body: bytes | str) -> str:
    """The ``X-Mega-Signature`` value MEGA sends for this timestamp and body."""
    # surrogatepass: a str body with lone surrogates fails to match instead of raising
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    message = str(timestamp).encode("ascii") + b"." + raw
    return SIGNATURE_PREFIX + hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def verify_webhook(secret: str | bytes | Secret, timestamp: str | bytes | int | None,
                   body: bytes | str, signature: str | bytes | None, tolerance: float =
                   DEFAULT_TOLERANCE, now: float | None = None) -> bool:
    """Return True when the delivery is genuine and fresh; raise otherwise (never False).

    ``timestamp`` and ``signature`` are the ``X-Mega-Timestamp`` and ``X-Mega-Signature``
    headers as received; ``body`` the raw request bytes (never re-serialized JSON).
    Raises WebhookTimestampError (answer 400) or WebhookSignatureError (answer 401), and
    ConfigError when ``secret`` is empty (a receiver whose secret is unset must not accept
    deliveries signed with the empty key).
    """
    key = _key(secret)  # refuse an empty secret before any other check
    ts = _text(timestamp)
    if ts is None or not _DIGITS.fullmatch(ts):  # fullmatch: "$" would accept "123\n"
        raise WebhookTimestampError(
            "webhook rejected: X-Mega-Timestamp is missing or not Unix seconds",
            reason="timestamp_missing")
    current = time.time() if now is None else now
    age = current - int(ts)
    if age > tolerance:
        raise WebhookTimestampError(
            f"webhook rejected: timestamp is {int(age)}s old, beyond the {tolerance:g}s replay "
            "window (a replayed or badly delayed delivery)", reason="timestamp_stale")
    if -age > tolerance:
        raise WebhookTimestampError(
            f"webhook rejected: timestamp is {int(-age)}s in the future, beyond the "
            f"{tolerance:g}s window (check the receiver's clock)", reason="timestamp_future")
    sig = _text(signature)
    if not sig:
        raise WebhookSignatureError("webhook rejected: X-Mega-Signature is missing",
                                    reason="signature_missing")
    expected = sign_webhook(key, ts, body)
    # compare as bytes: compare_digest refuses non-ASCII str, and a hostile header may be one
    # (even with lone surrogates, which strict UTF-8 encoding would raise on)
    if not hmac.compare_digest(expected.encode("ascii"),
                               sig.strip().encode("utf-8", "replace")):
        raise WebhookSignatureError(
            "webhook rejected: X-Mega-Signature does not match the body and timestamp (wrong "
            "secret, tampered body, or a body re-serialized before verifying)",
            reason="signature_mismatch")
    return True
