"""A fake Salesforce org, following shared/reference/source-apis.md section 2.

* OAuth token endpoint: client credentials, refresh token and JWT bearer (the assertion's RS256
  signature is verified with the public key a test hands in, and iss/sub/aud/exp are checked);
  every answer names an ``instance_url``.
* ``query``/``queryAll`` for the SOQL the connector sends (ORDER BY SystemModstamp, Id with a
  (SystemModstamp, Id) keyset or ``SystemModstamp >=`` a lookback), ``SELECT COUNT()``, paged
  by ``nextRecordsUrl``; describe. Injected query faults: an expired ``nextRecordsUrl``
  (``INVALID_QUERY_LOCATOR``) and ``QUERY_TIMEOUT`` for queries over too many rows, both as
  HTTP 400 with Salesforce's ``[{"errorCode", "message"}]`` body.
* Bulk API 2.0 query jobs: create (query/queryAll), state polled through UploadComplete and
  InProgress to JobComplete (or an injected Failed/Aborted), CSV results paged by
  ``maxRecords`` and ``Sforce-Locator`` (literal ``null`` on the last page), rows in no
  particular order, datetimes as ``...Z``, booleans ``true``/``false``, null as empty.
* ``Sforce-Limit-Info``; expiring sessions; REQUEST_LIMIT_EXCEEDED; injected 5xx answers.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from leadbridge.httpserver import Request, Response, Router
from ._base import FakeServer

V = "v60.0"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
STANDARD = {"FirstName", "LastName", "Name", "Email", "Phone", "MobilePhone", "Status", "OwnerId",
            "Owner.Email", "Company", "LeadSource", "Id", "IsDeleted", "CreatedDate",
            "SystemModstamp"}
_SOQL = re.compile(r"SELECT (?P<fields>.+?) FROM (?P<obj>\w+)(?: WHERE (?P<where>.+?))?"
                   r"(?P<order> ORDER BY SystemModstamp, Id)?$")
# the WHERE terms the connector writes, joined by AND: a (SystemModstamp, Id) keyset (with or
# without parentheses), a lower bound >= and an upper bound <
_KEYSET = re.compile(r"^\(?SystemModstamp > (?P<ts>\S+) OR "
                     r"\(SystemModstamp = (?P=ts) AND Id > '(?P<id>\w+)'\)\)?(?: AND |$)")
_BOUND = re.compile(r"^SystemModstamp (?P<op>>=|<) (?P<ts>\S+)$")


@dataclass
class FakeSalesforce(FakeServer):
    client_id: str = "cid"
    client_secret: str = "sf-client-secret"
    refresh_tokens: set[str] = field(default_factory=set)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"Lead": [], "Contact": []})
    custom: dict[str, dict[str, str]] = field(
        default_factory=lambda: {"Lead": {"Budget__c": "double"}, "Contact": {}})
    page_size: int = 200
    api_used: int = 100
    api_max: int = 100_000
    limit_exceeded: bool = False
    rotate_refresh: bool = False  # each refresh-token grant answers a new refresh token
    fail_queue: list[int] = field(default_factory=list)  # statuses to answer next, in order
    # JWT bearer: the connected app's certificate (a cryptography public key) and whom it trusts
    jwt_public_key: Any = None
    jwt_username: str = "integration@example.com"
    jwt_audience: str = "https://login.salesforce.com"
    # Bulk API 2.0: status polls before a job completes, and an injected terminal failure
    bulk_polls: int = 2
    bulk_fail: str | None = None  # "Failed" or "Aborted"
    bulk_hiccups: bool = False  # answer 503 once to the first create, poll and results call
    # REST query faults (HTTP 400, Salesforce's error array): these nextRecordsUrl fetches
    # (1-based, counted over the fake's life) answer INVALID_QUERY_LOCATOR and forget the
    # locator; a query matching more rows than timeout_over answers QUERY_TIMEOUT
    locator_faults: set[int] = field(default_factory=set)
    timeout_over: int | None = None
    # compare SystemModstamp to the millisecond as Salesforce does (a whole-second literal then
    # matches rows later in that second); off: whole seconds, the fake's older behaviour
    ms_precision: bool = False

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.sessions: set[str] = set()
        self.logins = 0
        self.calls: list[str] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self.result_pages: list[int] = []  # rows per Bulk result page served
        self.hiccups: list[str] = []  # Bulk steps that answered a 503
        self._cursors: dict[str, list[dict]] = {}
        self.locator_fetches = 0
        self.faults: list[str] = []  # the errorCode of every injected query fault, in order
        self.queries: list[str] = []  # the SOQL of every query (COUNT() ones too)

    def add(self, obj: str, rid: str, ts: str, **fields: Any) -> dict:
        row = {"attributes": {"type": obj}, "Id": rid, "SystemModstamp": ts, "CreatedDate": ts,
               "IsDeleted": False, **({"IsConverted": False} if obj == "Lead" else {}), **fields}
        self.rows[obj].append(row)
        return row

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def routes(self, r: Router) -> None:
        d = f"/services/data/{V}"
        r.add("POST", "/services/oauth2/token", self._token)
        r.add("GET", f"{d}/query", self._query)
        r.add("GET", f"{d}/queryAll", self._query)
        r.add("GET", f"{d}/queryAll/{{loc}}", self._more)
        r.add("GET", f"{d}/sobjects/{{obj}}/describe", self._describe)
        r.add("POST", f"{d}/jobs/query", self._job_create)
        r.add("GET", f"{d}/jobs/query/{{job}}", self._job_get)
        r.add("PATCH", f"{d}/jobs/query/{{job}}", self._job_abort)
        r.add("GET", f"{d}/jobs/query/{{job}}/results", self._job_results)

    def error(self, status: int, message: str) -> Response:
        return Response(status, [{"message": message, "errorCode": "NOT_FOUND"}])

    # -- auth ----------------------------------------------------------------------------
    def _token(self, req: Request) -> Response:
        form = dict(parse_qsl(req.body.decode()))
        grant = form.get("grant_type")
        if grant == JWT_GRANT:
            problem = self._check_jwt(form.get("assertion", ""))
            if problem:
                return Response(400, {"error": "invalid_grant", "error_description": problem})
            return self._session()
        ok = form.get("client_id") == self.client_id and form.get("client_secret") == self.client_secret
        rotated = None
        if grant == "refresh_token":
            ok = ok and form.get("refresh_token") in self.refresh_tokens
            if ok and self.rotate_refresh:  # the old refresh token stops working
                self.refresh_tokens.discard(form["refresh_token"])
                rotated = f"rt-rotated-{uuid.uuid4().hex[:8]}"
                self.refresh_tokens.add(rotated)
        elif grant != "client_credentials":
            ok = False
        if not ok:
            return Response(400, {"error": "invalid_grant", "error_description": "authentication failure"})
        return self._session(rotated)

    def _session(self, refresh_token: str | None = None) -> Response:
        with self.lock:
            self.logins += 1
            tok = f"00D!session-{uuid.uuid4().hex}"
            self.sessions.add(tok)
        body = {"access_token": tok, "instance_url": self.base_url, "token_type": "Bearer",
                "issued_at": "1700000000000"}
        if refresh_token:
            body["refresh_token"] = refresh_token
        return Response(200, body)

    def _check_jwt(self, assertion: str) -> str | None:
        """Salesforce's checks of a JWT bearer assertion; a reason string when it fails."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        parts = assertion.split(".")
        if len(parts) != 3 or self.jwt_public_key is None:
            return "invalid assertion"
        header, claims = (json.loads(_unb64(p)) for p in parts[:2])
        if header.get("alg") != "RS256":
            return "invalid assertion: alg must be RS256"
        try:
            self.jwt_public_key.verify(_unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode(),
                                       padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return "invalid assertion: signature"
        now = time.time()
        if claims.get("iss") != self.client_id:
            return "invalid client credentials"
        if claims.get("sub") != self.jwt_username:
            return "user hasn't approved this consumer"
        if claims.get("aud") != self.jwt_audience:
            return "audience is invalid"
        if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + 300:
            return "expired or too distant exp"
        return None

    # -- REST ----------------------------------------------------------------------------
    def _gate(self, req: Request) -> Response | None:
        with self.lock:
            self.calls.append(f"{req.method} {req.path}")
            if self.fail_queue:
                return Response(self.fail_queue.pop(0),
                                [{"message": "Server busy", "errorCode": "SERVER_UNAVAILABLE"}])
        auth = req.header("authorization") or ""
        if auth[7:] not in self.sessions:
            return Response(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        if self.limit_exceeded:
            return Response(403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
        self.api_used += 1
        return None

    def _limit(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_max}"}

    def _select(self, soql: str, all_rows: bool) -> tuple[list[str], list[dict]] | Response:
        """(selected names, matching rows in SystemModstamp, Id order) or a 400."""
        m = _SOQL.match(soql)
        if not m:
            return Response(400, [{"message": "unexpected SOQL", "errorCode": "MALFORMED_QUERY"}])
        obj = m["obj"]
        names = [f.strip() for f in m["fields"].split(",")]
        known = STANDARD | set(self.custom[obj]) | ({"IsConverted"} if obj == "Lead" else set())
        if names != ["COUNT()"] and (bad := [n for n in names if n not in known]):
            return Response(400, [{"message": f"No such column '{bad[0]}' on entity '{obj}'",
                                   "errorCode": "INVALID_FIELD"}])
        n = self._when
        rows = sorted(self.rows[obj], key=lambda r: (n(r["SystemModstamp"]), r["Id"]))
        where = m["where"] or ""
        if k := _KEYSET.match(where):
            rows = [r for r in rows if (n(r["SystemModstamp"]), r["Id"]) > (n(k["ts"]), k["id"])]
            where = where[k.end():]
        for term in where.split(" AND ") if where else ():
            if not (b := _BOUND.match(term)):
                return Response(400, [{"message": f"unexpected SOQL term {term!r}",
                                       "errorCode": "MALFORMED_QUERY"}])
            if b["op"] == ">=":
                rows = [r for r in rows if n(r["SystemModstamp"]) >= n(b["ts"])]
            else:
                rows = [r for r in rows if n(r["SystemModstamp"]) < n(b["ts"])]
        if not all_rows:
            rows = [r for r in rows if not r["IsDeleted"]]
        return names, rows

    def _when(self, ts: str) -> str:
        """A row's SystemModstamp or a SOQL literal, as this org compares them: whole seconds,
        or (``ms_precision``) to the millisecond, a literal being ``.000``."""
        if not self.ms_precision:
            return _norm(ts)
        frac = ts[19:23] if ts[19:20] == "." else ".000"
        return _norm(ts) + frac

    def _query(self, req: Request) -> Response:
        if (bad := self._gate(req)) is not None:
            return bad
        self.queries.append(req.arg("q") or "")
        got = self._select(req.arg("q") or "", "/queryAll" in req.path)
        if isinstance(got, Response):
            return got
        names, rows = got
        if names == ["COUNT()"]:
            return Response(200, {"totalSize": len(rows), "done": True, "records": []}, self._limit())
        if self.timeout_over is not None and len(rows) > self.timeout_over:
            return self._fault("QUERY_TIMEOUT", "Your query request was running for too long.")
        out = [{"attributes": r["attributes"], **{n: r.get(n) for n in names if "." not in n},
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
        self.locator_fetches += 1
        if rest is not None and self.locator_fetches in self.locator_faults:
            return self._fault("INVALID_QUERY_LOCATOR", "invalid query locator")
        if rest is None:
            return Response(400, [{"message": "invalid locator", "errorCode": "INVALID_QUERY_LOCATOR"}])
        return self._page(rest, len(rest))

    def _fault(self, code: str, message: str) -> Response:
        self.faults.append(code)
        return Response(400, [{"message": message, "errorCode": code}], self._limit())

    def _describe(self, req: Request) -> Response:
        if (bad := self._gate(req)) is not None:
            return bad
        obj = req.params["obj"]
        return Response(200, {"name": obj, "fields": [{"name": "Email", "custom": False, "type": "email"}]
                              + [{"name": n, "custom": True, "type": t}
                                 for n, t in self.custom[obj].items()]}, self._limit())

    # -- Bulk API 2.0 --------------------------------------------------------------------
    def _hiccup(self, step: str) -> Response | None:
        if self.bulk_hiccups and step not in self.hiccups:
            self.hiccups.append(step)
            return Response(503, [{"message": "Server busy", "errorCode": "SERVER_UNAVAILABLE"}])
        return None

    def _job_create(self, req: Request) -> Response:
        if (bad := self._gate(req) or self._hiccup("create")) is not None:
            return bad
        spec = req.json()
        if spec.get("operation") not in ("query", "queryAll") or spec.get("contentType", "CSV") != "CSV":
            return Response(400, [{"message": "bad job", "errorCode": "INVALIDJOB"}])
        soql = spec.get("query", "")
        state, error = "UploadComplete", None
        if "COUNT()" in soql or " ORDER BY " in soql:  # aggregates are refused; keep PK chunking
            state, error = "Failed", "Aggregate functions and ORDER BY are not supported"
            got: Any = ([], [])
        else:
            got = self._select(soql, spec["operation"] == "queryAll")
            if isinstance(got, Response):
                return got
        names, rows = got
        # a snapshot of the rows, rendered now, in no particular order (PK chunks run in parallel)
        rows = sorted(rows, key=lambda r: hashlib.md5(r["Id"].encode()).hexdigest())
        job_id = f"750{uuid.uuid4().hex[:15]}"
        self.jobs[job_id] = {"id": job_id, "operation": spec["operation"], "state": state,
                             "errorMessage": error, "polls": 0, "names": names,
                             "rows": [[_csv_cell(r, n) for n in names] for r in rows]}
        return Response(200, {"id": job_id, "operation": spec["operation"], "object": "Lead",
                              "state": "UploadComplete", "contentType": "CSV", "apiVersion": 60.0,
                              "lineEnding": "LF", "columnDelimiter": "COMMA"}, self._limit())

    def _job(self, req: Request) -> dict | Response:
        if (bad := self._gate(req)) is not None:
            return bad
        job = self.jobs.get(req.params["job"])
        if job is None:
            return Response(404, [{"message": "job not found", "errorCode": "NOT_FOUND"}])
        return job

    def _job_get(self, req: Request) -> Response:
        if (bad := self._hiccup("poll")) is not None:
            return bad
        job = self._job(req)
        if isinstance(job, Response):
            return job
        job["polls"] += 1
        if job["state"] not in ("Failed", "Aborted", "JobComplete"):
            if job["polls"] >= self.bulk_polls:
                job["state"] = self.bulk_fail or "JobComplete"
                if self.bulk_fail:
                    job["errorMessage"] = "INVALID_FIELD: injected failure"
            else:
                job["state"] = "InProgress"
        body = {k: job[k] for k in ("id", "operation", "state")}
        if job["errorMessage"]:
            body["errorMessage"] = job["errorMessage"]
        return Response(200, body, self._limit())

    def _job_abort(self, req: Request) -> Response:
        job = self._job(req)
        if isinstance(job, Response):
            return job
        job["state"] = "Aborted"
        return Response(200, {"id": job["id"], "state": "Aborted"}, self._limit())

    def _job_results(self, req: Request) -> Response:
        if (bad := self._hiccup("results")) is not None:
            return bad
        job = self._job(req)
        if isinstance(job, Response):
            return job
        if job["state"] != "JobComplete":
            return Response(400, [{"message": "job not complete", "errorCode": "INVALIDJOB"}])
        start = int(base64.b64decode(req.arg("locator") or "MA==").decode())  # opaque to clients
        size = int(req.arg("maxRecords") or 100_000)
        chunk = job["rows"][start:start + size]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(job["names"])
        writer.writerows(chunk)
        end = start + len(chunk)
        locator = base64.b64encode(str(end).encode()).decode() if end < len(job["rows"]) else "null"
        self.result_pages.append(len(chunk))
        return Response(200, out.getvalue(), {**self._limit(), "Content-Type": "text/csv",
                                              "Sforce-NumberOfRecords": str(len(chunk)),
                                              "Sforce-Locator": locator})


def _csv_cell(row: dict, name: str) -> str:
    value = row.get("OwnerEmail") if name == "Owner.Email" else row.get(name)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if name in ("SystemModstamp", "CreatedDate") and isinstance(value, str):
        return _norm(value) + value[19:23] + "Z"  # Bulk writes datetimes as ...000Z
    return str(value)


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _norm(ts: str) -> str:
    return ts.replace("Z", "").replace("+0000", "")[:19]
