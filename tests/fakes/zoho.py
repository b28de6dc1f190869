"""A fake Zoho CRM v8 (accounts server + API domain on one loopback port).

Follows source-apis-more.md section 1: refresh-token flow on ``/oauth/v2/token`` (parameters
in the query string or a form body, failures as HTTP 200 ``{"error": ...}``, at most N tokens
per window), ``Zoho-oauthtoken`` auth with expiring tokens (401 INVALID_TOKEN), required
``fields`` (max 50), ``page`` only up to the discrete limit, ``page_token`` bound to the exact
request and capped, ``If-Modified-Since`` (inclusive), 204 when empty, ``/deleted``, 429
TOO_MANY_REQUESTS with ``details.retry_after``, and injected 5xx.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

from leadbridge.httpserver import Request, Response, Router

from ._base import FakeServer, SlidingWindow

IST = timezone(timedelta(hours=5, minutes=30))


def zoho_time(dt: datetime) -> str:
    """Zoho's format: seconds, the org's UTC offset (India here, to exercise normalising)."""
    return dt.astimezone(IST).isoformat(timespec="seconds")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _err(status: int, code: str, message: str, **details: Any) -> Response:
    return Response(status, {"code": code, "message": message, "status": "error",
                             "details": details})


@dataclass
class FakeZoho(FakeServer):
    client_id: str = "1000.CLIENTID"
    client_secret: str = "zoho-client-secret"
    refresh_token: str = "1000.refresh-secret"
    discrete_limit: int = 2000      # records reachable with `page`
    token_limit: int = 100_000      # records reachable with consecutive page tokens
    tokens_per_window: int = 10     # access tokens a refresh token may mint per window
    token_window: float = 600.0
    token_uses: int = 10**9         # API calls an access token is good for (expiry)
    requests_per_window: int = 10**9
    request_window: float = 1.0
    retry_after: float = 0.05
    fail_queue: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.records: dict[str, dict[str, dict[str, Any]]] = {"Leads": {}, "Contacts": {}}
        self.deleted: dict[str, list[dict[str, Any]]] = {"Leads": [], "Contacts": []}
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str, dict[str, list[str]]]] = []
        self.token_calls = 0
        self.rejected_429 = 0
        self._access: dict[str, int] = {}  # token -> uses left
        self._minted = SlidingWindow()
        self._window = SlidingWindow()
        self._page_tokens: dict[str, tuple[tuple, int]] = {}
        self._ids = itertools.count(5725767000001234001)

    # -- data ----------------------------------------------------------------------------
    def add(self, module: str, when: datetime, **fields: Any) -> str:
        rid = str(next(self._ids))
        self.records[module][rid] = {"id": rid, "Created_Time": zoho_time(when),
                                     "Modified_Time": zoho_time(when), **fields}
        return rid

    def touch(self, module: str, rid: str, when: datetime, **fields: Any) -> None:
        self.records[module][rid].update(Modified_Time=zoho_time(when), **fields)

    def delete(self, module: str, rid: str, when: datetime) -> None:
        self.records[module].pop(rid)
        self.deleted[module].append({"id": rid, "display_name": None, "type": "recycle",
                                     "deleted_time": zoho_time(when),
                                     "deleted_by": {"name": "Admin", "id": "1"}})

    def expire_tokens(self) -> None:
        self._access.clear()

    # -- server --------------------------------------------------------------------------
    def routes(self, router: Router) -> None:
        router.add("POST", "/oauth/v2/token", self._token)
        router.add("GET", "/crm/v8/{module}/deleted", self._deleted)
        router.add("GET", "/crm/v8/{module}", self._list)

    def error(self, status: int, message: str) -> Response:
        return _err(status, "INVALID_URL_PATTERN", message)

    # -- OAuth ---------------------------------------------------------------------------
    def _token(self, req: Request) -> Response:
        params = {k: v[0] for k, v in req.query.items()}
        if req.body:
            params.update({k: v[0] for k, v in parse_qs(req.body.decode()).items()})
        with self.lock:
            self.token_calls += 1
            if params.get("grant_type") != "refresh_token":
                return Response(200, {"error": "unsupported_grant_type"})
            if (params.get("client_id") != self.client_id
                    or params.get("client_secret") != self.client_secret):
                return Response(200, {"error": "invalid_client"})
            if params.get("refresh_token") != self.refresh_token:
                return Response(200, {"error": "invalid_code"})
            if not self._minted.admit(self.tokens_per_window, self.token_window):
                return Response(400, {"error_description": "You have made too many requests "
                                      "continuously. Please try again after some time.",
                                      "error": "Access Denied", "status": "failure"})
            token = f"1000.access{self._minted.count(self.token_window)}.{self.token_calls}"
            self._access[token] = self.token_uses
            return Response(200, {"access_token": token, "scope": "ZohoCRM.modules.READ",
                                  "api_domain": self.base_url, "token_type": "Bearer",
                                  "expires_in": 3600})

    def _gate(self, req: Request) -> Response | None:
        with self.lock:
            self.calls.append((req.method, req.path, req.query))
            if self.fail_queue:
                return _err(self.fail_queue.pop(0), "INTERNAL_ERROR", "Internal Server Error")
            auth = req.header("authorization") or ""
            token = auth.removeprefix("Zoho-oauthtoken ")
            if not auth.startswith("Zoho-oauthtoken ") or self._access.get(token, 0) <= 0:
                return _err(401, "INVALID_TOKEN", "invalid oauth token")
            self._access[token] -= 1
            if not self._window.admit(self.requests_per_window, self.request_window):
                self.rejected_429 += 1
                return _err(429, "TOO_MANY_REQUESTS", "You have reached the API limit",
                            retry_after=self.retry_after, limit=self.requests_per_window,
                            window=self.request_window)
            return None

    # -- API -----------------------------------------------------------------------------
    def _since(self, req: Request) -> datetime | None:
        ims = req.header("if-modified-since")
        return _parse(ims) if ims else None

    def _list(self, req: Request) -> Response:
        if (bad := self._gate(req)) is not None:
            return bad
        module = req.params["module"]
        if module not in self.records:
            return _err(400, "INVALID_MODULE", "the module name given seems to be invalid",
                        resource_path_index=2)
        fields = [f for f in (req.arg("fields") or "").split(",") if f]
        if not fields:
            return _err(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is "
                        "missing", param_name="fields")
        if len(fields) > 50:
            return _err(400, "LIMIT_EXCEEDED", "fields limit exceeded", limit=50)
        per_page = int(req.arg("per_page", "200"))
        if not 1 <= per_page <= 200:
            return _err(400, "INVALID_DATA", "invalid per_page", param_name="per_page")
        token = req.arg("page_token")
        bound = (module, req.arg("fields"), per_page, req.arg("sort_by"), req.arg("sort_order"),
                 req.header("if-modified-since"))
        with self.lock:
            if token:
                if req.arg("page"):
                    return _err(400, "AMBIGUITY_DURING_PROCESSING", "page and page_token")
                if token not in self._page_tokens:
                    return _err(400, "EXPIRED_VALUE", "the page token is expired",
                                api_name="page_token", json_path="$.query.page_token")
                bound_to, offset = self._page_tokens[token]
                if bound_to != bound:
                    return _err(400, "TOKEN_BOUND_DATA_MISMATCH", "parameters changed",
                                param_name="page_token")
            else:
                page = int(req.arg("page", "1"))
                offset = (page - 1) * per_page
                if offset + per_page > self.discrete_limit:
                    return _err(400, "DISCRETE_PAGINATION_LIMIT_EXCEEDED", "use page_token",
                                limit=self.discrete_limit)
            if token and offset + per_page > self.token_limit:
                return _err(400, "PAGINATION_LIMIT_EXCEEDED", "You can only get upto "
                            f"{self.token_limit} records using page_token param",
                            param_name="page_token")
            since = self._since(req)
            rows = [r for r in self.records[module].values()
                    if since is None or _parse(r["Modified_Time"]) >= since]
            key = req.arg("sort_by") or "id"
            if key == "Modified_Time":
                rows.sort(key=lambda r: (_parse(r["Modified_Time"]), r["id"]))
            else:
                rows.sort(key=lambda r: r["id"])
            if req.arg("sort_order", "desc") == "desc":
                rows.reverse()
            chunk = rows[offset:offset + per_page]
            if not chunk:
                return Response(204 if since is None or not rows else 304, b"")
            more = offset + per_page < len(rows)
            nxt = None
            if more:
                nxt = f"tok{len(self._page_tokens) + 1:06d}"
                self._page_tokens[nxt] = (bound, offset + per_page)
        data = [{"id": r["id"], **{f: r.get(f) for f in fields}} for r in chunk]
        return Response(200, {"data": data, "info": {
            "per_page": per_page, "count": len(data), "page": offset // per_page + 1,
            "more_records": more, "sort_by": key, "sort_order": req.arg("sort_order", "desc"),
            "next_page_token": nxt, "previous_page_token": None,
            "page_token_expiry": None, "call": False, "email": False}})

    def _deleted(self, req: Request) -> Response:
        if (bad := self._gate(req)) is not None:
            return bad
        module = req.params["module"]
        since = self._since(req)
        rows = [d for d in self.deleted.get(module, [])
                if since is None or _parse(d["deleted_time"]) >= since]
        per_page = int(req.arg("per_page", "200"))
        page = int(req.arg("page", "1"))
        chunk = rows[(page - 1) * per_page:page * per_page]
        if not chunk:
            return Response(204, b"")
        return Response(200, {"data": chunk, "info": {
            "per_page": per_page, "count": len(chunk), "page": page,
            "more_records": page * per_page < len(rows)}})
