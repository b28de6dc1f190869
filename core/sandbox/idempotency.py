"""Idempotency-Key handling: per customer and endpoint, replay or 409 (reference section 8).

Bodies are compared by a fingerprint of their canonical JSON, so key order and whitespace do
not matter but any value does. Only successful answers are stored (errors are not: a retry
after a 400 or 5xx runs again); dry runs are neither looked up nor stored.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..chunking import canonical_json
from .envelope import ApiError
from .store import Store, StoredResponse

MAX_KEY_LENGTH = 255


def fingerprint(body: Any) -> str:
    return hashlib.sha256(canonical_json(body)).hexdigest()


def read_key(headers: dict[str, str] | Any) -> str | None:
    key = (headers.get("idempotency-key") or "").strip()
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise ApiError(400, f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters")
    return key


def lookup(store: Store, customer_id: str, endpoint: str, key: str,
           print_: str) -> StoredResponse | None:
    """The stored answer to replay, None for a new key; 409 for a key reused on another body."""
    stored = store.idempotent(customer_id, endpoint, key)
    if stored is None:
        return None
    if stored.fingerprint != print_:
        raise ApiError(409, "Idempotency-Key was already used with a different request body; "
                            "use a new key for a different request")
    return stored
