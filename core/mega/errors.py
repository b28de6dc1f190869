"""Errors the MEGA client raises: one class per MEGA error ``type``, plus transport failures.

The tree (all under :class:`leadbridge.errors.MegaError`)::

    MegaError
    ├── MegaTransportError           no answer: timeout, refused or dropped connection
    ├── MegaAPIError                 MEGA answered with its error envelope
    │   ├── MegaInvalidRequestError  400 invalid_request_error   fatal: fix the request
    │   ├── MegaAuthenticationError  401 authentication_error    fatal: check MEGA_TOKEN
    │   ├── MegaAuthorizationError   403 authorization_error     fatal: scope or customer lock
    │   ├── MegaNotFoundError        404 not_found_error         fatal
    │   ├── MegaConflictError        409 api_error               fatal: key reused, body changed
    │   ├── MegaRateLimitError       429 rate_limit_error        retried, raised when exhausted
    │   └── MegaServerError          5xx api_error               retried, raised when exhausted
    └── WebhookVerificationError     a webhook delivery failed verification
        ├── WebhookTimestampError    missing, malformed, stale or future timestamp
        └── WebhookSignatureError    signature missing or not matching the body

Errors carry the request method and path (never headers, never the query string), the HTTP
status and MEGA's ``type``, ``code`` and ``message``; ``str()`` adds what the user can do.
"""

from __future__ import annotations

from ..errors import MegaError

__all__ = [
    "MegaAPIError",
    "MegaAuthenticationError",
    "MegaAuthorizationError",
    "MegaConflictError",
    "MegaError",
    "MegaInvalidRequestError",
    "MegaNotFoundError",
    "MegaRateLimitError",
    "MegaServerError",
    "MegaTransportError",
    "WebhookSignatureError",
    "WebhookTimestampError",
    "WebhookVerificationError",
]


class MegaTransportError(MegaError):
    """No usable answer from MEGA (timeout, connection refused or dropped) after every retry.

    Safe to retry later: writes are sent with an ``Idempotency-Key``, so a write MEGA did
    receive is replayed, not repeated.
    """

    def __init__(self, message: str, *, method: str, path: str, attempts: int = 1,
                 cause: str = "", chunk_index: int | None = None,
                 idempotency_key: str | None = None) -> None:
        self.method = method
        self.path = path
        self.attempts = attempts
        self.cause = cause
        self.chunk_index = chunk_index
        self.idempotency_key = idempotency_key
        super().__init__(message)


class MegaAPIError(MegaError):
    """MEGA answered with an error envelope ``{"error": {"type", "code", "message"}}``."""

    #: The envelope ``type`` this class stands for (``None`` on the base class).
    error_type: str | None = None
    retriable: bool = False

    def __init__(self, *, status: int, type: str, code: int, message: str, method: str,
                 path: str, hint: str = "", attempts: int = 1,
                 retry_after: float | None = None, chunk_index: int | None = None,
                 idempotency_key: str | None = None) -> None:
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.method = method
        self.path = path
        self.hint = hint
        self.attempts = attempts
        self.retry_after = retry_after
        self.chunk_index = chunk_index
        self.idempotency_key = idempotency_key
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"MEGA {self.method} {self.path}"
        if self.chunk_index is not None:
            where += f" (chunk {self.chunk_index})"
        text = f"{where} answered {self.status} {self.type}: {self.message}"
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        if self.hint:
            text += f" -- {self.hint}"
        return text

    def __reduce__(self):  # keep pickling (multiprocessing) working with keyword-only init
        return (_rebuild, (type(self), dict(self.__dict__)))


def _rebuild(cls: type[MegaAPIError], state: dict) -> MegaAPIError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err._render())
    return err


class MegaInvalidRequestError(MegaAPIError):
    """400: the request is malformed; it will not succeed unchanged."""

    error_type = "invalid_request_error"


class MegaAuthenticationError(MegaAPIError):
    """401: token missing or invalid, or no ``x-customer-id``."""

    error_type = "authentication_error"


class MegaAuthorizationError(MegaAPIError):
    """403: the key lacks the endpoint's scope, or is locked to another customer."""

    error_type = "authorization_error"


class MegaNotFoundError(MegaAPIError):
    """404: the lead or webhook does not exist for this customer."""

    error_type = "not_found_error"


class MegaConflictError(MegaAPIError):
    """409: an ``Idempotency-Key`` reused with a different body, or a duplicate resource."""

    error_type = "api_error"


class MegaRateLimitError(MegaAPIError):
    """429 still answered after every retry."""

    error_type = "rate_limit_error"
    retriable = True


class MegaServerError(MegaAPIError):
    """5xx still answered after every retry (MEGA documents these as safe to retry)."""

    error_type = "api_error"
    retriable = True


class WebhookVerificationError(MegaError):
    """A webhook delivery failed verification; ``reason`` says which check failed."""

    #: What a receiver should answer (MEGA's samples: 400 stale timestamp, 401 bad signature).
    http_status: int = 401

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


class WebhookTimestampError(WebhookVerificationError):
    """``X-Mega-Timestamp`` missing, not an integer, or outside the replay window."""

    http_status = 400


class WebhookSignatureError(WebhookVerificationError):
    """``X-Mega-Signature`` missing, malformed, or not the HMAC of this timestamp and body."""
