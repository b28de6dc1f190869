"""The Lead Docket connector: a firm's leads from ``/api/leads/lastupdatedsince``.

Why this shape: Lead Docket has one host per firm and pages by page number over a set sorted by
``LastUpdateDate``. Plain page-number paging over a live set skips a row whenever a lead edited
mid-run moves to the end, so the connector moves its ``date`` forward to the last
``LastUpdateDate`` read and starts again at page 1 (inclusive, deduplicated by id); it only
turns pages while a whole page shares one timestamp. Timestamps carry no offset: they are read
in the firm's time zone (``timezone`` option) and the cursor is saved in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..connector import Connector, Option
from ..errors import OptionsError, SourceDataError, SourceError
from ..plugins import hookimpl
from ._http import HttpClient, convert, items, record_id
from ._people import RunCursor, compact, full_name, parse_ts, unique, utc_text

CURSOR = "lead_docket_last_update"
LEADS = "lead_docket: /api/leads/lastupdatedsince"
FULL_SINCE = datetime(2000, 1, 1)
PHONES = {"MobilePhone": "MobilePhone", "Text": "MobilePhone", "HomePhone": "HomePhone",
          "WorkPhone": "WorkPhone"}


class LeadDocketConnector(Connector):
    name = "lead_docket"
    source_platform = "lead_docket"
    description = "Lead Docket (legal intake) leads of one firm, full and incremental."
    options = (
        Option("firm", "str", env="LEAD_DOCKET_FIRM",
               help="The firm's subdomain: <firm>.leaddocket.com"),
        Option("api_key", "secret", required=True, env="LEAD_DOCKET_API_KEY",
               help="API key (Manage > Settings), sent in the api_key header"),
        Option("base_url", "str", env="LEAD_DOCKET_BASE_URL",
               help="Firm URL; default https://<firm>.leaddocket.com"),
        Option("timezone", "str", default="UTC", env="LEAD_DOCKET_TIMEZONE",
               help="The firm's time zone (Lead Docket dates carry no offset), e.g. "
                    "America/Chicago"),
        Option("requests_per_second", "float", default=1.0,
               help="Client-side pace (Lead Docket documents no limit; stay gentle)"),
        Option("page_size", "int", default=500, help="Leads per page (max 500)"),
        Option("incremental", "bool", default=True,
               help="Use the saved LastUpdateDate cursor when there is one"),
        Option("lookback_seconds", "int", default=3600,
               help="Re-read this far back before the cursor (comparison time zone unknown)"),
    )

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        c = self.config
        problems = []
        if not c.get("base_url") and not c.get("firm"):
            problems.append("say which firm: option firm (or LEAD_DOCKET_FIRM), the "
                            "<firm> in <firm>.leaddocket.com")
        try:
            self.tz: tzinfo = ZoneInfo(c["timezone"]) if c["timezone"] != "UTC" else timezone.utc
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone {c['timezone']!r} is not a known IANA zone "
                            "(e.g. America/Chicago)")
        if not 1 <= c["page_size"] <= 500:
            problems.append("page_size must be between 1 and 500")
        if problems:
            raise OptionsError("lead_docket", problems)
        firm = (c.get("firm") or "").strip().removesuffix(".leaddocket.com")
        self.base_url = (c.get("base_url") or f"https://{firm}.leaddocket.com").rstrip("/")

    def _headers(self) -> dict[str, str]:
        return {"api_key": self.config["api_key"].reveal(), "Accept": "application/json"}

    def _local(self, dt: datetime) -> str:
        return dt.astimezone(self.tz).replace(tzinfo=None).isoformat(timespec="seconds")

    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        c = self.config
        rate = c["requests_per_second"]
        with HttpClient(self.base_url, name="Lead Docket", auth=self._headers,
                        min_interval=1.0 / rate if rate > 0 else 0.0) as http:
            cursor = RunCursor(state, CURSOR, incremental=c["incremental"],
                               lookback_seconds=c["lookback_seconds"])
            since = cursor.since or FULL_SINCE.replace(tzinfo=self.tz)
            for lead in self._leads(http, since):
                lid = record_id(lead, "Id", LEADS)
                updated = self._ts(lead)
                if cursor.take(lid, updated):
                    yield convert(lambda: self._record(lead, updated), lid, LEADS)
            cursor.save()

    def _ts(self, lead: dict[str, Any]) -> datetime | None:
        return parse_ts(lead.get("LastUpdateDate") or lead.get("LastStatusChangeDate"), self.tz)

    def _leads(self, http: HttpClient, since: datetime) -> Iterator[dict]:
        page = 1
        read: set[str] = set()  # ids read at this `date`: a turned page of only these repeats
        while True:
            body = http.get_object("/api/leads/lastupdatedsince", params={
                "date": self._local(since), "page": page,
                "itemsPerPage": self.config["page_size"], "sortOrder": "Ascending"})
            rows = items(body, "Records", where=LEADS)
            yield from rows
            try:
                pages = int(body.get("TotalPages") or 0)
            except (TypeError, ValueError):
                raise SourceDataError(f"{LEADS}: TotalPages {body.get('TotalPages')!r} is not "
                                      "a number") from None
            if not rows or page >= pages:
                return
            last = max((t for t in map(self._ts, rows) if t is not None), default=None)
            ids = {str(r.get("Id")) for r in rows}
            if last is not None and self._local(last) > self._local(since):
                since, page = last, 1  # restart at the newest row read: nothing shifts past us
                read = ids
            else:
                if page > 1 and ids <= read:  # the server answers this page again and again
                    raise SourceError(f"{LEADS}: page {page} for date {self._local(since)} "
                                      "holds only leads already read; stopping instead of "
                                      "looping forever")
                page += 1  # a whole page within one second: turn the page
                read |= ids
            if page > 100_000:
                raise SourceError("lead_docket: paging did not end; stopping")

    def _record(self, r: dict[str, Any], updated: datetime | None) -> dict[str, Any]:
        preferred = PHONES.get(str(r.get("PreferredContactMethod") or ""))
        order = [preferred] if preferred else []
        order += ["MobilePhone", "PhoneNumber", "HomePhone", "WorkPhone"]
        phones = unique(r.get(k) for k in order)
        custom = {k: r.get(k) for k in ("ContactId", "SubStatusName", "CaseType", "Code",
                                         "PreferredContactMethod", "MarketingSource")}
        created = parse_ts(r.get("CreatedDate"), self.tz)
        return {
            "source_id": str(r["Id"]),
            "contact_name": full_name(r.get("FirstName"), r.get("LastName")),
            "first_name": r.get("FirstName"),
            "last_name": r.get("LastName"),
            "contact_email": (r.get("Email") or "").strip() or None,
            "contact_phone": phones[0] if phones else None,
            "phones": phones[1:] or None,
            "source_platform": "lead_docket",
            "stage": r.get("StatusName") or None,
            "custom_fields": compact(custom),
            "created_at": utc_text(created) if created else None,
            "updated_at": utc_text(updated) if updated else None,
        }


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register(LeadDocketConnector)
