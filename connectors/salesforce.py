"""The Salesforce connector: Lead and/or Contact records over the REST API (SOQL).

Why this shape: one ``queryAll`` per object ordered by ``SystemModstamp, Id`` with a
``(SystemModstamp, Id)`` cursor, so equal timestamps never lose a record and deletions (the
recycle bin's ``IsDeleted``) are noticed in the same pass. Every call goes to the
``instance_url`` the token response names; an expired session is re-authenticated once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from ..connector import Connector, Option
from ..errors import OptionsError, SourceError
from ..plugins import hookimpl
from ._http import HttpClient

API = "v60.0"
BASE_FIELDS = {
    "Lead": ("Id", "FirstName", "LastName", "Name", "Email", "Phone", "MobilePhone", "Status",
             "OwnerId", "Owner.Email", "Company", "LeadSource", "IsConverted", "IsDeleted",
             "CreatedDate", "SystemModstamp"),
    "Contact": ("Id", "FirstName", "LastName", "Name", "Email", "Phone", "MobilePhone",
                "OwnerId", "Owner.Email", "LeadSource", "IsDeleted", "CreatedDate",
                "SystemModstamp"),
}
CURSOR = "salesforce_cursor"
_LIMIT = re.compile(r"api-usage=(\d+)/(\d+)")


def _soql_dt(value: str) -> str:
    """Salesforce's ``2026-02-01T10:00:00.000+0000`` -> a SOQL literal ``...Z``."""
    return value[:19] + "Z"


class SalesforceConnector(Connector):
    name = "salesforce"
    source_platform = "salesforce"
    description = "Salesforce Leads and/or Contacts (OAuth client credentials or refresh token)."
    options = (
        Option("login_url", "str", default="https://login.salesforce.com",
               env="SALESFORCE_LOGIN_URL",
               help="Token host (My Domain for client credentials; env SALESFORCE_LOGIN_URL)"),
        Option("base_url", "str", env="SALESFORCE_BASE_URL",
               help="Alias of login_url (the option every HTTP connector shares)"),
        Option("client_id", "str", env="SALESFORCE_CLIENT_ID", help="Connected app key"),
        Option("client_secret", "secret", env="SALESFORCE_CLIENT_SECRET",
               help="Connected app secret"),
        Option("refresh_token", "secret", env="SALESFORCE_REFRESH_TOKEN",
               help="Use the refresh-token flow instead of client credentials"),
        Option("auth", "choice", default="client_credentials",
               choices=("client_credentials", "refresh_token", "jwt"),
               help="OAuth flow (jwt is not available: see docs)"),
        Option("objects", "str", default="Lead", help="Lead, Contact or Lead,Contact"),
        Option("include_converted", "bool", default=False,
               help="Also read converted Leads (they exist as Contacts too)"),
        Option("custom_fields", "str", default="",
               help="Comma list of __c fields into custom_fields; '*' = every custom field"),
        Option("stop_at_usage", "float", default=0.9,
               help="Stop cleanly when this share of the daily API allocation is used"),
    )

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        c = self.config
        problems = []
        if c["auth"] == "jwt":
            problems.append("auth=jwt needs RS256 signing, and no crypto library is available "
                            "to leadbridge; use client_credentials or refresh_token")
        if not c.get("client_id") or not c.get("client_secret"):
            problems.append("set client_id and client_secret (SALESFORCE_CLIENT_ID, "
                            "SALESFORCE_CLIENT_SECRET)")
        if c["auth"] == "refresh_token" and not c.get("refresh_token"):
            problems.append("auth=refresh_token needs SALESFORCE_REFRESH_TOKEN")
        objs = [o.strip() for o in c["objects"].split(",") if o.strip()]
        if not objs or any(o not in BASE_FIELDS for o in objs):
            problems.append(f"objects must be Lead, Contact or both, not {c['objects']!r}")
        if problems:
            raise OptionsError("salesforce", problems)
        self._objects = objs
        self._access: str | None = None
        self._instance: str | None = None
        self._http: HttpClient | None = None

    # -- auth ----------------------------------------------------------------------------
    def _login(self) -> None:
        c = self.config
        assert self._http is not None
        form = {"client_id": c["client_id"], "client_secret": c["client_secret"].reveal()}
        if c["auth"] == "refresh_token":
            form.update(grant_type="refresh_token", refresh_token=c["refresh_token"].reveal())
        else:
            form["grant_type"] = "client_credentials"
        resp = self._http.request("POST", "/services/oauth2/token", data=form, auth=False)
        body = resp.json()
        self._access, self._instance = body["access_token"], body["instance_url"].rstrip("/")

    def _headers(self) -> dict[str, str]:
        if self._access is None:
            self._login()
        return {"Authorization": f"Bearer {self._access}"}

    def _check(self, resp: httpx.Response) -> None:
        if resp.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in resp.text:
            raise SourceError("salesforce: the org's API request limit is exceeded "
                              "(REQUEST_LIMIT_EXCEEDED); nothing more was read. Run again "
                              "once the rolling 24-hour allocation frees up.")
        m = _LIMIT.search(resp.headers.get("Sforce-Limit-Info", ""))
        if m and int(m.group(2)) and int(m.group(1)) / int(m.group(2)) >= self.config["stop_at_usage"]:
            raise SourceError(f"salesforce: API usage is {m.group(1)}/{m.group(2)}, at or above "
                              f"stop_at_usage={self.config['stop_at_usage']}; stopped cleanly. "
                              "Run again later or raise --option stop_at_usage.")

    # -- reading -------------------------------------------------------------------------
    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        login = self.config.get("base_url") or self.config["login_url"]
        with HttpClient(login, name="Salesforce", auth=self._headers, refresh=self._login,
                        on_response=self._check) as http:
            self._http = http
            cursors = dict(state.get(CURSOR) or {})
            for obj in self._objects:
                for rec, cur in self._read(http, obj, cursors.get(obj)):
                    cursors[obj] = cur
                    state[CURSOR] = dict(cursors)
                    if rec is not None:
                        yield rec

    def _api(self, path: str) -> str:
        if self._instance is None:
            self._login()
        return f"{self._instance}{path}"

    def _fields(self, http: HttpClient, obj: str) -> tuple[list[str], list[str]]:
        wanted = [f.strip() for f in self.config["custom_fields"].split(",") if f.strip()]
        if not wanted:
            return list(BASE_FIELDS[obj]), []
        desc = http.get_json(self._api(f"/services/data/{API}/sobjects/{obj}/describe"))
        custom = [f["name"] for f in desc["fields"] if f.get("custom")]
        if wanted == ["*"]:
            wanted = custom
        missing = [w for w in wanted if w not in custom]
        if missing:
            raise OptionsError("salesforce", [f"custom_fields not on {obj}: {', '.join(missing)}"])
        return [*BASE_FIELDS[obj], *wanted], wanted

    def _read(self, http: HttpClient, obj: str, cursor: dict | None) -> Iterator[tuple]:
        fields, custom = self._fields(http, obj)
        where = ""
        if cursor:
            ts = _soql_dt(cursor["ts"])
            where = (f" WHERE SystemModstamp > {ts} OR "
                     f"(SystemModstamp = {ts} AND Id > '{cursor['id']}')")
        soql = f"SELECT {', '.join(fields)} FROM {obj}{where} ORDER BY SystemModstamp, Id"
        url = self._api(f"/services/data/{API}/queryAll?q={quote(soql)}")
        while True:
            page = http.get_json(url)
            for row in page.get("records", []):
                cur = {"ts": row["SystemModstamp"], "id": row["Id"]}
                yield self._record(obj, row, custom), cur
            nxt = page.get("nextRecordsUrl")
            if page.get("done", True) or not nxt:
                return
            url = self._api(nxt)

    def _record(self, obj: str, row: dict, custom: list[str]) -> dict[str, Any] | None:
        if row.get("IsDeleted"):
            return {"source_id": row["Id"], "source_platform": "salesforce", "deleted": True}
        if obj == "Lead" and row.get("IsConverted") and not self.config["include_converted"]:
            return None
        phones = [p for p in (row.get("Phone"), row.get("MobilePhone")) if p]
        fields = {k: row[k] for k in custom if row.get(k) not in (None, "")}
        fields["salesforce_object"] = obj
        for k in ("Company", "LeadSource"):
            if row.get(k):
                fields[k] = row[k]
        return {
            "source_id": row["Id"],
            "contact_name": row.get("Name"),
            "first_name": row.get("FirstName"),
            "last_name": row.get("LastName"),
            "contact_email": row.get("Email"),
            "contact_phone": phones[0] if phones else None,
            "phones": phones[1:] or None,
            "source_platform": "salesforce",
            "stage": row.get("Status"),
            "owner": (row.get("Owner") or {}).get("Email"),
            "custom_fields": fields or None,
            "created_at": row.get("CreatedDate"),
            "updated_at": row.get("SystemModstamp"),
        }


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register(SalesforceConnector)
