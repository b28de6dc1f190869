"""A fake Salesforce org: OAuth token endpoint (client credentials, refresh token) answering
an ``instance_url``; ``query``/``queryAll`` for the SOQL the connector sends (ORDER BY
SystemModstamp, Id with a (SystemModstamp, Id) cursor) paged by ``nextRecordsUrl``; describe;
``Sforce-Limit-Info``; expiring sessions; REQUEST_LIMIT_EXCEEDED."""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from leadbridge.httpserver import JSONServer, Request, Response, Router

V = "v60.0"


@dataclass
class FakeSalesforce:
    client_id: str = "cid"
    client_secret: str = "sf-client-secret"
    refresh_tokens: set[str] = field(default_factory=set)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"Lead": [], "Contact": []})
    custom: dict[str, list[str]] = field(default_factory=lambda: {"Lead": ["Budget__c"], "Contact": []})
    page_size: int = 200
    api_used: int = 100
    api_max: int = 100_000
    limit_exceeded: bool = False

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.sessions: set[str] = set()
        self.logins = 0
        self.calls: list[str] = []
        self._cursors: dict[str, list[dict]] = {}
        self._server: JSONServer | None = None

    def add(self, obj: str, rid: str, ts: str, **fields: Any) -> dict:
        row = {"attributes": {"type": obj}, "Id": rid, "SystemModstamp": ts, "CreatedDate": ts,
               "IsDeleted": False, **({"IsConverted": False} if obj == "Lead" else {}), **fields}
        self.rows[obj].append(row)
        return row

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def start(self) -> FakeSalesforce:
        r = Router()
        r.add("POST", "/services/oauth2/token", self._token)
        r.add("GET", f"/services/data/{V}/query", self._query)
        r.add("GET", f"/services/data/{V}/queryAll", self._query)
        r.add("GET", f"/services/data/{V}/queryAll/{{loc}}", self._more)
        r.add("GET", f"/services/data/{V}/sobjects/{{obj}}/describe", self._describe)
        self._server = JSONServer(r).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()

    def __enter__(self) -> FakeSalesforce:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server
        return self._server.base_url

    def _token(self, req: Request) -> Response:
        form = dict(parse_qsl(req.body.decode()))
        ok = form.get("client_id") == self.client_id and form.get("client_secret") == self.client_secret
        if form.get("grant_type") == "refresh_token":
            ok = ok and form.get("refresh_token") in self.refresh_tokens
        elif form.get("grant_type") != "client_credentials":
            ok = False
        if not ok:
            return Response(400, {"error": "invalid_grant", "error_description": "authentication failure"})
        with self.lock:
            self.logins += 1
            tok = f"00D!session-{uuid.uuid4().hex}"
            self.sessions.add(tok)
        return Response(200, {"access_token": tok, "instance_url": self.base_url,
                              "token_type": "Bearer", "issued_at": "1700000000000"})

    def _gate(self, req: Request) -> Response | None:
        self.calls.append(req.path)
        auth = req.header("authorization") or ""
        if auth[7:] not in self.sessions:
            return Response(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        if self.limit_exceeded:
            return Response(403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
        self.api_used += 1
        return None

    def _limit(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_max}"}

    def _query(self, req: Request) -> Response:
        if (bad := self._gate(req)) is not None:
            return bad
        soql = req.arg("q") or ""
        m = re.match(r"SELECT (.+) FROM (\w+)(?: WHERE SystemModstamp > (\S+) OR "
                     r"\(SystemModstamp = (\S+) AND Id > '(\w+)'\))? ORDER BY SystemModstamp, Id$", soql)
        if not m:
            return Response(400, [{"message": "unexpected SOQL", "errorCode": "MALFORMED_QUERY"}])
        fields, obj, ts, _, rid = m.groups()
        names = [f.strip() for f in fields.split(",")]
        known = {"Owner.Email", *self.custom[obj]} | {k for r in self.rows[obj] for k in r}
        known |= {"FirstName", "LastName", "Name", "Email", "Phone", "MobilePhone", "Status",
                  "OwnerId", "Company", "LeadSource", "Id", "IsDeleted", "CreatedDate", "SystemModstamp",
                  *(("IsConverted",) if obj == "Lead" else ())}
        if bad := [n for n in names if n not in known]:
            return Response(400, [{"message": f"No such column '{bad[0]}'", "errorCode": "INVALID_FIELD"}])
        rows = sorted(self.rows[obj], key=lambda r: (_norm(r["SystemModstamp"]), r["Id"]))
        if ts:
            rows = [r for r in rows if (_norm(r["SystemModstamp"]), r["Id"]) > (_norm(ts), rid)]
        if "/queryAll" not in req.path:
            rows = [r for r in rows if not r["IsDeleted"]]
        out = [{"attributes": r["attributes"], **{n: _get(r, n) for n in names if "." not in n},
                **({"Owner": {"Email": r.get("OwnerEmail")}} if "Owner.Email" in names else {})}
               for r in rows]
        return self._page(out, len(out))

    def _page(self, out: list[dict], total: int) -> Response:
        first, rest = out[: self.page_size], out[self.page_size:]
        body: dict[str, Any] = {"totalSize": total, "done": not rest, "records": first}
        if rest:
            loc = uuid.uuid4().hex[:12]
            self._cursors[loc] = rest
            body["nextRecordsUrl"] = f"/services/data/{V}/queryAll/{loc}-{self.page_size}"
        return Response(200, body, self._limit())

    def _more(self, req: Request) -> Response:
        if (bad := self._gate(req)) is not None:
            return bad
        rest = self._cursors.pop(req.params["loc"].split("-")[0], None)
        if rest is None:
            return Response(400, [{"message": "invalid locator", "errorCode": "INVALID_QUERY_LOCATOR"}])
        return self._page(rest, len(rest))

    def _describe(self, req: Request) -> Response:
        if (bad := self._gate(req)) is not None:
            return bad
        obj = req.params["obj"]
        return Response(200, {"name": obj, "fields": [{"name": "Email", "custom": False}]
                              + [{"name": n, "custom": True} for n in self.custom[obj]]}, self._limit())


def _get(row: dict, name: str) -> Any:
    return row.get(name)


def _norm(ts: str) -> str:
    return ts.replace("Z", "").replace("+0000", "")[:19]
