"""A fake Shopify GraphQL Admin API serving the ``customers`` connection.

Follows source-apis-more.md section 3: ``POST /admin/api/{version}/graphql.json`` with
``X-Shopify-Access-Token``; the client-credentials grant on ``/admin/oauth/access_token``
with expiring tokens; ``customers(first, after, sortKey: UPDATED_AT, query)`` with
``pageInfo { hasNextPage endCursor }``; ``updated_at:>='...'`` search filters; the leaky cost
bucket (``extensions.cost.throttleStatus``), ``THROTTLED`` answered with HTTP 200 and
``MAX_COST_EXCEEDED`` above the per-query cap. The query text is not parsed: arguments travel
as GraphQL variables (``first``, ``after``, ``query``), which is what the connector sends.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from leadbridge.httpserver import Request, Response, Router

from ._base import FakeServer

UPDATED = re.compile(r"updated_at:>=\s*'([^']+)'")


def shop_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class FakeShopify(FakeServer):
    tokens: set[str] = field(default_factory=lambda: {"shpat_secret_token"})
    client_id: str = "shop-client-id"
    client_secret: str = "shop-client-secret"
    token_uses: int = 10**9
    maximum: float = 2000.0
    restore_rate: float = 100.0
    node_cost: int = 3          # requested cost per node asked for (first * node_cost + 2)
    max_query_cost: int = 1000
    fail_queue: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.customers: dict[int, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []
        self.throttled = 0
        self.issued = 0
        self._uses: dict[str, int] = {t: 10**9 for t in self.tokens}
        self._available = self.maximum
        self._at = time.monotonic()
        self._next_id = 7712345678000

    def add(self, when: datetime, **fields: Any) -> int:
        self._next_id += 1
        cid = self._next_id
        self.customers[cid] = {"id": f"gid://shopify/Customer/{cid}", "createdAt": shop_time(when),
                               "updatedAt": shop_time(when), "tags": [], "state": "ENABLED",
                               "metafields": {"nodes": []}, **fields}
        return cid

    def touch(self, cid: int, when: datetime, **fields: Any) -> None:
        self.customers[cid].update(updatedAt=shop_time(when), **fields)

    def drain(self) -> None:
        """Someone else just spent the whole bucket."""
        with self.lock:
            self._available, self._at = 0.0, time.monotonic()

    # -- server --------------------------------------------------------------------------
    def routes(self, router: Router) -> None:
        router.add("POST", "/admin/api/{version}/graphql.json", self._graphql)
        router.add("POST", "/admin/oauth/access_token", self._token)

    def error(self, status: int, message: str) -> Response:
        return Response(status, {"errors": message})

    # -- endpoints -----------------------------------------------------------------------
    def _token(self, req: Request) -> Response:
        try:
            params = req.json()
        except ValueError:
            params = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        with self.lock:
            if (params.get("grant_type") != "client_credentials"
                    or params.get("client_id") != self.client_id
                    or params.get("client_secret") != self.client_secret):
                return Response(400, {"error": "invalid_client",
                                      "error_description": "Client credentials are invalid"})
            self.issued += 1
            token = f"shpat_issued_{self.issued}"
            self._uses[token] = self.token_uses
            return Response(200, {"access_token": token, "scope": "read_customers",
                                  "expires_in": 86399})

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {"requestedQueryCost": requested, "actualQueryCost": actual,
                "throttleStatus": {"maximumAvailable": self.maximum,
                                   "currentlyAvailable": int(self._available),
                                   "restoreRate": self.restore_rate}}

    def _graphql(self, req: Request) -> Response:
        with self.lock:
            body = req.json()
            self.calls.append(body)
            if self.fail_queue:
                return Response(self.fail_queue.pop(0), {"errors": "Internal error"})
            token = req.header("x-shopify-access-token") or ""
            if self._uses.get(token, 0) <= 0:
                return Response(401, {"errors": "[API] Invalid API key or access token "
                                      "(unrecognized login or wrong password)"})
            self._uses[token] -= 1
            if req.params["version"] != "2026-10" and not re.match(r"\d{4}-\d{2}$",
                                                                   req.params["version"]):
                return Response(404, {"errors": "Not Found"})
            v = body.get("variables") or {}
            first = int(v.get("first") or 0)
            if first > 250:
                return Response(200, {"errors": [{"message": "first cannot exceed 250",
                                                  "extensions": {"code": "BAD_REQUEST"}}]})
            requested = 2 + first * self.node_cost
            now = time.monotonic()
            self._available = min(self.maximum,
                                  self._available + (now - self._at) * self.restore_rate)
            self._at = now
            if requested > self.max_query_cost:
                return Response(200, {"errors": [{"message": f"Query cost is {requested}, "
                                      f"which exceeds the single query max cost limit "
                                      f"({self.max_query_cost}).",
                                      "extensions": {"code": "MAX_COST_EXCEEDED",
                                                     "cost": requested,
                                                     "maxCost": self.max_query_cost}}],
                                      "extensions": {"cost": self._cost(requested, None)}})
            if requested > self._available:
                self.throttled += 1
                return Response(200, {"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": self._cost(requested, None)}})
            rows = sorted(self.customers.values(), key=lambda c: (_dt(c["updatedAt"]), c["id"]))
            m = UPDATED.search(v.get("query") or "")
            if m:
                since = _dt(m.group(1))
                rows = [c for c in rows if _dt(c["updatedAt"]) >= since]
            if v.get("after"):
                after = tuple(json.loads(base64.b64decode(v["after"])))
                rows = [c for c in rows if (c["updatedAt"], c["id"]) > after]
            chunk = rows[:first]
            actual = 2 + len(chunk) * self.node_cost
            self._available -= actual
            end = (base64.b64encode(json.dumps([chunk[-1]["updatedAt"], chunk[-1]["id"]])
                                    .encode()).decode() if chunk else None)
            data = {"customers": {"pageInfo": {"hasNextPage": len(rows) > first,
                                               "endCursor": end},
                                  "nodes": chunk}}
            return Response(200, {"data": data,
                                  "extensions": {"cost": self._cost(requested, actual)}})
