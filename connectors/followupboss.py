"""The Follow Up Boss connector: people through API v1.

Why this shape: FUB lists people newest first and refuses deep offsets ("Deep pagination
disabled, use 'nextLink' url"), so every page after the first follows the ``_metadata.next``
cursor — id order is stable while people are edited during the run. The incremental filter
(``updatedAfter``, not documented by FUB) is sent and also applied client side, so the result
is right whether or not the server honours it. People in the Trash stage are read
(``includeTrash``) and reported deleted. ``Seller``/``Buyer`` tags (else the person type, else
FUB's own rule: buyer) give ``lead_line``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx

from ..connector import Connector, Option
from ..errors import SourceError
from ..plugins import hookimpl
from ._http import HttpClient, base_url_option, convert, dig, items, once, record_id
from ._people import (RunCursor, compact, full_name, iso, parse_ts, primary_first, split_primary,
                      utc_text)

CURSOR = "followupboss_updated"
PEOPLE = "followupboss: /v1/people"
FIELDS = ("id", "created", "updated", "name", "firstName", "lastName", "stage", "source",
          "tags", "emails", "phones", "assignedUserId", "assignedTo", "type", "price")


class FollowUpBossConnector(Connector):
    name = "followupboss"
    source_platform = None  # not a MEGA source_platform value
    description = "Follow Up Boss people (API key), full and incremental, Trash as deleted."
    options = (
        Option("api_key", "secret", required=True, env="FUB_API_KEY",
               help="API key of an owner/broker user (agents' keys see only their people)"),
        Option("system", "str", default="leadbridge", env="FUB_SYSTEM",
               help="X-System: your registered system name"),
        Option("system_key", "secret", env="FUB_SYSTEM_KEY",
               help="X-System-Key: your registered system key (doubles the rate limit)"),
        base_url_option("FUB", "https://api.followupboss.com"),
        Option("custom_fields", "str", default="",
               help="Comma-separated custom field names (customXxx) to request"),
        Option("default_lead_line", "choice", default="buyer", choices=("buyer", "seller", "none"),
               help="lead_line when neither a Seller/Buyer tag nor the type says it"),
        Option("include_trash", "bool", default=True,
               help="Read people in the Trash stage and report them deleted"),
        Option("incremental", "bool", default=True,
               help="Use the saved 'updated' cursor when there is one"),
        Option("lookback_seconds", "int", default=300,
               help="Re-read this far back before the cursor"),
        Option("page_size", "int", default=100, help="People per page (FUB's max is 100)"),
    )

    def _headers(self) -> dict[str, str]:
        c = self.config
        basic = base64.b64encode(f"{c['api_key'].reveal()}:".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "X-System": c["system"]}
        if c.get("system_key"):
            headers["X-System-Key"] = c["system_key"].reveal()
        return headers

    @staticmethod
    def _rate(resp: httpx.Response) -> None:
        """Wait out a spent window (sliding, per context) before FUB has to refuse."""
        h = resp.headers
        remaining = h.get("X-RateLimit-Remaining")
        if resp.status_code < 400 and remaining is not None and remaining.isdigit() \
                and int(remaining) == 0:
            window = h.get("X-RateLimit-Window", "10")
            time.sleep(float(window) if window.replace(".", "", 1).isdigit() else 10.0)

    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        c = self.config
        with HttpClient(c["base_url"], name="Follow Up Boss", auth=self._headers,
                        on_response=self._rate) as http:
            try:
                users = {str(u.get("id")): u.get("email") or u.get("name") or ""
                         for u in self._paged(http, "/v1/users", {"limit": 100}, "users")}
                cursor = RunCursor(state, CURSOR, incremental=c["incremental"],
                                   lookback_seconds=c["lookback_seconds"])
                params: dict[str, Any] = {"limit": min(c["page_size"], 100),
                                          "fields": ",".join(self._fields())}
                if c["include_trash"]:
                    params["includeTrash"] = "true"
                if cursor.since is not None:
                    params["updatedAfter"] = iso(cursor.since)
                for person in self._paged(http, "/v1/people", params, "people"):
                    pid = record_id(person, "id", PEOPLE)
                    updated = parse_ts(person.get("updated"))
                    if cursor.since is not None and updated is not None \
                            and updated < cursor.since:
                        continue
                    if cursor.take(pid, updated):
                        yield convert(lambda: self._record(person, users), pid, PEOPLE)
            except SourceError as exc:
                if "HTTP 403" in str(exc):
                    raise SourceError(f"{exc} Follow Up Boss answers 403 when the account is "
                                      "expired or the key's user may not list people; use an "
                                      "owner/broker API key.") from None
                raise
            cursor.save()

    def _fields(self) -> list[str]:
        extra = [f.strip() for f in self.config["custom_fields"].split(",") if f.strip()]
        return list(dict.fromkeys([*FIELDS, *extra]))

    @staticmethod
    def _paged(http: HttpClient, path: str, params: dict[str, Any], key: str) -> Iterator[dict]:
        """First page by parameters, then the ``next`` cursor (never a deep offset)."""
        query = dict(params)
        seen: set[str] = set()
        while True:
            page = http.get_object(path, params=query)
            yield from items(page, key, where=f"followupboss: {path}")
            nxt = dig(page, "_metadata", "next", where=f"followupboss: {path}")
            if not nxt:
                return
            nxt = once(seen, nxt, f"followupboss: {path} returned the same next cursor twice; "
                                  "stopping instead of looping forever")
            query = {**params, "next": nxt}

    def _lead_line(self, tags: list[str], kind: Any) -> str | None:
        lowered = {t.strip().lower() for t in tags}
        if "seller" in lowered:
            return "seller"
        if "buyer" in lowered:
            return "buyer"
        kind = str(kind or "").lower()
        for line in ("seller", "buyer"):
            if line in kind:
                return line
        default = self.config["default_lead_line"]
        return None if default == "none" else default

    def _record(self, p: dict[str, Any], users: dict[str, str]) -> dict[str, Any]:
        email, more_emails = split_primary(primary_first(p.get("emails"), "value", "isPrimary"))
        phone, more_phones = split_primary(primary_first(p.get("phones"), "value", "isPrimary"))
        tags = [str(t) for t in p.get("tags") or []]
        custom = {k: v for k, v in p.items() if k.startswith("custom")}
        custom.update(source=p.get("source"), tags=tags, type=p.get("type"),
                      price=p.get("price") or None)
        owner_id = p.get("assignedUserId")
        owner = users.get(str(owner_id)) if owner_id not in (None, 0, "") else None
        record = {
            "source_id": str(p["id"]),
            "contact_name": full_name(p.get("firstName"), p.get("lastName"), p.get("name")),
            "first_name": p.get("firstName"),
            "last_name": p.get("lastName"),
            "contact_email": email,
            "contact_phone": phone,
            "emails": more_emails,
            "phones": more_phones,
            "stage": p.get("stage") or None,
            "owner": owner or p.get("assignedTo") or None,
            "lead_line": self._lead_line(tags, p.get("type")),
            "custom_fields": compact(custom),
            "created_at": utc_text(p.get("created")),
            "updated_at": utc_text(p.get("updated")),
        }
        if p.get("stage") == "Trash":
            record["deleted"] = True
        return record


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register(FollowUpBossConnector)
