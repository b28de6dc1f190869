"""A fake GoHighLevel API 2.0 (services.leadconnectorhq.com) for one or more locations.

Follows source-apis-more.md section 2: Bearer token (Private Integration Token) + required
``Version`` header, ``POST /contacts/search`` with ``locationId``, ``pageLimit`` (max 500),
``page`` paging capped at 10,000 records, ``searchAfter`` keyset cursors on every contact,
``dateUpdated`` range filters and sort, custom-field definitions, users, NestJS-style error
bodies, and the burst limit (100 / 10 s) with ``X-RateLimit-*`` headers and a bare 429.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from leadbridge.httpserver import Request, Response, Router

from ._base import FakeServer, SlidingWindow

VERSIONS = ("2021-07-28", "2021-04-15", "2023-02-21", "v3")


def ghl_time(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass
class FakeGHL(FakeServer):
    location_id: str = "Lc9Xv2Rt8YpQ1mN5sZ3d"
    tokens: set[str] = field(default_factory=lambda: {"pit-secret-token"})
    page_cap: int = 10_000
    burst_max: int = 100
    burst_ms: int = 10_000
    daily_max: int = 200_000
    fail_queue: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.custom_fields = [{"id": "Cf1Aa2Bb3Cc4Dd5Ee6Ff", "name": "Preferred service",
                               "fieldKey": "contact.preferred_service", "dataType": "TEXT",
                               "model": "contact"}]
        self.users = [{"id": "Us3rA1b2C3d4E5f6G7h8", "name": "Sam Rivera",
                       "email": "sam.rivera@example.com"}]
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str, Any]] = []
        self.rejected_429 = 0
        self.daily_used = 0
        self._window = SlidingWindow()
        self._n = 0

    # -- data ----------------------------------------------------------------------------
    def add(self, when: datetime, **fields: Any) -> str:
        self._n += 1
        cid = f"c{self._n:019d}"
        self.contacts[cid] = {"id": cid, "locationId": self.location_id,
                              "dateAdded": ghl_time(when), "dateUpdated": ghl_time(when),
                              "tags": [], "customFields": [], **fields}
        return cid

    def touch(self, cid: str, when: datetime, **fields: Any) -> None:
        self.contacts[cid].update(dateUpdated=ghl_time(when), **fields)

    # -- server --------------------------------------------------------------------------
    def routes(self, router: Router) -> None:
        router.add("POST", "/contacts/search", self._search)
        router.add("GET", "/locations/{location}/customFields", self._custom_fields)
        router.add("GET", "/users/", self._users)

    def error(self, status: int, message: str) -> Response:
        return Response(status, {"statusCode": status, "message": message})

    # -- gate ----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"X-RateLimit-Max": str(self.burst_max),
                "X-RateLimit-Remaining": str(max(self.burst_max - self._window.count(self.burst_ms / 1000), 0)),
                "X-RateLimit-Interval-Milliseconds": str(self.burst_ms),
                "X-RateLimit-Limit-Daily": str(self.daily_max),
                "X-RateLimit-Daily-Remaining": str(max(self.daily_max - self.daily_used, 0))}

    def _gate(self, req: Request) -> Response | None:
        with self.lock:
            body = req.json() if req.body else None
            self.calls.append((req.method, req.path, body))
            if self.fail_queue:
                status = self.fail_queue.pop(0)
                return Response(status, {"statusCode": status, "message": "Internal error"})
            auth = req.header("authorization") or ""
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                return Response(401, {"statusCode": 401, "message": "Invalid token: access "
                                      "token is invalid", "error": "Unauthorized"})
            if req.header("version") not in VERSIONS:
                return Response(400, {"statusCode": 400, "message": "Version header was not "
                                      "found", "error": "Bad Request"})
            if self.daily_used >= self.daily_max or not self._window.admit(self.burst_max, self.burst_ms / 1000):
                self.rejected_429 += 1
                return Response(429, {"statusCode": 429, "message": "Too Many Requests"},
                                self._headers())
            self.daily_used += 1
            return None

    # -- endpoints -----------------------------------------------------------------------
    def _search(self, req: Request) -> Response:
        if (bad := self._gate(req)) is not None:
            return bad
        body = req.json()
        if body.get("locationId") != self.location_id:
            return Response(403, {"statusCode": 403, "message": "The token does not have "
                                  "access to this location", "error": "Forbidden"})
        limit = body.get("pageLimit")
        if not isinstance(limit, int) or not 1 <= limit <= 500:
            return Response(422, {"statusCode": 422, "message": ["pageLimit must not be "
                                  "greater than 500"], "error": "Unprocessable Entity"})
        if "page" in body and "searchAfter" in body:
            return Response(400, {"statusCode": 400, "message": "page and searchAfter "
                                  "cannot be used together"})
        rows = list(self.contacts.values())
        for f in body.get("filters") or []:
            if f.get("field") == "dateUpdated" and f.get("operator") == "range":
                v = f["value"]
                if "gte" in v:
                    rows = [r for r in rows if _ms(r["dateUpdated"]) >= _ms(v["gte"])]
                if "lte" in v:
                    rows = [r for r in rows if _ms(r["dateUpdated"]) <= _ms(v["lte"])]
            else:
                return Response(422, {"statusCode": 422, "message": [f"unsupported filter "
                                      f"{f.get('field')}"]})
        rows.sort(key=lambda r: (_ms(r["dateUpdated"]), r["id"]))
        if body.get("searchAfter"):
            ms, cid = body["searchAfter"]
            rows = [r for r in rows if (_ms(r["dateUpdated"]), r["id"]) > (ms, cid)]
            start = 0
        else:
            start = (int(body.get("page", 1)) - 1) * limit
            if start + limit > self.page_cap:
                return Response(400, {"statusCode": 400, "message": "page limit reached: use "
                                      "searchAfter to read beyond 10000 records"})
        total = len(rows)
        chunk = rows[start:start + limit]
        out = [{**r, "searchAfter": [_ms(r["dateUpdated"]), r["id"]]} for r in chunk]
        return Response(200, {"contacts": out, "total": total, "traceId": "t"}, self._headers())

    def _custom_fields(self, req: Request) -> Response:
        if (bad := self._gate(req)) is not None:
            return bad
        if req.params["location"] != self.location_id:
            return Response(403, {"statusCode": 403, "message": "The token does not have "
                                  "access to this location", "error": "Forbidden"})
        return Response(200, {"customFields": self.custom_fields}, self._headers())

    def _users(self, req: Request) -> Response:
        if (bad := self._gate(req)) is not None:
            return bad
        if req.arg("locationId") != self.location_id:
            return Response(422, {"statusCode": 422, "message": ["locationId required"]})
        return Response(200, {"users": self.users}, self._headers())
