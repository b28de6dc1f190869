"""Helpers for the sandbox tests: an OpenAPI answer checker and an httpx caller."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from leadbridge.sandbox import Sandbox, TokenGrant
from leadbridge.sandbox.config import ALL_SCOPES

#: MEGA's published OpenAPI document (1.0.0), copied verbatim from the shared reference.
SPEC_PATH = Path(__file__).with_name("mega-openapi-1.0.0.json")
SPEC_URI = "urn:mega-openapi"

#: API 1.1.0's stage move is not in the stored 1.0.0 document: its schema from the reference.
STAGE_MOVE_RESPONSE = {
    "type": "object",
    "properties": {"success": {"type": "boolean"}, "already_in_stage": {"type": "boolean"}},
    "required": ["success"],
    "additionalProperties": False,
}


def _nullable_to_31(node: Any) -> Any:
    """Read OpenAPI 3.0's ``nullable: true`` (used once, on Stage) the way 3.1 spells it.

    The reference (section 14.9, item 55) notes the document means "object or null" there.
    """
    if isinstance(node, dict):
        out = {k: _nullable_to_31(v) for k, v in node.items()}
        if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_nullable_to_31(v) for v in node]
    return node


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class OpenAPI:
    """Validates a sandbox answer against the operation's declared response schema."""

    def __init__(self, path: Path) -> None:
        self.raw = json.loads(path.read_text())
        self.doc = _nullable_to_31(copy.deepcopy(self.raw))
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(SPEC_URI, resource)
        self._validators: dict[tuple[str, str, int], Any] = {}

    def schema(self, method: str, template: str, status: int) -> dict[str, Any]:
        if template.endswith("/stage"):
            if status == 200:
                return STAGE_MOVE_RESPONSE
            return {"$ref": f"{SPEC_URI}#/components/schemas/Error"}
        operation = self.doc["paths"][template][method.lower()]
        response = operation["responses"].get(str(status))
        if response is None:
            # undeclared statuses (5xx from fault switches, 404/413) still use the envelope
            assert status >= 400, f"{method} {template} answered undeclared {status}"
            return {"$ref": f"{SPEC_URI}#/components/schemas/Error"}
        if "$ref" in response:
            pointer = response["$ref"].lstrip("#")
        else:
            pointer = "/" + "/".join(_escape(p) for p in ("paths", template, method.lower(),
                                                          "responses", str(status)))
        # a pointer into the document, so the schema's own "#/..." refs resolve against it
        return {"$ref": f"{SPEC_URI}#{pointer}/content/application~1json/schema"}

    def validate(self, response: httpx.Response, method: str, template: str) -> Any:
        body = response.json()
        cache_key = (method, template, response.status_code)
        validator = self._validators.get(cache_key)
        if validator is None:
            schema = self.schema(method, template, response.status_code)
            validator = self._validators[cache_key] = jsonschema.Draft202012Validator(
                schema, registry=self.registry, format_checker=jsonschema.FormatChecker())
        validator.validate(body)
        if response.status_code >= 400:
            assert body["error"]["code"] == response.status_code
        return body


def grant(scopes: tuple[str, ...] = ALL_SCOPES, customer: str | None = None) -> TokenGrant:
    return TokenGrant("mega_" + uuid.uuid4().hex * 2, customer or str(uuid.uuid4()), scopes)


#: Customers for the model property: each Hypothesis example takes a fresh one.
MODEL_GRANTS = [grant() for _ in range(150)]


def headers(g: TokenGrant, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {g.token}", "x-customer-id": g.customer_id, **extra}


class Api:
    """httpx against one sandbox as one grant; every answer is checked against OpenAPI."""

    def __init__(self, sandbox: Sandbox, g: TokenGrant, openapi: OpenAPI) -> None:
        self.sandbox, self.grant, self.openapi = sandbox, g, openapi
        self.http = httpx.Client(base_url=sandbox.base_url, headers=headers(g), timeout=10)

    def call(self, method: str, template: str, *, path: str | None = None,
             check: bool = True, **kwargs: Any) -> httpx.Response:
        response = self.http.request(method, path or template, **kwargs)
        if check:
            self.openapi.validate(response, method, template)
        return response

    def bulk(self, rows: list[dict[str, Any]], **body: Any) -> httpx.Response:
        key = body.pop("idempotency_key", None)
        extra = {"Idempotency-Key": key} if key else {}
        return self.call("POST", "/api/agents/crm/leads/bulk", json={"leads": rows, **body},
                         headers=extra)

    def create(self, lead: dict[str, Any], key: str | None = None) -> httpx.Response:
        extra = {"Idempotency-Key": key} if key else {}
        return self.call("POST", "/api/agents/crm/leads", json=lead, headers=extra)

    def list(self, **params: Any) -> httpx.Response:
        return self.call("GET", "/api/agents/crm/leads", params=params)

    def all_pages(self, **params: Any) -> list[dict[str, Any]]:
        leads: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.list(**params, **({"cursor": cursor} if cursor else {}))
            assert page.status_code == 200, page.text
            body = page.json()
            leads.extend(body["leads"])
            cursor = body["next_cursor"]
            if cursor is None:
                return leads

    def close(self) -> None:
        self.http.close()


