"""The HubSpot connector: contacts from the CRM v3 objects API.

Why this shape: a full sync pages the list endpoint (no 10,000 cap); an incremental sync
searches ``lastmodifieddate`` between the cursor (minus a lookback) and the run start, sorted by
contact id, and restarts after the last id before the 10,000-result cap — so no number of equal
timestamps can stall or lose a contact (the bug behind Airbyte #43317). The cursor saved is ``min(run start, newest
seen)`` so a contact edited while a long run reads is re-read next time. Long property lists
are split across several list requests (URL length) and merged by id. Owners become owner
emails; archived contacts and contacts merged away are reported ``deleted``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from ..connector import Connector, Option
from ..errors import OptionsError, SourceDataError, SourceError
from ..plugins import hookimpl
from ._http import HttpClient, base_url_option, convert, dig, items, once, record_id
from ._recent import CAP, RecentVersions

BASE_PROPERTIES = (
    "email", "firstname", "lastname", "phone", "mobilephone", "hs_additional_emails",
    "lifecyclestage", "hs_lead_status", "hubspot_owner_id", "createdate", "lastmodifieddate",
    "company", "hs_merged_object_ids",
)
SEARCH_CAP = 10_000
#: Airbyte splits list-endpoint property lists at ~15,000 URL characters (reference 1.3).
PROPERTIES_CHARS = 15_000
PAGE = 100
CURSOR = "hubspot_lastmodified_ms"
#: {contact id: lastmodifieddate ms} sent within the lookback before the cursor
RECENT = "hubspot_recent"
CONTACTS = "hubspot: /crm/v3/objects/contacts"
SEARCH = "hubspot: /crm/v3/objects/contacts/search"
#: the newest archivedAt (ms) reported, and the ids archived at exactly that moment
ARCHIVED = "hubspot_archived_ms"


def property_chunks(props: list[str], max_chars: int) -> list[list[str]]:
    """Split ``props`` so each comma-joined, URL-encoded list stays under ``max_chars``."""
    chunks: list[list[str]] = [[]]
    size = 0
    for prop in props:
        cost = len(quote(prop, safe="")) + 3  # the name and its encoded comma
        if chunks[-1] and size + cost > max_chars:
            chunks.append([])
            size = 0
        chunks[-1].append(prop)
        size += cost
    return chunks



def _ms(value: Any) -> int | None:
    """Epoch ms of a HubSpot timestamp (ms digits or ISO text); None when it is empty or
    unreadable: the contact is still read, it only moves no cursor."""
    if not value or not isinstance(value, str):
        return None
    try:
        if value.isdigit():
            return int(value)
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except (ValueError, OverflowError):
        return None


def _once(seen: set[str], after: Any, where: str) -> str:
    """The next page's ``after`` (``_http.once``), in HubSpot's words."""
    return once(seen, after, f"{where}: paging.next.after {str(after)!r} came twice; "
                             "stopping instead of looping forever")


def _number(value: Any, what: str) -> int:
    """A search keyset value as an int (HubSpot ids and offsets are digits)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SourceDataError(f"{SEARCH}: {what} {value!r} is not a number") from None


class HubSpotConnector(Connector):
    name = "hubspot"
    source_platform = "hubspot"
    description = "HubSpot CRM contacts (private-app token or OAuth), full and incremental."
    options = (
        Option("token", "secret", env="HUBSPOT_TOKEN",
               help="Private-app token or OAuth access token (env HUBSPOT_TOKEN)"),
        Option("refresh_token", "secret", env="HUBSPOT_REFRESH_TOKEN",
               help="OAuth refresh token: the access token is renewed automatically"),
        Option("client_id", "str", env="HUBSPOT_CLIENT_ID", help="OAuth app client id"),
        Option("client_secret", "secret", env="HUBSPOT_CLIENT_SECRET",
               help="OAuth app client secret"),
        base_url_option("HUBSPOT", "https://api.hubapi.com"),
        Option("custom_properties", "str", default="",
               help="Comma-separated extra contact properties into custom_fields; '*' = all "
                    "custom (non-HubSpot-defined) properties"),
        Option("incremental", "bool", default=True,
               help="Use the saved cursor (search on lastmodifieddate) when there is one"),
        Option("lookback_seconds", "int", default=300,
               help="Re-read this far back before the cursor (late index updates)"),
        Option("search_per_second", "float", default=4.0,
               help="Client-side pace of search requests (HubSpot allows 5/s)"),
        Option("search_cap", "int", default=SEARCH_CAP,
               help="HubSpot's search result cap (10,000); lower only for tests"),
        Option("include_archived", "bool", default=True,
               help="Report archived contacts as deleted records"),
        Option("stage_property", "choice", default="lifecyclestage",
               choices=("lifecyclestage", "hs_lead_status"),
               help="Which property becomes `stage` for the stage mapping; the other goes "
                    "into custom_fields"),
        Option("properties_chars", "int", default=PROPERTIES_CHARS,
               help="Split list-request property names into chunks of at most this many URL "
                    "characters (HubSpot refuses over-long URLs with 414)"),
    )

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        c = self.config
        if not c.get("token") and not c.get("refresh_token"):
            raise OptionsError("hubspot", ["no credentials: set HUBSPOT_TOKEN (private-app "
                               "token) or HUBSPOT_REFRESH_TOKEN with client_id/client_secret"])
        if c.get("refresh_token") and not (c.get("client_id") and c.get("client_secret")):
            raise OptionsError("hubspot", ["refresh_token needs client_id and client_secret "
                               "(HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET)"])
        if c["properties_chars"] < 100:
            raise OptionsError("hubspot", ["properties_chars must be at least 100"])
        self._access = c["token"].reveal() if c.get("token") else None
        self._refresh_value = c["refresh_token"].reveal() if c.get("refresh_token") else None
        self._renew_at: float | None = None  # monotonic time to renew an OAuth access token
        self._http: HttpClient | None = None

    # -- auth ----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        # HubSpot asks clients to renew from expires_in, not to wait for a 401
        if self._access is None or (self._renew_at is not None
                                    and time.monotonic() >= self._renew_at):
            self._refresh()
        return {"Authorization": f"Bearer {self._access}"}

    def _refresh(self) -> None:
        c = self.config
        if not self._refresh_value:
            raise SourceError("hubspot: the token was rejected (HTTP 401) and there is no "
                              "refresh token; set a valid HUBSPOT_TOKEN")
        assert self._http is not None
        resp = self._http.request("POST", "/oauth/v1/token", auth=False, data={
            "grant_type": "refresh_token", "client_id": c["client_id"],
            "client_secret": c["client_secret"].reveal(),
            "refresh_token": self._refresh_value,
        })
        body = self._http.parse(resp, expect=dict)
        if not body.get("access_token"):
            raise SourceError("hubspot: the OAuth token answer has no access_token; check "
                              "HUBSPOT_REFRESH_TOKEN, HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET")
        self._access = str(body["access_token"])
        # a rotated refresh token replaces the old one for the rest of the run
        self._refresh_value = body.get("refresh_token") or self._refresh_value
        lifetime = float(body["expires_in"]) if body.get("expires_in") is not None else 1800.0
        self._renew_at = time.monotonic() + lifetime - min(300.0, lifetime / 2)

    def _rate(self, resp: httpx.Response) -> None:
        """Proactive throttle: when the 10-second (or per-second) window is spent, wait it
        out; a spent daily allowance stops the run instead of retrying until midnight."""
        h = resp.headers
        if resp.status_code == 530:
            raise SourceError("hubspot: HTTP 530, HubSpot's answer to a malformed token; check "
                              "HUBSPOT_TOKEN (a private-app token usually starts with pat-)")
        if resp.status_code == 429 and _policy(resp) == "DAILY":
            raise SourceError("hubspot: the account's daily API limit is used up (HTTP 429, "
                              "policy DAILY); run again after midnight in the account's time "
                              "zone")
        remaining = h.get("X-HubSpot-RateLimit-Remaining")
        if remaining is not None and remaining.isdigit() and int(remaining) <= 1:
            window = h.get("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
            time.sleep(int(window) / 1000 if window.isdigit() else 10.0)
        secondly = h.get("X-HubSpot-RateLimit-Secondly-Remaining")
        if secondly is not None and secondly.isdigit() and int(secondly) <= 1:
            time.sleep(1.0)
        daily = h.get("X-HubSpot-RateLimit-Daily-Remaining")
        if daily is not None and daily.isdigit() and int(daily) == 0:
            raise SourceError("hubspot: the account's daily API limit is used up; "
                              "run again after midnight in the account's time zone")

    # -- reading -------------------------------------------------------------------------
    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        with HttpClient(self.config["base_url"], name="HubSpot", auth=self._headers,
                        refresh=self._refresh if self.config.get("refresh_token") else None,
                        on_response=self._rate) as http:
            self._http = http
            started_ms = int(time.time() * 1000)
            http.pace("search", self.config["search_per_second"])
            owners = self._owners(http)
            custom = self._custom_properties(http)
            props = list(dict.fromkeys([*BASE_PROPERTIES, *custom]))
            cursor = state.get(CURSOR) if self.config["incremental"] else None
            lookback_ms = self.config["lookback_seconds"] * 1000
            # versions the previous run sent near its cursor: a lookback re-read skips them
            versions: RecentVersions[int] = RecentVersions(
                state.get(RECENT) if cursor else None, convert=int)
            seen: set[str] = set()
            merged: set[str] = set()
            high = int(cursor) if cursor else 0
            pages = (self._search(http, props, int(cursor), started_ms) if cursor
                     else self._list(http, props))
            for contact in pages:
                cid = record_id(contact, "id", CONTACTS)
                if cid in seen:
                    continue
                seen.add(cid)
                props_ = contact.get("properties") or {}
                props_ = props_ if isinstance(props_, dict) else {}  # _record rejects it
                ms = _ms(props_.get("lastmodifieddate")) or 0
                if versions.sent_before(cid, ms):
                    continue  # this very version was sent by the previous run
                high = max(high, ms)
                if versions.add(cid, ms):
                    versions.trim(high - lookback_ms)
                merged_ids = props_.get("hs_merged_object_ids")
                if isinstance(merged_ids, str):
                    merged.update(m.strip() for m in merged_ids.split(";") if m.strip())
                yield convert(lambda: self._record(contact, owners, custom,
                                                   self.config["stage_property"]), cid, CONTACTS)
            # contacts merged into a survivor are neither listed nor archived any more
            for cid in sorted(merged - seen, key=lambda x: (len(x), x)):
                seen.add(cid)
                yield {"source_id": cid, "source_platform": "hubspot", "deleted": True}
            if self.config["include_archived"]:
                yield from self._archived(http, state, seen, bool(cursor))
            if high:
                # a contact edited while this run read is newer than the run start, maybe
                # older than the newest contact seen: never save past the run start
                saved = min(high, max(started_ms, int(cursor or 0)))
                state[CURSOR] = saved
                state[RECENT] = versions.to_save(saved - lookback_ms)

    def _archived(self, http: HttpClient, state: dict[str, Any], seen: set[str],
                  incremental: bool) -> Iterator[dict[str, Any]]:
        """Tombstones for archived contacts; incremental runs report only those archived
        since the previous run (``archivedAt`` after the saved one, or at it and not sent)."""
        saved = int(state.get(ARCHIVED) or 0) if incremental else 0
        saved_ids = set(state.get(ARCHIVED + "_ids") or []) if incremental else set()
        high, high_ids = saved, set(saved_ids)
        for contact in self._list(http, ["lastmodifieddate"], archived=True):
            cid = record_id(contact, "id", CONTACTS)
            at = _ms(contact.get("archivedAt"))
            if cid in seen or (at is not None and (at < saved or (at == saved and cid in saved_ids))):
                continue
            seen.add(cid)
            if at is not None and at > high:
                high, high_ids = at, set()
            if at is not None and at == high:
                high_ids.add(cid)
            yield {"source_id": cid, "source_platform": "hubspot", "deleted": True}
        if high:
            state[ARCHIVED] = high
            state[ARCHIVED + "_ids"] = sorted(high_ids)[:CAP]

    def _paged(self, http: HttpClient, path: str, params: dict[str, Any]) -> Iterator[dict]:
        after, seen = None, set()
        while True:
            page = http.get_object(path, params={**params, **({"after": after} if after else {})})
            yield from items(page, "results", where=f"hubspot: {path}")
            after = dig(page, "paging", "next", "after", where=f"hubspot: {path}")
            if not after:
                return
            after = _once(seen, after, f"hubspot: {path}")

    def _owners(self, http: HttpClient) -> dict[str, str]:
        """Owner id -> email, deactivated owners too (their contacts still name them)."""
        owners: dict[str, str] = {}
        for archived in ("true", "false"):  # active owners win
            owners.update({str(o.get("id")): o.get("email") or "" for o in self._paged(
                http, "/crm/v3/owners/", {"limit": PAGE, "archived": archived})})
        return owners

    def _custom_properties(self, http: HttpClient) -> list[str]:
        wanted = [p.strip() for p in self.config["custom_properties"].split(",") if p.strip()]
        if not wanted:
            return []
        path = "/crm/v3/properties/contacts"
        defined = [p for p in items(http.get_object(path), "results", where=f"hubspot: {path}")
                   if isinstance(p.get("name"), str)]
        if wanted == ["*"]:
            return sorted(p["name"] for p in defined if not p.get("hubspotDefined"))
        known = {p["name"] for p in defined}
        missing = [w for w in wanted if w not in known]
        if missing:
            raise OptionsError("hubspot", [f"custom_properties not found in the account: "
                                           f"{', '.join(missing)} (see Settings > Properties)"])
        return wanted

    def _list(self, http: HttpClient, props: list[str], archived: bool = False) -> Iterator[dict]:
        """Pages of the list endpoint; a property list too long for one URL is asked for in
        chunks with the same ``after`` and merged by id (the first chunk's page leads)."""
        path = "/crm/v3/objects/contacts"
        chunks = property_chunks(props, self.config["properties_chars"])
        after, seen = None, set()
        while True:
            params = {"limit": PAGE, "archived": "true" if archived else "false",
                      **({"after": after} if after else {})}
            page = http.get_object(path, params={**params, "properties": ",".join(chunks[0])})
            results = items(page, "results", where=CONTACTS)
            by_id = {str(c.get("id")): c for c in results}
            for extra in chunks[1:] if results else ():
                more = http.get_object(path, params={**params, "properties": ",".join(extra)})
                for c in items(more, "results", where=CONTACTS):
                    mine, theirs = by_id.get(str(c.get("id"))), c.get("properties")
                    if mine is None or not isinstance(theirs, dict):
                        continue
                    if mine.get("properties") is None:
                        mine["properties"] = {}
                    if isinstance(mine["properties"], dict):  # else _record rejects it
                        mine["properties"].update(theirs)
            yield from results
            after = dig(page, "paging", "next", "after", where=CONTACTS)
            if not after:
                return
            after = _once(seen, after, CONTACTS)

    def _search(self, http: HttpClient, props: list[str], cursor: int,
                until: int) -> Iterator[dict]:
        """Contacts modified in [cursor - lookback, until], by ascending id (Airbyte's
        keyset, reference 1.5): before a page would pass the 10,000-result cap a new query
        starts after the last id seen, so any number of equal timestamps is read once."""
        since = max(cursor - self.config["lookback_seconds"] * 1000, 0)
        last_id = 0
        while True:
            after, start_id = 0, last_id  # one query's filters stay fixed while it pages
            seen: set[str] = set()
            while True:
                body: dict[str, Any] = {
                    "filterGroups": [{"filters": [
                        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since)},
                        {"propertyName": "lastmodifieddate", "operator": "LTE", "value": str(until)},
                        {"propertyName": "hs_object_id", "operator": "GT", "value": str(start_id)},
                    ]}],
                    "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                    "properties": props, "limit": PAGE,
                }
                if after:
                    body["after"] = str(after)
                page = http.post_object("/crm/v3/objects/contacts/search", body,
                                        bucket="search")
                for contact in items(page, "results", where=SEARCH):
                    last_id = max(last_id, _number(contact.get("id"), "contact id"))
                    yield contact
                nxt = dig(page, "paging", "next", "after", where=SEARCH)
                if not nxt:
                    return
                if _number(nxt, "paging.next.after") + PAGE > self.config["search_cap"]:
                    if last_id == start_id:  # the new query would be this very one again
                        raise SourceError(f"{SEARCH}: a whole query up to the result cap "
                                          f"brought no contact after id {start_id}; stopping "
                                          "instead of looping forever")
                    break  # the next page would pass the cap: a new query after last_id
                after = _number(_once(seen, nxt, SEARCH), "paging.next.after")

    @staticmethod
    def _record(contact: dict, owners: dict[str, str], custom: list[str],
                stage_property: str = "lifecyclestage") -> dict[str, Any]:
        p = contact.get("properties") or {}
        phones = [x for x in (p.get("phone"), p.get("mobilephone")) if x]
        extra = [e.strip() for e in (p.get("hs_additional_emails") or "").split(";") if e.strip()]
        fields = {k: p.get(k) for k in custom if p.get(k) not in (None, "")}
        other = "hs_lead_status" if stage_property == "lifecyclestage" else "lifecyclestage"
        if p.get(other):  # the stage property not used as `stage` stays visible
            fields[other] = p[other]
        name = " ".join(x for x in (p.get("firstname"), p.get("lastname")) if x) or None
        return {
            "source_id": str(contact["id"]),
            "contact_name": name,
            "first_name": p.get("firstname"),
            "last_name": p.get("lastname"),
            "contact_email": p.get("email"),
            "contact_phone": phones[0] if phones else None,
            "emails": extra or None,
            "phones": phones[1:] or None,
            "source_platform": "hubspot",
            "stage": p.get(stage_property) or None,
            "owner": owners.get(str(p.get("hubspot_owner_id") or "")) or None,
            "custom_fields": fields or None,
            "created_at": p.get("createdate") or contact.get("createdAt"),
            "updated_at": p.get("lastmodifieddate") or contact.get("updatedAt"),
        }


def _policy(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return ""
    return str(body.get("policyName") or "") if isinstance(body, dict) else ""


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register(HubSpotConnector)
