"""lead.created deliveries: signed, retried, only for genuine single-create inserts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading

import jsonschema
from sandbox_support import SPEC_URI, Api, grant

from leadbridge.httpserver import JSONServer, Request, Response, Router


class Receiver:
    """A local webhook endpoint that fails its first answers, then accepts."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[Request] = []
        self.failures = failures
        self.lock = threading.Lock()
        router = Router()
        router.add("POST", "/hook", self.handle)
        self.server = JSONServer(router, poll_interval=0.05)

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.calls.append(request)
            failing = len(self.calls) <= self.failures
        return Response(503 if failing else 200, {"ok": not failing})


def _independent_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                                hashlib.sha256).hexdigest()


def test_created_lead_is_delivered_signed_and_retried(make_sandbox, api_for, openapi) -> None:
    g = grant()
    sandbox = make_sandbox(tokens=(g,), allow_private_webhooks=True, time_scale=0.01)
    api: Api = api_for(sandbox, g)
    receiver = Receiver(failures=2)
    with receiver.server:
        made = api.call("POST", "/api/agents/crm/lead-webhooks",
                        json={"url": receiver.server.base_url + "/hook"}).json()
        secret = made["secret"]
        lead = api.create({"contact_email": "w@example.com", "stage_slug": "new",
                           "custom_fields": {"budget": 3}}).json()["lead"]
        api.create({"contact_email": "W@example.com", "contact_name": "merge"})  # no event
        api.bulk([{"contact_email": "bulk@example.com"}])  # bulk never fires
        sandbox.deliverer.wait()
    [delivery] = sandbox.deliverer.deliveries
    assert delivery.attempts == [503, 503, 200] and delivery.delivered
    assert len(receiver.calls) == 3
    deliveries = {c.headers["x-mega-delivery"] for c in receiver.calls}
    assert deliveries == {delivery.delivery_id}  # retries keep the delivery id
    for call in receiver.calls:
        timestamp = call.headers["x-mega-timestamp"]
        assert call.headers["x-mega-signature"] == _independent_signature(secret, timestamp,
                                                                          call.body)
    body = json.loads(receiver.calls[-1].body)
    schema = {"$ref": f"{SPEC_URI}#/components/schemas/LeadCreatedWebhookPayload"}
    jsonschema.Draft202012Validator(schema, registry=openapi.registry).validate(body)
    assert body["lead"]["id"] == lead["id"]
    assert body["lead"]["current_stage"] == {"slug": "new", "name": "New"}
    assert body["lead"]["custom_fields"] == {"budget": 3} and body["lead"]["lead_line"] is None


def test_inactive_or_unsubscribed_hooks_get_nothing(make_sandbox, api_for) -> None:
    g = grant()
    sandbox = make_sandbox(tokens=(g,), allow_private_webhooks=True)
    api = api_for(sandbox, g)
    receiver = Receiver()
    with receiver.server:
        api.call("POST", "/api/agents/crm/lead-webhooks",
                 json={"url": receiver.server.base_url + "/hook", "is_active": False})
        api.create({"contact_name": "quiet"})
        sandbox.deliverer.wait()
    assert receiver.calls == [] and sandbox.deliverer.deliveries == []


def test_loopback_urls_refused_without_the_test_switch(api) -> None:
    answer = api.call("POST", "/api/agents/crm/lead-webhooks",
                      json={"url": "http://127.0.0.1:9/hook"})
    assert answer.status_code == 400
