"""The MEGA CRM Lead API client: ``MegaClient``, its errors, pacing and webhook verification."""

from __future__ import annotations

from .client import ClientStats, MegaClient
from .config import DEFAULT_BASE_URL, MegaSettings, resolve_settings
from .errors import (
    MegaAPIError,
    MegaAuthenticationError,
    MegaAuthorizationError,
    MegaConflictError,
    MegaError,
    MegaInvalidRequestError,
    MegaNotFoundError,
    MegaRateLimitError,
    MegaServerError,
    MegaTransportError,
    WebhookSignatureError,
    WebhookTimestampError,
    WebhookVerificationError,
)
from .pacing import Pacer
from .webhooks import sign_webhook, verify_webhook

__all__ = sorted([
    "ClientStats",
    "DEFAULT_BASE_URL",
    "MegaAPIError",
    "MegaAuthenticationError",
    "MegaAuthorizationError",
    "MegaClient",
    "MegaConflictError",
    "MegaError",
    "MegaInvalidRequestError",
    "MegaNotFoundError",
    "MegaRateLimitError",
    "MegaServerError",
    "MegaSettings",
    "MegaTransportError",
    "Pacer",
    "WebhookSignatureError",
    "WebhookTimestampError",
    "WebhookVerificationError",
    "resolve_settings",
    "sign_webhook",
    "verify_webhook",
])
