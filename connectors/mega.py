"""MEGA itself as a source: one customer's leads, read with the same client as the sink.

Why: moving leads between MEGA customers, backups into a workspace, and round trips (pull,
clean, push back) all start by listing leads. The connector uses
``leadbridge.mega.MegaClient.list_leads`` (keyset cursor, ``sort_by=updated_at asc``,
``updated_since`` inclusive), so retries, pacing and error messages are exactly the sink's.
The source account has its own variables (``MEGA_SOURCE_TOKEN``, ``MEGA_SOURCE_CUSTOMER_ID``)
so a customer-to-customer move never confuses it with the destination's ``MEGA_TOKEN``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..connector import Connector, Option
from ..errors import MegaError, SourceError
from ..plugins import hookimpl
from ._people import RunCursor, compact, iso, utc_text

CURSOR = "mega_updated_at"


class MegaConnector(Connector):
    name = "mega"
    source_platform = None  # each lead keeps the source_platform MEGA already has for it
    description = "Leads of one MEGA customer (the CRM Lead API as a source), incremental."
    options = (
        Option("token", "secret", env="MEGA_SOURCE_TOKEN",
               help="API key of the source customer (default: MEGA_TOKEN)"),
        Option("customer_id", "str", env="MEGA_SOURCE_CUSTOMER_ID",
               help="Source customer id (default: MEGA_CUSTOMER_ID)"),
        Option("base_url", "str", env="MEGA_BASE_URL",
               help="MEGA API base URL (env MEGA_BASE_URL)"),
        Option("incremental", "bool", default=True,
               help="Use the saved updated_at cursor when there is one"),
        Option("lookback_seconds", "int", default=60,
               help="Re-read this far back before the cursor"),
        Option("status", "str", default="", help="Only leads with this status"),
        Option("page_size", "int", default=100, help="Leads per page"),
        Option("time_scale", "float", default=1.0,
               help="Shrinks MEGA's rate windows for a sandbox started with --time-scale"),
    )

    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        from ..mega import MegaClient  # imported late: the client is heavier than a plugin

        c = self.config
        cursor = RunCursor(state, CURSOR, incremental=c["incremental"],
                           lookback_seconds=c["lookback_seconds"])
        filters: dict[str, Any] = {"sort_by": "updated_at", "sort_dir": "asc",
                                   "include_custom_fields": True, "limit": c["page_size"]}
        if cursor.since is not None:
            filters["updated_since"] = iso(cursor.since)
        if c["status"]:
            filters["status"] = c["status"]
        try:
            with MegaClient(base_url=c.get("base_url"), token=c.get("token"),
                            customer_id=c.get("customer_id"),
                            time_scale=c["time_scale"]) as client:
                for lead in client.list_leads(**filters):
                    if cursor.take(str(lead["id"]), lead.get("updated_at")):
                        yield self._record(lead)
        except MegaError as exc:
            raise SourceError(f"mega (source): {exc}") from None
        cursor.save()

    @staticmethod
    def _record(lead: dict[str, Any]) -> dict[str, Any]:
        """One record from a Lead. Objects MEGA sent as another JSON type (a string as
        ``current_stage``, a list as ``custom_fields``) count as absent instead of raising;
        mistyped scalars pass on, for the engine to reject that record alone."""
        stage = _mapping(lead.get("current_stage"))
        owner = _mapping(lead.get("owner"))
        custom = dict(_mapping(lead.get("custom_fields")))
        lead_line = custom.pop("lead_line", None)
        custom.update(mega_status=lead.get("status"), mega_owner_name=owner.get("name"),
                      mega_score=lead.get("score"))
        return {
            "source_id": str(lead["id"]),
            "contact_name": lead.get("contact_name"),
            "contact_email": lead.get("contact_email"),
            "contact_phone": lead.get("contact_phone"),
            "source_platform": lead.get("source_platform"),
            "source_type": lead.get("source_type"),
            "stage": stage.get("slug") or None,
            "owner": owner.get("id") or None,
            "lead_line": lead_line if lead_line in ("buyer", "seller") else None,
            "custom_fields": compact(custom),
            "created_at": utc_text(lead.get("created_at")),
            "updated_at": utc_text(lead.get("updated_at")),
        }


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register(MegaConnector)
