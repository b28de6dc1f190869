"""``lead.created`` deliveries (reference section 13): signed POSTs with retries.

Only a genuine insert through the single-create endpoint fires the event (never a merge, never
the bulk endpoint). Each delivery runs in its own thread so the create answers at once, like
MEGA's queue. Deliveries are recorded for tests in ``Deliverer.deliveries``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from .config import SandboxConfig
from .shapes import iso, stage_object
from .store import Lead, Store

MAX_BACKOFF = 30.0


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 of ``timestamp + "." + body`` keyed by the secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def payload(lead: Lead, config: SandboxConfig, now_ms: int) -> dict[str, Any]:
    """The LeadCreatedWebhookPayload shape (smaller than the pull shape; lead_line on top)."""
    stage = stage_object(lead.get("stage_slug"), config)
    custom = dict(lead.get("custom_fields") or {})
    return {
        "event": "lead.created",
        "delivered_at": iso(now_ms),
        "lead": {
            "id": lead["id"],
            "contact_name": lead.get("contact_name"),
            "contact_phone": lead.get("contact_phone"),
            "contact_email": lead.get("contact_email"),
            "source_platform": lead["source_platform"],
            "source_type": lead["source_type"],
            "lead_line": custom.get("lead_line"),
            "current_stage": {"slug": stage["slug"], "name": stage["name"]} if stage else None,
            "custom_fields": custom,
            "created_at": iso(lead["created_ms"]),
            "updated_at": iso(lead["updated_ms"]),
        },
    }


@dataclass
class Delivery:
    webhook_id: str
    delivery_id: str
    attempts: list[int | str] = field(default_factory=list)  # status codes or error names
    delivered: bool = False


class Deliverer:
    def __init__(self, store: Store, config: SandboxConfig) -> None:
        self.store, self.config = store, config
        self.deliveries: list[Delivery] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def lead_created(self, customer_id: str, lead: Lead) -> None:
        with self.store.lock:
            hooks = [dict(h) for h in self.store.webhooks(customer_id).values()
                     if h["is_active"] and "lead.created" in h["event_types"]]
        for hook in hooks:
            delivery = Delivery(hook["id"], str(uuid.uuid4()))
            with self._lock:
                self.deliveries.append(delivery)
            thread = threading.Thread(target=self._deliver, args=(hook, lead, delivery),
                                      name="sandbox-webhook", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _deliver(self, hook: dict[str, Any], lead: Lead, delivery: Delivery) -> None:
        for attempt in range(hook["retry_attempts"] + 1):
            if attempt:
                backoff = min(MAX_BACKOFF, 2.0 ** (attempt - 1)) * self.config.time_scale
                if self._stopping.wait(backoff):
                    return
            body = json.dumps(payload(lead, self.config, int(time.time() * 1000)),
                              separators=(",", ":")).encode()
            timestamp = str(int(time.time()))
            headers = {"Content-Type": "application/json",
                       "X-Mega-Signature": signature(hook["secret"], timestamp, body),
                       "X-Mega-Timestamp": timestamp, "X-Mega-Delivery": delivery.delivery_id}
            try:
                answer = httpx.post(hook["url"], content=body, headers=headers,
                                    timeout=hook["timeout_seconds"], follow_redirects=False)
            except httpx.HTTPError as exc:
                delivery.attempts.append(type(exc).__name__)
                continue
            delivery.attempts.append(answer.status_code)
            if 200 <= answer.status_code < 300:
                delivery.delivered = True
                return
            if 300 <= answer.status_code < 400:  # redirects are never followed nor retried
                return

    def wait(self, timeout: float = 10.0) -> None:
        """Block until every delivery started so far has finished (for tests)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self._stopping.set()
        self.wait(2.0)
