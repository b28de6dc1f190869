"""The Zoho CRM connector: Leads and Contacts through the REST API v8.

Why this shape: Zoho keeps each org in one data centre, so the OAuth server and the API host
come from the ``data_center`` option (the token answer's ``api_domain`` wins). Every list call
sends a fixed ``fields`` list (max 50), ``sort_by=Modified_Time asc`` and one fixed
``If-Modified-Since`` for the whole window, and follows ``next_page_token`` (``page`` alone
stops at 2,000 records). Page tokens reach 100,000 records; before that a new window starts at
the last ``Modified_Time`` seen (inclusive, deduplicated by id), so big orgs and timestamp ties
never lose a record. Deleted records come from ``/{module}/deleted`` on incremental runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import httpx

from ..connector import Connector, Option
from ..errors import OptionsError, SourceError
from ..plugins import hookimpl
from ._http import HttpClient, convert, dig, items, once, record_id
from ._people import RunCursor, compact, full_name, iso, parse_ts, split_primary, unique, utc_text

#: data centre -> (accounts server, API domain); source-apis-more.md 1.1
DATA_CENTERS: dict[str, tuple[str, str]] = {
    "us": ("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "eu": ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "in": ("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "au": ("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "jp": ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "cn": ("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    "ca": ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "sa": ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    "uk": ("https://accounts.zoho.uk", "https://www.zohoapis.uk"),
}
BASE_FIELDS = (
    "First_Name", "Last_Name", "Full_Name", "Email", "Secondary_Email", "Phone", "Mobile",
    "Home_Phone", "Other_Phone", "Owner", "Lead_Status", "Lead_Source", "Tag", "Company",
    "Created_Time", "Modified_Time",
)
PHONE_FIELDS = ("Phone", "Mobile", "Home_Phone", "Other_Phone")
CONTACT_ONLY = {"Home_Phone", "Other_Phone"}
MAX_FIELDS = 50
CURSOR = "zoho_modified_time"


def _ims(dt: datetime) -> str:
    """If-Modified-Since as Zoho wants it: ISO seconds with an offset (floored: inclusive)."""
    return dt.astimezone(timezone.utc).replace(microsecond=0).isoformat()


class ZohoConnector(Connector):
    name = "zoho"
    source_platform = "zoho"
    description = "Zoho CRM Leads and Contacts (OAuth refresh token), full and incremental."
    options = (
        Option("refresh_token", "secret", required=True, env="ZOHO_REFRESH_TOKEN",
               help="OAuth refresh token (Self Client or server app, access_type=offline)"),
        Option("client_id", "str", required=True, env="ZOHO_CLIENT_ID", help="OAuth client id"),
        Option("client_secret", "secret", required=True, env="ZOHO_CLIENT_SECRET",
               help="OAuth client secret"),
        Option("data_center", "choice", default="us", env="ZOHO_DATA_CENTER",
               choices=tuple(DATA_CENTERS),
               help="Where the org lives: picks the accounts server and API domain"),
        Option("accounts_url", "str", env="ZOHO_ACCOUNTS_URL",
               help="Accounts (OAuth) server; default from data_center"),
        Option("base_url", "str", env="ZOHO_BASE_URL",
               help="API domain; default the token's api_domain, else from data_center"),
        Option("modules", "str", default="Leads,Contacts",
               help="Comma-separated module API names to read"),
        Option("custom_fields", "str", default="",
               help="Comma-separated extra field API names copied into custom_fields"),
        Option("incremental", "bool", default=True,
               help="Use the saved Modified_Time cursor when there is one"),
        Option("lookback_seconds", "int", default=300,
               help="Re-read this far back before the cursor"),
        Option("include_deleted", "bool", default=True,
               help="On incremental runs, report /deleted records as deleted"),
        Option("per_page", "int", default=200, help="Records per page (Zoho's max is 200)"),
        Option("page_token_limit", "int", default=100_000,
               help="Records reachable with page tokens (Zoho: 100,000); lower only for tests"),
    )

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        c = self.config
        problems = []
        self.modules = [m.strip() for m in c["modules"].split(",") if m.strip()]
        if not self.modules:
            problems.append("modules is empty (use e.g. Leads,Contacts)")
        self.extra = [f.strip() for f in c["custom_fields"].split(",") if f.strip()]
        if len(set(BASE_FIELDS) | set(self.extra)) > MAX_FIELDS:
            problems.append(f"too many fields: Zoho accepts {MAX_FIELDS} per request, "
                            f"{len(BASE_FIELDS)} are built in; list fewer custom_fields")
        if not 1 <= c["per_page"] <= 200:
            problems.append("per_page must be between 1 and 200")
        if problems:
            raise OptionsError("zoho", problems)
        accounts, api = DATA_CENTERS[c["data_center"]]
        self.accounts_url = (c.get("accounts_url") or accounts).rstrip("/")
        self._api_domain = c.get("base_url") or None
        self._default_api = api
        self._access: str | None = None
        self._http: HttpClient | None = None

    # -- auth ----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        if self._access is None:
            self._refresh()
        return {"Authorization": f"Zoho-oauthtoken {self._access}"}

    def _refresh(self) -> None:
        """Refresh-token grant; Zoho reports failures as HTTP 200 with an ``error`` key."""
        assert self._http is not None
        c = self.config
        # a form body, not the URL parameters Zoho's docs show: httpx logs every URL at INFO,
        # and the secrets must never reach a log
        resp = self._http.request("POST", f"{self.accounts_url}/oauth/v2/token", auth=False,
                                  data={"grant_type": "refresh_token",
                                          "client_id": c["client_id"],
                                          "client_secret": c["client_secret"].reveal(),
                                          "refresh_token": c["refresh_token"].reveal()})
        body = self._http.parse(resp, expect=dict)
        if body.get("error") or not body.get("access_token"):
            err = str(body.get("error") or "no access_token in the answer")
            hint = {
                "invalid_client": "the client id/secret are wrong or belong to another data "
                                  "centre: check ZOHO_CLIENT_ID and the data_center option",
                "invalid_code": "the refresh token is invalid or revoked: generate a new one "
                                "(ZOHO_REFRESH_TOKEN)",
            }.get(err, "check ZOHO_REFRESH_TOKEN, ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET")
            raise SourceError(self._http.redact(f"zoho: the token refresh at "
                                                f"{self.accounts_url} failed ({err}); {hint}"))
        self._access = body["access_token"]
        if not self.config.get("base_url") and isinstance(body.get("api_domain"), str):
            self._api_domain = body["api_domain"]

    @staticmethod
    def _retry_after(resp: httpx.Response) -> float | None:
        try:
            value = resp.json().get("details").get("retry_after")
        except (ValueError, AttributeError):
            return None
        return float(value) if isinstance(value, (int, float)) else None

    # -- reading -------------------------------------------------------------------------
    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        c = self.config
        with HttpClient(self._api_domain or self._default_api, name="Zoho",
                        auth=self._headers, refresh=self._refresh,
                        retry_after=self._retry_after) as http:
            self._http = http
            if self._access is None:
                self._refresh()
            http.base_url = (self._api_domain or self._default_api).rstrip("/")
            cursor = RunCursor(state, CURSOR, incremental=c["incremental"],
                               lookback_seconds=c["lookback_seconds"])
            for module in self.modules:
                where = f"zoho: /crm/v8/{module}"
                for rec in self._module(http, module, cursor.since):
                    rid = record_id(rec, "id", where)
                    if cursor.take(rid, rec.get("Modified_Time")):
                        yield convert(lambda: self._record(module, rec), rid, where)
                if cursor.since is not None and c["include_deleted"]:
                    for gone in self._deleted(http, module, cursor.since):
                        gid = record_id(gone, "id", f"{where}/deleted")
                        if cursor.first(gid):
                            yield {"source_id": gid, "source_platform": "zoho",
                                   "deleted": True,
                                   "updated_at": utc_text(gone.get("deleted_time"))}
            cursor.save()

    def _fields(self, module: str) -> str:
        base = [f for f in BASE_FIELDS if module == "Contacts" or f not in CONTACT_ONLY]
        return ",".join(dict.fromkeys([*base, *self.extra]))

    def _module(self, http: HttpClient, module: str, since: datetime | None) -> Iterator[dict]:
        """Windows of ascending Modified_Time, each restarted before the page-token cap."""
        per_page = self.config["per_page"]
        limit = self.config["page_token_limit"]
        params = {"fields": self._fields(module), "per_page": per_page,
                  "sort_by": "Modified_Time", "sort_order": "asc"}
        where = f"zoho: /crm/v8/{module}"
        while True:
            headers = {"If-Modified-Since": _ims(since)} if since else {}
            read, last = 0, since
            token: str | None = None
            seen: set[str] = set()  # a page token that comes twice would page forever
            while True:
                query = {**params, **({"page_token": token} if token else {})}
                resp = http.request("GET", f"/crm/v8/{module}", params=query, headers=headers)
                if resp.status_code in (204, 304):
                    return
                page = http.parse(resp, expect=dict)
                rows = items(page, "data", where=where)
                for row in rows:
                    last = parse_ts(row.get("Modified_Time")) or last
                    yield row
                read += len(rows)
                if not dig(page, "info", "more_records", where=where):
                    return
                token = dig(page, "info", "next_page_token", where=where)
                if not token:
                    raise SourceError(f"zoho: {module} has more records but Zoho gave no "
                                      "next_page_token; cannot page further")
                token = once(seen, token, f"{where}: the same next_page_token came twice; "
                                          "stopping instead of looping forever")
                if read + per_page > limit:
                    break  # the next page would pass the page-token cap: new window
            if last is None or (since is not None and last <= since):
                raise SourceError(
                    f"zoho: more than {limit} {module} records share Modified_Time "
                    f"{iso(since)}; run a full sync (--option incremental=false) or use COQL")
            since = last  # inclusive: records sharing `last` come again, dropped by id

    def _deleted(self, http: HttpClient, module: str, since: datetime) -> Iterator[dict]:
        headers = {"If-Modified-Since": _ims(since)}
        where = f"zoho: /crm/v8/{module}/deleted"
        page, listed = 1, set()  # a page of only ids listed before: Zoho repeats itself
        while True:
            resp = http.request("GET", f"/crm/v8/{module}/deleted", headers=headers,
                                params={"type": "all", "page": page, "per_page": 200})
            if resp.status_code in (204, 304):
                return
            body = http.parse(resp, expect=dict)
            rows = items(body, "data", where=where)
            new = {str(r.get("id")) for r in rows} - listed
            listed |= new
            yield from rows
            if not dig(body, "info", "more_records", where=where):
                return
            if page > 1 and not new:  # empty, or a page seen before, yet "more": endless
                raise SourceError(f"{where}: page {page} holds no record not listed before "
                                  "yet says more_records; stopping instead of looping forever")
            page += 1

    def _record(self, module: str, r: dict[str, Any]) -> dict[str, Any]:
        emails = unique([r.get("Email"), r.get("Secondary_Email")])
        phones = unique(r.get(f) for f in PHONE_FIELDS)
        email, more_emails = split_primary(emails)
        phone, more_phones = split_primary(phones)
        owner = r.get("Owner") if isinstance(r.get("Owner"), dict) else {}
        tags = [t.get("name") for t in r.get("Tag") or [] if isinstance(t, dict)]
        custom = {f: r.get(f) for f in self.extra}
        custom.update(module=module, lead_source=r.get("Lead_Source"), tags=tags,
                      company=r.get("Company"))
        return {
            "source_id": str(r["id"]),
            "contact_name": full_name(r.get("First_Name"), r.get("Last_Name"), r.get("Full_Name")),
            "first_name": r.get("First_Name"),
            "last_name": r.get("Last_Name"),
            "contact_email": email,
            "contact_phone": phone,
            "emails": more_emails,
            "phones": more_phones,
            "source_platform": "zoho",
            "stage": r.get("Lead_Status") or None,
            "owner": owner.get("email") or owner.get("name") or None,
            "custom_fields": compact(custom),
            "created_at": utc_text(r.get("Created_Time")),
            "updated_at": utc_text(r.get("Modified_Time")),
        }


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register(ZohoConnector)
