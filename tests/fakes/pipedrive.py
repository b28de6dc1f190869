"""A fake Pipedrive API (v2 persons, v1 users and personFields).

Follows source-apis.md section 4: ``x-api-token`` header, ``GET /api/v2/persons`` with
``limit`` (max 500), opaque keyset ``cursor`` / ``additional_data.next_cursor``, ``sort_by``
(``id``, ``update_time``, ``add_time``), ``updated_since`` (inclusive) / ``updated_until``
(exclusive), ``custom_fields`` keyed by 40-char hashes; the rolling 2-second burst limit with
``x-ratelimit-*`` headers and a 429 ``{"success": false, ...}`` without ``Retry-After``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from leadbridge.httpserver import Request, Response, Router

from ._base import FakeServer, SlidingWindow

BUYER_SELLER = hashlib.sha1(b"buyer_or_seller").hexdigest()


def pd_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class FakePipedrive(FakeServer):
    tokens: set[str] = field(default_factory=lambda: {"pd-secret-token"})
    burst: int = 80
    window: float = 2.0
    fail_queue: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.persons: dict[int, dict[str, Any]] = {}
        self.users = [{"id": 12, "name": "Ann Owner", "email": "ann@example.com"}]
        self.fields = [{"id": 9041, "key": BUYER_SELLER, "name": "Buyer or seller",
                        "field_type": "enum",
                        "options": [{"id": 17, "label": "Buyer"}, {"id": 18, "label": "Seller"}]},
                       {"id": 1, "key": "name", "name": "Name", "field_type": "varchar"}]
        self.lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.rejected_429 = 0
        self._hits = SlidingWindow()
        self._next_id = 300

    def add(self, when: datetime, **fields: Any) -> int:
        self._next_id += 1
        pid = self._next_id
        self.persons[pid] = {"id": pid, "add_time": pd_time(when), "update_time": pd_time(when),
                             "emails": [], "phones": [], "is_deleted": False, "owner_id": None,
                             "custom_fields": {}, **fields}
        return pid

    def touch(self, pid: int, when: datetime, **fields: Any) -> None:
        self.persons[pid].update(update_time=pd_time(when), **fields)

    # -- server --------------------------------------------------------------------------
    def routes(self, router: Router) -> None:
        router.add("GET", "/api/v2/persons", self._persons)
        router.add("GET", "/v1/users", self._users)
        router.add("GET", "/v1/personFields", self._fields)

    def error(self, status: int, message: str) -> Response:
        return Response(status, {"success": False, "error": message, "errorCode": status})

    def _gate(self, req: Request) -> tuple[Response | None, dict[str, str]]:
        with self.lock:
            self.calls.append((req.path, req.query, dict(req.headers)))
            if self.fail_queue:
                status = self.fail_queue.pop(0)
                return Response(status, {"success": False, "error": "Gateway error"}), {}
            if req.header("x-api-token") not in self.tokens:
                return Response(401, {"success": False, "error": "unauthorized access",
                                      "errorCode": 401, "error_info": "Please check "
                                      "developers.pipedrive.com"}), {}
            reset = self._hits.reset_in(self.window)
            headers = {"x-ratelimit-limit": str(self.burst),
                       "x-ratelimit-reset": f"{reset + 0.01:.2f}"}  # rounded up, like Pipedrive
            if not self._hits.admit(self.burst, self.window):
                self.rejected_429 += 1
                return Response(429, {"success": False, "error": "Request over limit",
                                      "errorCode": 429},
                                {**headers, "x-ratelimit-remaining": "0"}), {}
            headers["x-ratelimit-remaining"] = str(self.burst - self._hits.count(self.window))
            return None, headers

    def _persons(self, req: Request) -> Response:
        bad, headers = self._gate(req)
        if bad is not None:
            return bad
        limit = int(req.arg("limit", "100"))
        if not 1 <= limit <= 500:
            return Response(400, {"success": False, "error": "limit must be <= 500"}, headers)
        sort_by = req.arg("sort_by", "id")
        reverse = req.arg("sort_direction", "asc") == "desc"
        rows = [p for p in self.persons.values()]
        if req.arg("updated_since"):
            since = _dt(req.arg("updated_since") or "")
            rows = [p for p in rows if _dt(p["update_time"]) >= since]
        if req.arg("updated_until"):
            until = _dt(req.arg("updated_until") or "")
            rows = [p for p in rows if _dt(p["update_time"]) < until]

        def key(p: dict[str, Any]) -> tuple:
            return (p[sort_by] if sort_by != "id" else 0, p["id"])

        rows.sort(key=key, reverse=reverse)
        if req.arg("cursor"):
            after = tuple(json.loads(base64.b64decode(req.arg("cursor") or "")))
            rows = [p for p in rows if (key(p) < after if reverse else key(p) > after)]
        chunk = rows[:limit]
        nxt = None
        if len(rows) > limit:
            nxt = base64.b64encode(json.dumps(list(key(chunk[-1]))).encode()).decode()
        return Response(200, {"success": True, "data": chunk,
                              "additional_data": {"next_cursor": nxt}}, headers)

    def _users(self, req: Request) -> Response:
        bad, headers = self._gate(req)
        if bad is not None:
            return bad
        return Response(200, {"success": True, "data": self.users}, headers)

    def _fields(self, req: Request) -> Response:
        bad, headers = self._gate(req)
        if bad is not None:
            return bad
        return Response(200, {"success": True, "data": self.fields, "additional_data": {
            "pagination": {"start": 0, "limit": 500, "more_items_in_collection": False}}},
            headers)
