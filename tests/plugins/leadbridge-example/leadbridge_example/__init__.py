"""leadbridge-example: contacts of the (imaginary) ExampleCRM HTTP API as leadbridge records.

ExampleCRM answers ``GET /v1/contacts?updated_since=ISO&page=N`` with
``{"contacts": [...], "next_page": N | null}`` and wants ``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from leadbridge import Connector, Option, SourceError, hookimpl

__version__ = "0.3.0"
CURSOR = "example_updated_at"


class ExampleConnector(Connector):
    name = "example"
    source_platform = "referral"  # a MEGA source_platform value, or None
    description = "ExampleCRM contacts (API token), full and incremental."
    options = (
        Option("token", "secret", required=True, env="EXAMPLE_TOKEN",
               help="API token (Settings > API)"),
        Option("base_url", "str", default="https://api.example-crm.invalid",
               env="EXAMPLE_BASE_URL", help="API base URL"),
        Option("page_size", "int", default=100, help="Contacts per page"),
    )

    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        since = state.get(CURSOR)  # the host saved this after the previous run
        newest = since
        headers = {"Authorization": f"Bearer {self.config['token'].reveal()}"}
        with httpx.Client(base_url=self.config["base_url"], headers=headers,
                          timeout=30) as http:
            page: int | None = 1
            while page:
                params = {"page": page, "limit": self.config["page_size"],
                          **({"updated_since": since} if since else {})}
                try:
                    resp = http.get("/v1/contacts", params=params)
                except httpx.HTTPError as exc:
                    raise SourceError(f"example: cannot reach {self.config['base_url']} "
                                      f"({type(exc).__name__})", connector=self.name) from None
                if resp.status_code != 200:  # never echo the request: it holds the token
                    raise SourceError(f"example: GET /v1/contacts answered HTTP "
                                      f"{resp.status_code}; check the token",
                                      connector=self.name)
                body = resp.json()
                for contact in body["contacts"]:
                    if newest is None or contact["updated_at"] > newest:
                        newest = contact["updated_at"]
                    yield self._record(contact)
                page = body.get("next_page")
        if newest:
            state[CURSOR] = newest

    @staticmethod
    def _record(c: dict[str, Any]) -> dict[str, Any]:
        known = {"id", "name", "email", "phone", "updated_at", "created_at"}
        return {
            "source_id": str(c["id"]),
            "contact_name": c.get("name"),
            "contact_email": c.get("email"),
            "contact_phone": c.get("phone"),
            "created_at": c.get("created_at"),
            "updated_at": c.get("updated_at"),
            # everything else is kept, never dropped
            "custom_fields": {k: v for k, v in c.items() if k not in known} or None,
        }


@hookimpl
def register_connectors(register):
    register(ExampleConnector)
