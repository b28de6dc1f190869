"""A fake Lead Docket firm API (``https://{firm}.leaddocket.com/api/...``).

Follows source-apis-more.md section 5: ``api_key`` request header (ASP.NET-style
``{"Message": ...}`` 401), ``GET /api/leads/lastupdatedsince?date=&page=&itemsPerPage=
&sortOrder=`` answering ``{Page, ItemsPerPage, TotalRecordCount, TotalPages, Records}`` with
``LeadApiFlat`` rows, firm-local timestamps without an offset, ``itemsPerPage`` max 500, and a
request-rate limit answered with 429.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadbridge.httpserver import Request, Response, Router

from ._base import FakeServer, SlidingWindow


def ld_time(dt: datetime) -> str:
    """Firm-local, no offset, like the .NET API."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class FakeLeadDocket(FakeServer):
    api_keys: set[str] = field(default_factory=lambda: {"ld-secret-key"})
    per_window: int = 10**9
    window: float = 1.0
    fail_queue: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.leads: dict[int, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.calls: list[dict[str, str]] = []
        self.rejected_429 = 0
        self.on_request: Any = None   # hook: called with the page number before answering
        self._hits = SlidingWindow()
        self._next_id = 48210

    def add(self, when: datetime, **fields: Any) -> int:
        self._next_id += 1
        lid = self._next_id
        self.leads[lid] = {"Id": lid, "ContactId": lid + 42000, "StatusId": 1,
                           "StatusName": "New", "LastStatusChangeDate": ld_time(when),
                           "LastUpdateDate": ld_time(when), **fields}
        return lid

    def touch(self, lid: int, when: datetime, **fields: Any) -> None:
        self.leads[lid].update(LastUpdateDate=ld_time(when), **fields)

    def routes(self, router: Router) -> None:
        router.add("GET", "/api/leads/lastupdatedsince", self._since)

    def error(self, status: int, message: str) -> Response:
        return Response(status, {"Message": message})

    def _since(self, req: Request) -> Response:
        with self.lock:
            self.calls.append({k: v[0] for k, v in req.query.items()})
            if self.fail_queue:
                return Response(self.fail_queue.pop(0), {"Message": "An error has occurred."})
            if req.header("api_key") not in self.api_keys:
                return Response(401, {"Message": "Authorization has been denied for this "
                                      "request."})
            if not self._hits.admit(self.per_window, self.window):
                self.rejected_429 += 1
                return Response(429, {"Message": "Too many requests"},
                                {"Retry-After": str(self.window)})
            try:
                since = _dt(req.arg("date") or "")
            except ValueError:
                return Response(400, {"Message": "The request is invalid.",
                                      "ModelState": {"date": ["date is required"]}})
            per = int(req.arg("itemsPerPage", "500"))
            if not 1 <= per <= 500:
                return Response(400, {"Message": "itemsPerPage must be between 1 and 500"})
            page = int(req.arg("page", "1"))
        if self.on_request:
            self.on_request(page)
        with self.lock:
            rows = [r for r in self.leads.values() if _dt(r["LastUpdateDate"]) >= since]
            rows.sort(key=lambda r: (_dt(r["LastUpdateDate"]), r["Id"]),
                      reverse=req.arg("sortOrder") == "Descending")
            total = len(rows)
            chunk = rows[(page - 1) * per:page * per]
        return Response(200, {"Page": page, "ItemsPerPage": per, "TotalRecordCount": total,
                              "TotalPages": (total + per - 1) // per, "Records": chunk})
