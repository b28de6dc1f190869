"""The GoHighLevel connector: one location's contacts through API 2.0 ``/contacts/search``.

Why this shape: search is the current listing API; ``page`` paging stops at 10,000 records,
so every page after the first is asked for with the previous last contact's ``searchAfter``
keyset (``[dateUpdated ms, id]``), sorted by ``dateUpdated`` ascending — no cap, no gap, no
repeat even when thousands share a timestamp. Incremental runs add a ``dateUpdated`` range
filter from the saved cursor (minus a lookback). Custom-field ids become names, ``assignedTo``
user ids become emails. GHL has no deleted-contacts listing (deletes come only by webhook).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx

from ..connector import Connector, Option
from ..errors import OptionsError, SourceError
from ..plugins import hookimpl
from ._http import HttpClient, base_url_option, convert, items, once, record_id
from ._people import RunCursor, compact, full_name, iso, split_primary, unique, utc_text

CURSOR = "ghl_date_updated"
SEARCH = "ghl: /contacts/search"
ATTRIBUTION = ("utmSource", "utmMedium", "utmCampaign", "campaign", "gclid", "fbclid",
               "sessionSource", "medium", "url")


class GHLConnector(Connector):
    name = "ghl"
    source_platform = "ghl"
    description = "GoHighLevel (LeadConnector) contacts of one location, full and incremental."
    options = (
        Option("token", "secret", required=True, env="GHL_TOKEN",
               help="Private Integration Token (or a location OAuth access token)"),
        Option("location_id", "str", required=True, env="GHL_LOCATION_ID",
               help="The sub-account (location) whose contacts are read"),
        Option("version", "str", default="2021-07-28", env="GHL_VERSION",
               help="Value of the Version header"),
        base_url_option("GHL", "https://services.leadconnectorhq.com"),
        Option("page_limit", "int", default=500, help="Contacts per search page (max 500)"),
        Option("incremental", "bool", default=True,
               help="Use the saved dateUpdated cursor when there is one"),
        Option("lookback_seconds", "int", default=300,
               help="Re-read this far back before the cursor (search index lag)"),
        Option("resolve_owners", "bool", default=True,
               help="Turn assignedTo user ids into emails (GET /users/, scope users.readonly)"),
    )

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        if not 1 <= self.config["page_limit"] <= 500:
            raise OptionsError("ghl", ["page_limit must be between 1 and 500"])

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config['token'].reveal()}",
                "Version": self.config["version"], "Accept": "application/json"}

    @staticmethod
    def _rate(resp: httpx.Response) -> None:
        """Wait out a spent burst window before GHL refuses; stop on a spent daily budget."""
        h = resp.headers
        daily = h.get("X-RateLimit-Daily-Remaining")
        if resp.status_code < 400 and daily is not None and daily.isdigit() and int(daily) == 0:
            raise SourceError("ghl: the location's daily API limit is used up; "
                              "run again tomorrow")
        remaining = h.get("X-RateLimit-Remaining")
        if remaining is not None and remaining.isdigit() and int(remaining) == 0:
            window = h.get("X-RateLimit-Interval-Milliseconds", "10000")
            time.sleep(int(window) / 1000 if window.isdigit() else 10.0)

    # -- reading -------------------------------------------------------------------------
    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        c = self.config
        with HttpClient(c["base_url"], name="GoHighLevel", auth=self._headers,
                        on_response=self._rate) as http:
            try:
                fields = self._lookup(http, f"/locations/{c['location_id']}/customFields",
                                      {"model": "contact"}, "customFields", "name")
                users = (self._lookup(http, "/users/", {"locationId": c["location_id"]},
                                      "users", "email") if c["resolve_owners"] else {})
            except SourceError as exc:
                raise SourceError(f"{exc} (location {c['location_id']}; check GHL_TOKEN is "
                                  "valid for it and GHL_LOCATION_ID)") from None
            cursor = RunCursor(state, CURSOR, incremental=c["incremental"],
                               lookback_seconds=c["lookback_seconds"])
            for contact in self._search(http, iso(cursor.since) if cursor.since else None):
                cid = record_id(contact, "id", SEARCH)
                if cursor.take(cid, contact.get("dateUpdated")):
                    yield convert(lambda: self._record(contact, fields, users), cid, SEARCH)
            cursor.save()

    @staticmethod
    def _lookup(http: HttpClient, path: str, params: dict, key: str, value: str
                ) -> dict[str, str]:
        rows = items(http.get_object(path, params=params), key, where=f"ghl: {path}")
        return {str(r["id"]): r.get(value) or r.get("name") or "" for r in rows if "id" in r}

    def _search(self, http: HttpClient, since: str | None) -> Iterator[dict]:
        c = self.config
        body: dict[str, Any] = {"locationId": c["location_id"], "pageLimit": c["page_limit"],
                                "sort": [{"field": "dateUpdated", "direction": "asc"}]}
        if since:
            body["filters"] = [{"field": "dateUpdated", "operator": "range",
                                "value": {"gte": since}}]
        seen: set[str] = set()  # keysets only grow: one seen before means a loop
        while True:
            page = http.post_object("/contacts/search", body)
            contacts = items(page, "contacts", where=SEARCH)
            yield from contacts
            after = (contacts[-1].get("searchAfter") if contacts else None) \
                or page.get("searchAfter")
            if len(contacts) < c["page_limit"] or not after:
                return
            once(seen, repr(after), "ghl: /contacts/search returned the same searchAfter "
                                    "twice; stopping instead of looping forever")
            body = {**body, "searchAfter": after}
            body.pop("page", None)

    @staticmethod
    def _record(r: dict[str, Any], fields: dict[str, str], users: dict[str, str]
                ) -> dict[str, Any]:
        extra_emails = [e.get("email") if isinstance(e, dict) else e
                        for e in r.get("additionalEmails") or []]
        extra_phones = [p.get("phone") if isinstance(p, dict) else p
                        for p in r.get("additionalPhones") or []]
        email, more_emails = split_primary(unique([r.get("email"), *extra_emails]))
        phone, more_phones = split_primary(unique([r.get("phone"), *extra_phones]))
        custom: dict[str, Any] = {}
        for cf in r.get("customFields") or []:
            if isinstance(cf, dict) and cf.get("id"):
                custom[fields.get(str(cf["id"])) or str(cf["id"])] = cf.get("value")
        attribution = r.get("attributionSource") or {}
        custom.update({f"attribution_{k}": attribution.get(k) for k in ATTRIBUTION})
        custom.update(tags=r.get("tags") or [], source=r.get("source"),
                      company=r.get("companyName"), dnd=r.get("dnd") or None)
        owner = r.get("assignedTo")
        return {
            "source_id": str(r["id"]),
            "contact_name": full_name(r.get("firstName"), r.get("lastName"),
                                      r.get("name") or None),
            "first_name": r.get("firstName"),
            "last_name": r.get("lastName"),
            "contact_email": email,
            "contact_phone": phone,
            "emails": more_emails,
            "phones": more_phones,
            "source_platform": "ghl",
            "stage": r.get("type") or None,
            "owner": (users.get(str(owner)) or str(owner)) if owner else None,
            "custom_fields": compact(custom),
            "created_at": utc_text(r.get("dateAdded")),
            "updated_at": utc_text(r.get("dateUpdated")),
        }


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register(GHLConnector)
