"""Bearer token + ``x-customer-id`` checks with MEGA's 401/403 split (reference section 2).

Tokens are compared in constant time against every configured grant (no early exit), so the
answer time says nothing about how much of a guessed token was right.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

from .config import TokenGrant
from .envelope import ApiError


def _bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


class Authenticator:
    def __init__(self, grants: Iterable[TokenGrant]) -> None:
        self._grants = tuple(grants)

    def authenticate(self, headers: Mapping[str, str]) -> TokenGrant:
        """The grant for the request's token; 401 when the token or the customer is missing."""
        header = headers.get("authorization") or ""
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "Missing or malformed Authorization header: send "
                                "'Authorization: Bearer mega_<token>'")
        found: TokenGrant | None = None
        candidate = _bytes(token)
        for grant in self._grants:
            if hmac.compare_digest(candidate, _bytes(grant.token)) and found is None:
                found = grant
        if found is None:
            raise ApiError(401, "Invalid API key")
        if not (headers.get("x-customer-id") or "").strip():
            raise ApiError(401, "Missing x-customer-id header: send the customer UUID "
                                "your key is locked to")
        return found

    @staticmethod
    def authorize(grant: TokenGrant, headers: Mapping[str, str], scope: str) -> str:
        """The customer id the request acts on; 403 for a foreign customer or missing scope."""
        customer = (headers.get("x-customer-id") or "").strip()
        if not hmac.compare_digest(_bytes(customer.lower()), _bytes(grant.customer_id.lower())):
            raise ApiError(403, "This API key is locked to a different customer than "
                                "x-customer-id")
        if scope not in grant.scopes:
            raise ApiError(403, f"This API key lacks the required scope: {scope}")
        return grant.customer_id

    @staticmethod
    def key_id(grant: TokenGrant) -> str:
        """A stable, non-secret name for the key (rate-limit buckets are per key)."""
        return hashlib.sha256(_bytes(grant.token)).hexdigest()[:16]
