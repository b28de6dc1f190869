"""The Pipedrive connector: persons through API v2.

Why this shape: v1 persons endpoints are out of support since 2026-08; v2 lists persons with a
cursor, ``sort_by=update_time`` and an inclusive ``updated_since``, which gives a clean
incremental read (boundary ids deduplicated, the ids at the cursor saved so they are not sent
again). Custom fields come keyed by 40-character hashes: names and enum labels are read once
from ``personFields``; owners become user emails. The API token goes in the ``x-api-token``
header, never the query string.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx

from ..connector import Connector, Option
from ..errors import OptionsError, SourceDataError, SourceError
from ..plugins import hookimpl
from ._http import HttpClient, base_url_option, convert, dig, items, once, record_id
from ._people import RunCursor, compact, full_name, iso, primary_first, split_primary, utc_text

CURSOR = "pipedrive_update_time"
PERSONS = "pipedrive: /api/v2/persons"


class PipedriveConnector(Connector):
    name = "pipedrive"
    source_platform = None  # not a MEGA source_platform value
    description = "Pipedrive persons (API v2, API token), full and incremental."
    options = (
        Option("token", "secret", required=True, env="PIPEDRIVE_TOKEN",
               help="Personal API token (Settings > Personal preferences > API)"),
        base_url_option("PIPEDRIVE", "https://api.pipedrive.com"),
        Option("lead_line_field", "str", default="",
               help="Name of a person field whose value says Buyer or Seller"),
        Option("incremental", "bool", default=True,
               help="Use the saved update_time cursor when there is one"),
        Option("lookback_seconds", "int", default=300,
               help="Re-read this far back before the cursor"),
        Option("page_size", "int", default=500, help="Persons per page (max 500)"),
    )

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        if not 1 <= self.config["page_size"] <= 500:
            raise OptionsError("pipedrive", ["page_size must be between 1 and 500"])

    def _headers(self) -> dict[str, str]:
        return {"x-api-token": self.config["token"].reveal(), "Accept": "application/json"}

    @staticmethod
    def _rate(resp: httpx.Response) -> None:
        """When the 2-second burst window is spent, wait for its reset before asking again."""
        h = resp.headers
        remaining = h.get("x-ratelimit-remaining")
        if resp.status_code < 400 and remaining is not None and remaining.isdigit() \
                and int(remaining) == 0:
            try:
                time.sleep(min(max(float(h.get("x-ratelimit-reset", "2")), 0.0), 60.0))
            except ValueError:
                time.sleep(2.0)

    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        c = self.config
        with HttpClient(c["base_url"], name="Pipedrive", auth=self._headers,
                        reset_header="x-ratelimit-reset", on_response=self._rate) as http:
            users = {str(u.get("id")): u.get("email") or u.get("name") or ""
                     for u in items(http.get_object("/v1/users"), "data",
                                    where="pipedrive: /v1/users")}
            fields = self._fields(http)
            cursor = RunCursor(state, CURSOR, incremental=c["incremental"],
                               lookback_seconds=c["lookback_seconds"])
            params: dict[str, Any] = {"limit": c["page_size"], "sort_by": "update_time",
                                      "sort_direction": "asc"}
            if cursor.since is not None:
                params["updated_since"] = iso(cursor.since).replace(".000Z", "Z")
            for person in self._paged(http, params):
                pid = record_id(person, "id", PERSONS)
                if cursor.take(pid, person.get("update_time")):
                    yield convert(lambda: self._record(person, users, fields), pid, PERSONS)
            cursor.save()

    @staticmethod
    def _paged(http: HttpClient, params: dict[str, Any]) -> Iterator[dict]:
        query, seen = dict(params), set()
        while True:
            page = http.get_object("/api/v2/persons", params=query)
            yield from items(page, "data", where=PERSONS)
            nxt = dig(page, "additional_data", "next_cursor", where=PERSONS)
            if not nxt:
                return
            nxt = once(seen, nxt, "pipedrive: /api/v2/persons returned the same next_cursor "
                                  "twice; stopping instead of looping forever")
            query = {**params, "cursor": nxt}

    def _fields(self, http: HttpClient) -> dict[str, dict[str, Any]]:
        """hash key -> {name, options: {id: label}} for custom person fields."""
        out: dict[str, dict[str, Any]] = {}
        start, where = 0, "pipedrive: /v1/personFields"
        while True:
            page = http.get_object("/v1/personFields", params={"start": start, "limit": 500})
            known = len(out)
            for f in items(page, "data", where=where):
                opts = {str(o.get("id")): o.get("label") for o in items(f, "options", where=where)}
                out[str(f.get("key"))] = {"name": f.get("name") or f.get("key"), "options": opts}
            if not dig(page, "additional_data", "pagination", "more_items_in_collection",
                       where=where):
                break
            if start and len(out) == known:  # no new field, yet "more": the pages repeat
                raise SourceError(f"{where}: the page at start {start} holds no field not read "
                                  "before yet says more_items_in_collection; stopping instead "
                                  "of looping forever")
            nxt = dig(page, "additional_data", "pagination", "next_start", where=where)
            try:
                nxt = int(nxt or start + 500)
            except (TypeError, ValueError):
                raise SourceDataError(f"{where}: next_start {nxt!r} is not a number") from None
            if nxt <= start:  # an offset that does not move on would page forever
                raise SourceError(f"{where}: next_start {nxt} does not move past {start}; "
                                  "stopping instead of looping forever")
            start = nxt
        wanted = self.config["lead_line_field"]
        if wanted and wanted not in {f["name"] for f in out.values()}:
            raise OptionsError("pipedrive", [f"lead_line_field {wanted!r} is not a person field "
                                             "(see Settings > Data fields)"])
        return out

    def _record(self, p: dict[str, Any], users: dict[str, str],
                fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
        email, more_emails = split_primary(primary_first(p.get("emails"), "value", "primary"))
        phone, more_phones = split_primary(primary_first(p.get("phones"), "value", "primary"))
        custom: dict[str, Any] = {}
        for key, value in (p.get("custom_fields") or {}).items():
            meta = fields.get(key) or {"name": key, "options": {}}
            if isinstance(value, list):
                value = [meta["options"].get(str(v), v) for v in value]
            elif meta["options"] and value is not None:
                value = meta["options"].get(str(value), value)
            custom[meta["name"]] = value
        lead_line = None
        wanted = self.config["lead_line_field"]
        if wanted and isinstance(custom.get(wanted), str):
            text = custom[wanted].lower()
            lead_line = "seller" if "seller" in text else "buyer" if "buyer" in text else None
        custom["label_ids"] = p.get("label_ids") or None
        custom["org_id"] = p.get("org_id")
        owner = p.get("owner_id")
        if isinstance(owner, dict):  # v1-style embedded owner
            owner = owner.get("id")
        record = {
            "source_id": str(p["id"]),
            "contact_name": full_name(p.get("first_name"), p.get("last_name"), p.get("name")),
            "first_name": p.get("first_name"),
            "last_name": p.get("last_name"),
            "contact_email": email,
            "contact_phone": phone,
            "emails": more_emails,
            "phones": more_phones,
            "owner": (users.get(str(owner)) or str(owner)) if owner else None,
            "lead_line": lead_line,
            "custom_fields": compact(custom),
            "created_at": utc_text(p.get("add_time")),
            "updated_at": utc_text(p.get("update_time")),
        }
        if p.get("is_deleted") is True:
            record["deleted"] = True
        return record


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register(PipedriveConnector)
