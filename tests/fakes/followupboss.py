"""A fake Follow Up Boss API v1 (people and users).

Follows source-apis.md section 3: HTTP Basic auth with the API key as user name, ``X-System``
/ ``X-System-Key`` headers (limits halved without a registered key), ``GET /v1/people``
newest first with ``limit`` (max 100), ``offset`` refused past the deep-pagination limit
("Deep pagination disabled, use 'nextLink' url"), ``_metadata.next``/``nextLink`` cursors,
``fields``, ``includeTrash``, ``updatedAfter``; a sliding 10-second window with
``X-RateLimit-*`` headers and 429 + ``Retry-After``; 403 for an expired account.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from leadbridge.httpserver import Request, Response, Router

from ._base import FakeServer, SlidingWindow


def fub_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class FakeFUB(FakeServer):
    api_keys: set[str] = field(default_factory=lambda: {"fub-secret-key"})
    system_keys: set[str] = field(default_factory=lambda: {"sys-secret-key"})
    deep_limit: int = 2000
    limit: int = 250              # per window with a valid X-System-Key (halved without)
    window: float = 10.0
    retry_after: str = "1"
    expired: bool = False
    fail_queue: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.people: dict[int, dict[str, Any]] = {}
        self.users = [{"id": 7, "name": "Dana Agent", "email": "dana@example.com"},
                      {"id": 9, "name": "Chris Broker", "email": "chris@example.com"}]
        self.lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.rejected_429 = 0
        self._hits = SlidingWindow()
        self._next_id = 1000

    def add(self, when: datetime, **fields: Any) -> int:
        self._next_id += 1
        pid = self._next_id
        self.people[pid] = {"id": pid, "created": fub_time(when), "updated": fub_time(when),
                            "stage": "Lead", "tags": [], "emails": [], "phones": [], **fields}
        return pid

    def touch(self, pid: int, when: datetime, **fields: Any) -> None:
        self.people[pid].update(updated=fub_time(when), **fields)

    # -- server --------------------------------------------------------------------------
    def routes(self, router: Router) -> None:
        router.add("GET", "/v1/people", self._people)
        router.add("GET", "/v1/users", self._users)

    def error(self, status: int, message: str) -> Response:
        return Response(status, {"errorMessage": message})

    # -- gate ----------------------------------------------------------------------------
    def _gate(self, req: Request) -> tuple[Response | None, dict[str, str]]:
        with self.lock:
            self.calls.append((req.path, req.query, dict(req.headers)))
            if self.fail_queue:
                return Response(self.fail_queue.pop(0), {"errorMessage": "Server error"}), {}
            auth = req.header("authorization") or ""
            key = ""
            if auth.startswith("Basic "):
                key = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
            if key not in self.api_keys:
                return Response(401, {"errorMessage": "Invalid API key"}), {}
            if self.expired:
                return Response(403, {"errorMessage": "Account is expired"}), {}
            registered = (req.header("x-system") and
                          req.header("x-system-key") in self.system_keys)
            limit = self.limit if registered else max(self.limit // 2, 1)
            headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Window": str(int(
                self.window) or 1), "X-RateLimit-Context": "global"}
            if not self._hits.admit(limit, self.window):
                self.rejected_429 += 1
                return Response(429, {"errorMessage": "Rate limit exceeded"},
                                {**headers, "X-RateLimit-Remaining": "0",
                                 "Retry-After": self.retry_after}), {}
            headers["X-RateLimit-Remaining"] = str(limit - self._hits.count(self.window))
            return None, headers

    # -- endpoints -----------------------------------------------------------------------
    def _people(self, req: Request) -> Response:
        bad, headers = self._gate(req)
        if bad is not None:
            return bad
        limit = min(int(req.arg("limit", "10")), 100)
        offset = int(req.arg("offset", "0"))
        if offset >= self.deep_limit:
            return Response(400, {"errorMessage": "Deep pagination disabled, use 'nextLink' "
                                  "url"}, headers)
        rows = sorted(self.people.values(), key=lambda p: -p["id"])
        if req.arg("includeTrash") != "true":
            rows = [p for p in rows if p.get("stage") != "Trash"]
        if req.arg("updatedAfter"):
            since = _dt(req.arg("updatedAfter") or "")
            rows = [p for p in rows if _dt(p["updated"]) >= since]
        total = len(rows)
        if req.arg("next"):
            before = int(req.arg("next") or "0")
            rows = [p for p in rows if p["id"] < before]
        else:
            rows = rows[offset:]
        chunk = rows[:limit]
        fields = [f for f in (req.arg("fields") or "").split(",") if f]
        if fields and fields != ["allFields"]:
            chunk = [{k: v for k, v in p.items() if k in fields or k == "id"} for p in chunk]
        nxt = str(chunk[-1]["id"]) if len(rows) > limit else None
        link = None
        if nxt:
            q = {k: v[0] for k, v in req.query.items() if k not in ("next", "offset")}
            link = f"{self.base_url}/v1/people?{urlencode({**q, 'next': nxt})}"
        return Response(200, {"_metadata": {"collection": "people", "offset": offset,
                                            "limit": limit, "total": total, "next": nxt,
                                            "nextLink": link},
                              "people": chunk}, headers)

    def _users(self, req: Request) -> Response:
        bad, headers = self._gate(req)
        if bad is not None:
            return bad
        return Response(200, {"_metadata": {"collection": "users", "offset": 0, "limit": 100,
                                            "total": len(self.users), "next": None,
                                            "nextLink": None}, "users": self.users}, headers)
