"""A fake HubSpot CRM v3: contacts list + search (with the 10,000-result cap), owners,
properties, OAuth refresh (``expires_in``, rotated refresh tokens), rate limits (10-second
window, search per second, a spent daily allowance) and injected failures; over-long list URLs
are refused with 414. Ties in ``lastmodifieddate`` are ordered arbitrarily (by a hash), as
HubSpot does."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from leadbridge.httpserver import Request, Response, Router

from ._base import FakeServer, SlidingWindow


@dataclass
class FakeHubSpot(FakeServer):
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> properties
    archived: set[str] = field(default_factory=set)
    archived_at: dict[str, int] = field(default_factory=dict)  # id -> archivedAt ms
    owners: dict[str, str] = field(default_factory=dict)  # owner id -> email
    archived_owners: dict[str, str] = field(default_factory=dict)  # deactivated users
    custom_props: tuple[str, ...] = ("favorite_color",)
    tokens: set[str] = field(default_factory=lambda: {"pat-secret-token"})
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh -> client_secret
    search_cap: int = 10_000
    window_max: int = 1000          # requests per 10 s window
    window_seconds: float = 10.0
    search_per_second: int = 5
    retry_after: bool = True
    fail_queue: list[int] = field(default_factory=list)  # statuses to answer next, in order
    max_url: int = 16_000           # longer request URLs answer 414
    expires_in: int = 1800          # OAuth access token lifetime announced
    rotate_refresh: bool = False    # answer each refresh with a new refresh token
    daily_spent: bool = False       # every call answers 429 policy DAILY
    daily_remaining: int | None = None  # send the daily headers, counting down

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []
        self.rejected_429 = 0
        self._window = SlidingWindow()    # every request, per window_seconds
        self._searches = SlidingWindow()  # search requests, per second
        self._issued = 0
        self.unauthorized = 0  # 401s answered
        self.refreshes = 0
        self.list_urls: list[int] = []  # URL length of every list request

    # -- data helpers --------------------------------------------------------------------
    def add(self, cid: str, ts_ms: int, **props: Any) -> None:
        self.contacts[cid] = {"lastmodifieddate": _iso(ts_ms), "createdate": _iso(ts_ms),
                              "hs_object_id": cid, **props}

    def archive(self, cid: str, at_ms: int) -> None:
        self.archived.add(cid)
        self.archived_at[cid] = at_ms

    def touch(self, cid: str, ts_ms: int, **props: Any) -> None:
        self.contacts[cid].update(lastmodifieddate=_iso(ts_ms), **props)

    # -- server --------------------------------------------------------------------------
    def routes(self, r: Router) -> None:
        r.add("GET", "/crm/v3/objects/contacts", self._list)
        r.add("POST", "/crm/v3/objects/contacts/search", self._search)
        r.add("GET", "/crm/v3/owners/", self._owners)
        r.add("GET", "/crm/v3/properties/contacts", self._properties)
        r.add("POST", "/oauth/v1/token", self._token)

    def error(self, status: int, message: str) -> Response:
        return Response(status, {"status": "error", "message": message})

    # -- gatekeeping ---------------------------------------------------------------------
    def _gate(self, req: Request, search: bool = False) -> Response | None:
        with self.lock:
            self.calls.append((req.method, req.path))
            if self.fail_queue:
                return Response(self.fail_queue.pop(0), {"status": "error", "message": "boom"})
            auth = req.header("authorization") or ""
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                self.unauthorized += 1
                return Response(401, {"status": "error", "category": "EXPIRED_AUTHENTICATION",
                                      "message": "The OAuth token used to make this call expired"})
            if self.daily_spent:
                self.rejected_429 += 1
                return Response(429, {"status": "error", "errorType": "RATE_LIMIT",
                                      "message": "You have reached your daily limit.",
                                      "policyName": "DAILY"})
            if self._window.count(self.window_seconds) >= self.window_max:
                return self._too_many("TEN_SECONDLY_ROLLING")
            if search and not self._searches.admit(self.search_per_second, 1.0):
                return self._too_many("SECONDLY")
            self._window.spend(1)
            return None

    def _too_many(self, policy: str) -> Response:
        self.rejected_429 += 1
        headers = {"Retry-After": "1"} if self.retry_after else {}
        return Response(429, {"status": "error", "message": "You have reached your limit.",
                              "errorType": "RATE_LIMIT", "policyName": policy}, headers)

    def _headers(self) -> dict[str, str]:
        headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window_seconds * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.window_max),
            "X-HubSpot-RateLimit-Remaining": str(max(self.window_max - len(self._window.hits), 0))}
        if self.daily_remaining is not None:  # private-app calls only (not OAuth)
            self.daily_remaining = max(self.daily_remaining - 1, 0)
            headers.update({"X-HubSpot-RateLimit-Daily": "250000",
                            "X-HubSpot-RateLimit-Daily-Remaining": str(self.daily_remaining)})
        return headers

    # -- endpoints -----------------------------------------------------------------------
    def _obj(self, cid: str, props: list[str]) -> dict[str, Any]:
        p = self.contacts[cid]
        obj = {"id": cid, "properties": {k: p.get(k) for k in props if k in p},
               "createdAt": p["createdate"], "updatedAt": p["lastmodifieddate"],
               "archived": cid in self.archived}
        if cid in self.archived:  # archiving does not bump lastmodifieddate
            obj["archivedAt"] = _iso(self.archived_at.get(cid, _ms(p["lastmodifieddate"])))
        return obj

    def _list(self, req: Request) -> Response:
        url = len(req.path) + 1 + len(urlencode(req.query, doseq=True))
        self.list_urls.append(url)
        if url > self.max_url:
            return Response(414, "URI Too Long")
        if (bad := self._gate(req)) is not None:
            return bad
        limit = min(int(req.arg("limit", "10")), 100)
        after = int(req.arg("after", "0") or 0)
        props = ",".join(req.query.get("properties", [])).split(",")
        archived = req.arg("archived", "false") == "true"
        ids = sorted((c for c in self.contacts if (c in self.archived) == archived), key=int)
        page = ids[after:after + limit]
        body: dict[str, Any] = {"results": [self._obj(c, props) for c in page]}
        if after + limit < len(ids):
            body["paging"] = {"next": {"after": str(after + limit), "link": "..."}}
        return Response(200, body, self._headers())

    def _search(self, req: Request) -> Response:
        if (bad := self._gate(req, search=True)) is not None:
            return bad
        q = req.json()
        limit = min(int(q.get("limit", 10)), 200)
        after = int(q.get("after") or 0)
        if after + limit > self.search_cap:
            return Response(400, {"status": "error", "category": "VALIDATION_ERROR",
                                  "message": "Cannot page beyond 10000 results"})
        filters = [f for g in q.get("filterGroups", []) for f in g["filters"]]
        if len(q.get("filterGroups", [])) > 1 or len(filters) > 6:
            return Response(400, {"status": "error", "category": "VALIDATION_ERROR",
                                  "message": "one filter group of at most 6 filters here"})
        ids = [c for c in self.contacts if c not in self.archived
               and all(_match(self.contacts[c], f) for f in filters)]
        sort = (q.get("sorts") or [{"propertyName": "lastmodifieddate"}])[0]["propertyName"]
        ids.sort(key=lambda c: (_value(self.contacts[c], sort),
                                hashlib.md5(c.encode()).hexdigest()))  # ties: arbitrary order
        page = ids[after:after + limit]
        body: dict[str, Any] = {"total": len(ids),
                                "results": [self._obj(c, q.get("properties", [])) for c in page]}
        if after + limit < len(ids):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return Response(200, body, self._headers())

    def _owners(self, req: Request) -> Response:
        if (bad := self._gate(req)) is not None:
            return bad
        archived = req.arg("archived", "false") == "true"
        owners = self.archived_owners if archived else self.owners
        return Response(200, {"results": [{"id": k, "email": v, "firstName": "O",
                                           "archived": archived}
                                          for k, v in owners.items()]}, self._headers())

    def _properties(self, req: Request) -> Response:
        if (bad := self._gate(req)) is not None:
            return bad
        std = ["email", "firstname", "lastname", "phone", "lifecyclestage", "hs_lead_status"]
        return Response(200, {"results": [{"name": n, "hubspotDefined": True} for n in std]
                              + [{"name": n, "hubspotDefined": False} for n in self.custom_props]})

    def _token(self, req: Request) -> Response:
        from urllib.parse import parse_qsl
        form = dict(parse_qsl(req.body.decode()))
        if self.refresh_tokens.get(form.get("refresh_token", "")) != form.get("client_secret"):
            return Response(400, {"status": "BAD_REFRESH_TOKEN", "message": "missing or unknown refresh token"})
        with self.lock:
            self._issued += 1
            self.refreshes += 1
            token = f"access-{self._issued}"
            self.tokens = {token}  # older access tokens expire
            refresh = form["refresh_token"]
            if self.rotate_refresh:  # the old refresh token stops working
                secret = self.refresh_tokens.pop(refresh)
                refresh = f"{refresh}-r{self._issued}"
                self.refresh_tokens[refresh] = secret
        return Response(200, {"access_token": token, "refresh_token": refresh,
                              "expires_in": self.expires_in})


_OPS = {"GTE": lambda a, b: a >= b, "LTE": lambda a, b: a <= b, "GT": lambda a, b: a > b,
        "LT": lambda a, b: a < b, "EQ": lambda a, b: a == b}


def _value(props: dict[str, Any], name: str) -> int:
    """Datetimes compare as epoch ms and ids as numbers, like HubSpot's search index."""
    if name == "lastmodifieddate":
        return _ms(props[name])
    return int(props[name])


def _match(props: dict[str, Any], f: dict[str, Any]) -> bool:
    return _OPS[f["operator"]](_value(props, f["propertyName"]), int(f["value"]))


def _iso(ms: int) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(iso: str) -> int:
    from datetime import datetime
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
