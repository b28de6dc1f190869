"""Webhook management routes (reference section 13.1): list, create, update/rotate, delete.

Registration follows MEGA's SSRF rule without touching the network: the URL must be https
and its host must not be loopback, private, link-local or an internal name. Secrets are
returned only on creation and rotation; deletion is soft (the webhook disappears from lists).
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any
from urllib.parse import urlsplit

from ..httpserver import Request, Response
from .envelope import ApiError
from .ingest import now_ms
from .routes_leads import parse_json
from .shapes import iso
from .store import Store

EVENT_TYPES = ("lead.created",)
_INTERNAL_SUFFIXES = (".local", ".internal", ".localhost", ".lan", ".home", ".corp")


def new_secret() -> str:
    return "mega_whsec_" + secrets.token_hex(24)


def check_url(url: Any, allow_private: bool = False) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ApiError(400, "url is required and must be a public https URL")
    parts = urlsplit(url.strip())
    if allow_private and parts.scheme in ("http", "https") and parts.hostname:
        return url.strip()
    if parts.scheme != "https" or not parts.hostname:
        raise ApiError(400, f"url must be a public https URL, got {url!r}")
    host = parts.hostname.lower().rstrip(".")
    single_label = "." not in host and ":" not in host
    if host == "localhost" or host.endswith(_INTERNAL_SUFFIXES) or single_label:
        raise ApiError(400, f"url host {host!r} is internal; register a public https URL")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and not address.is_global:
        raise ApiError(400, f"url host {host} is not a public address; register a public "
                            "https URL")
    return url.strip()


def _check_fields(body: dict[str, Any], hook: dict[str, Any], allow_private: bool) -> None:
    if "url" in body:
        hook["url"] = check_url(body["url"], allow_private)
    if "event_types" in body:
        events = body["event_types"]
        if (not isinstance(events, list) or not events
                or not all(e in EVENT_TYPES for e in events)):
            raise ApiError(400, f"event_types must be a non-empty list of {', '.join(EVENT_TYPES)}")
        hook["event_types"] = list(dict.fromkeys(events))
    for name, low, high in (("timeout_seconds", 1, 60), ("retry_attempts", 0, 10)):
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ApiError(400, f"{name} must be an integer {low}..{high}")
            hook[name] = value
    if "description" in body:
        if body["description"] is not None and not isinstance(body["description"], str):
            raise ApiError(400, "description must be a string or null")
        hook["description"] = body["description"]
    if "is_active" in body:
        if not isinstance(body["is_active"], bool):
            raise ApiError(400, "is_active must be a boolean")
        hook["is_active"] = body["is_active"]


def render(hook: dict[str, Any]) -> dict[str, Any]:
    return {k: hook[k] for k in ("id", "url", "event_types", "is_active", "timeout_seconds",
                                 "retry_attempts", "description")} | {
        "created_at": iso(hook["created_ms"]), "updated_at": iso(hook["updated_ms"])}


class WebhookRoutes:
    def __init__(self, store: Store, allow_private: bool = False) -> None:
        self.store, self.allow_private = store, allow_private

    def list(self, request: Request, customer_id: str) -> Response:
        with self.store.lock:
            hooks = sorted(self.store.webhooks(customer_id).values(),
                           key=lambda h: (h["created_ms"], h["id"]))
            return Response(200, {"webhooks": [render(h) for h in hooks]})

    def create(self, request: Request, customer_id: str) -> Response:
        body = parse_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object (WebhookCreateRequest)")
        if "url" not in body:
            raise ApiError(400, "url is required")
        now = now_ms()
        hook: dict[str, Any] = {
            "id": "wh_" + secrets.token_hex(12), "event_types": ["lead.created"],
            "is_active": True, "timeout_seconds": 10, "retry_attempts": 5,
            "description": None, "created_ms": now, "updated_ms": now}
        _check_fields(body, hook, self.allow_private)
        hook["secret"] = new_secret()
        with self.store.lock:
            if any(h["url"] == hook["url"] for h in self.store.webhooks(customer_id).values()):
                raise ApiError(409, f"A webhook for {hook['url']} is already registered; "
                                    "update it instead")
            self.store.save_webhook(customer_id, hook)
        return Response(201, {"webhook": render(hook), "secret": hook["secret"]})

    def _find(self, request: Request, customer_id: str) -> dict[str, Any]:
        hook = self.store.webhooks(customer_id).get(request.params["id"])
        if hook is None:
            raise ApiError(404, f"Webhook {request.params['id']} not found")
        return hook

    def update(self, request: Request, customer_id: str) -> Response:
        body = parse_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object (WebhookUpdateRequest)")
        rotate = body.get("rotate_secret", False)
        if not isinstance(rotate, bool):
            raise ApiError(400, "rotate_secret must be a boolean")
        with self.store.lock:
            hook = dict(self._find(request, customer_id))
            _check_fields(body, hook, self.allow_private)
            if "url" in body and any(h["url"] == hook["url"] and h["id"] != hook["id"]
                                     for h in self.store.webhooks(customer_id).values()):
                raise ApiError(409, f"A webhook for {hook['url']} is already registered")
            if rotate:
                hook["secret"] = new_secret()
            hook["updated_ms"] = now_ms()
            self.store.save_webhook(customer_id, hook)
        answer: dict[str, Any] = {"webhook": render(hook)}
        if rotate:
            answer["secret"] = hook["secret"]
        return Response(200, answer)

    def delete(self, request: Request, customer_id: str) -> Response:
        with self.store.lock:
            hook = self._find(request, customer_id)
            self.store.save_webhook(customer_id, hook, deleted=True)
        return Response(200, {"deleted": True})
