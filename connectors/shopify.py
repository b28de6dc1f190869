"""The Shopify connector: customers through the GraphQL Admin API.

Why this shape: REST is legacy; GraphQL ``customers`` pages by cursor with
``sortKey: UPDATED_AT`` and an ``updated_at:>=`` search filter for incremental runs. Shopify
rate-limits by query cost from a leaky bucket it reports on every answer
(``extensions.cost.throttleStatus``): before each request the connector waits until the bucket
holds the cost of the next query, so it is refused (``THROTTLED``, HTTP 200) only when someone
else spent the bucket — and then it waits the computed time, never retries at once. A query
over the per-query cost cap is retried with a smaller page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from ..connector import Connector, Option
from ..errors import OptionsError, SourceError
from ..plugins import hookimpl
from ._http import HttpClient, convert, dig, items, once, record_id
from ._people import RunCursor, compact, full_name, iso, split_primary, unique, utc_text

CURSOR = "shopify_updated_at"
CUSTOMERS = "shopify: the customers query"
QUERY = """
query Customers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id firstName lastName displayName note tags state createdAt updatedAt
      numberOfOrders amountSpent { amount currencyCode }
      defaultEmailAddress { emailAddress marketingState }
      defaultPhoneNumber { phoneNumber marketingState }
      defaultAddress { city province country zip phone }
      metafields(first: 10) { nodes { namespace key value } }
    }
  }
}
"""
MAX_THROTTLE_WAITS = 20


class ShopifyConnector(Connector):
    name = "shopify"
    source_platform = "shopify"
    description = "Shopify customers (GraphQL Admin API), full and incremental on updated_at."
    options = (
        Option("shop", "str", env="SHOPIFY_SHOP",
               help="The store: name or name.myshopify.com (builds the base URL)"),
        Option("token", "secret", env="SHOPIFY_TOKEN",
               help="Admin API access token (shpat_...), sent as X-Shopify-Access-Token"),
        Option("client_id", "str", env="SHOPIFY_CLIENT_ID",
               help="Dev Dashboard app client id (client-credentials grant, instead of token)"),
        Option("client_secret", "secret", env="SHOPIFY_CLIENT_SECRET",
               help="Dev Dashboard app client secret"),
        Option("base_url", "str", env="SHOPIFY_BASE_URL",
               help="Store URL; default https://<shop>.myshopify.com"),
        Option("api_version", "str", default="2026-10", env="SHOPIFY_API_VERSION",
               help="Admin API version (quarterly, e.g. 2026-10)"),
        Option("page_size", "int", default=100, help="Customers per query (max 250)"),
        Option("incremental", "bool", default=True,
               help="Use the saved updated_at cursor when there is one"),
        Option("lookback_seconds", "int", default=300,
               help="Re-read this far back before the cursor (search index lag)"),
    )

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        c = self.config
        problems = []
        if not c.get("base_url") and not c.get("shop"):
            problems.append("say which store: option shop (or SHOPIFY_SHOP), e.g. "
                            "shop=my-store")
        if not c.get("token") and not (c.get("client_id") and c.get("client_secret")):
            problems.append("no credentials: set SHOPIFY_TOKEN, or SHOPIFY_CLIENT_ID and "
                            "SHOPIFY_CLIENT_SECRET (client-credentials grant)")
        if not 1 <= c["page_size"] <= 250:
            problems.append("page_size must be between 1 and 250")
        if problems:
            raise OptionsError("shopify", problems)
        shop = (c.get("shop") or "").strip().removeprefix("https://").rstrip("/")
        if shop and "." not in shop:
            shop = f"{shop}.myshopify.com"
        self.base_url = (c.get("base_url") or f"https://{shop}").rstrip("/")
        self._access = c["token"].reveal() if c.get("token") else None
        self._http: HttpClient | None = None
        self.waited = 0.0  # seconds spent waiting for the cost bucket (reported by tests)

    # -- auth ----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        if self._access is None:
            self._refresh()
        return {"X-Shopify-Access-Token": str(self._access)}

    def _refresh(self) -> None:
        c = self.config
        if not (c.get("client_id") and c.get("client_secret")):
            raise SourceError("shopify: the access token was rejected (HTTP 401); set a valid "
                              "SHOPIFY_TOKEN (or SHOPIFY_CLIENT_ID/SECRET to mint one)")
        assert self._http is not None
        resp = self._http.request("POST", "/admin/oauth/access_token", auth=False, json={
            "grant_type": "client_credentials", "client_id": c["client_id"],
            "client_secret": c["client_secret"].reveal()})
        token = dig(self._http.parse(resp, expect=dict), "access_token",
                    where="shopify: /admin/oauth/access_token")
        if not token or not isinstance(token, str):
            raise SourceError("shopify: the client-credentials answer has no access_token; "
                              "check SHOPIFY_CLIENT_ID and SHOPIFY_CLIENT_SECRET")
        self._access = token

    # -- throttling ----------------------------------------------------------------------
    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.waited += seconds
            time.sleep(min(seconds, 60.0))

    @staticmethod
    def _need(cost: dict[str, Any], requested: float) -> float:
        """Seconds until the bucket holds ``requested`` points (0 if it already does)."""
        status = cost.get("throttleStatus") or {}
        available = float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 50) or 50.0
        return max(requested - available, 0.0) / rate

    # -- reading -------------------------------------------------------------------------
    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        c = self.config
        with HttpClient(self.base_url, name="Shopify", auth=self._headers,
                        refresh=self._refresh) as http:
            self._http = http
            cursor = RunCursor(state, CURSOR, incremental=c["incremental"],
                               lookback_seconds=c["lookback_seconds"])
            search = None
            if cursor.since is not None:
                search = f"updated_at:>='{iso(cursor.since).replace('.000Z', 'Z')}'"
            for node in self._customers(http, search):
                cid = record_id(node, "id", CUSTOMERS).rsplit("/", 1)[-1]
                if cursor.take(cid, node.get("updatedAt")):
                    yield convert(lambda: self._record(cid, node), cid, CUSTOMERS)
            cursor.save()

    def _customers(self, http: HttpClient, search: str | None) -> Iterator[dict]:
        path = f"/admin/api/{self.config['api_version']}/graphql.json"
        first, after = self.config["page_size"], None
        last_cost: dict[str, Any] = {}
        waits = 0
        seen: set[str] = set()  # end cursors only move forward: one seen before is a loop
        while True:
            if last_cost:  # wait for the bucket to hold this query's cost, never hammer
                self._wait(self._need(last_cost, last_cost.get("requestedQueryCost") or 0))
            body = http.post_object(path, {"query": QUERY, "variables": {
                "first": first, "after": after, "query": search}})
            cost = dig(body, "extensions", "cost", where=CUSTOMERS) or {}
            errors = body.get("errors")
            if errors:
                errors = errors if isinstance(errors, list) else [errors]
                codes = {dig(e, "extensions", "code", where=CUSTOMERS) for e in errors
                         if isinstance(e, dict)}
                if "THROTTLED" in codes:
                    waits += 1
                    if waits > MAX_THROTTLE_WAITS:
                        raise SourceError("shopify: still THROTTLED after "
                                          f"{MAX_THROTTLE_WAITS} waits; another app may be "
                                          "using the store's whole API budget")
                    self._wait(max(self._need(cost, cost.get("requestedQueryCost") or 0), 0.05))
                    last_cost = {}
                    continue
                if "MAX_COST_EXCEEDED" in codes and first > 1:
                    first = max(first // 2, 1)
                    continue
                msg = "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                                for e in errors)
                raise SourceError(f"shopify: the customers query failed: {msg[:300]}")
            waits = 0
            last_cost = cost
            yield from items(body, "data", "customers", "nodes", where=CUSTOMERS)
            more = dig(body, "data", "customers", "pageInfo", "hasNextPage", where=CUSTOMERS)
            end = dig(body, "data", "customers", "pageInfo", "endCursor", where=CUSTOMERS)
            if not more or not end:
                return
            after = once(seen, end, "shopify: the same endCursor came twice; stopping")

    @staticmethod
    def _record(cid: str, n: dict[str, Any]) -> dict[str, Any]:
        email_obj = n.get("defaultEmailAddress") or {}
        phone_obj = n.get("defaultPhoneNumber") or {}
        address = n.get("defaultAddress") or {}
        email, more_emails = split_primary(unique([email_obj.get("emailAddress"),
                                                   n.get("email")]))
        phone, more_phones = split_primary(unique([phone_obj.get("phoneNumber"), n.get("phone"),
                                                   address.get("phone")]))
        custom: dict[str, Any] = {
            f"{m.get('namespace')}.{m.get('key')}": m.get("value")
            for m in ((n.get("metafields") or {}).get("nodes") or []) if isinstance(m, dict)}
        spent = n.get("amountSpent") or {}
        custom.update(shopify_gid=n.get("id"), tags=n.get("tags") or [], state=n.get("state"),
                      note=n.get("note"), number_of_orders=n.get("numberOfOrders"),
                      amount_spent=spent.get("amount"), currency=spent.get("currencyCode"),
                      email_marketing=email_obj.get("marketingState"),
                      city=address.get("city"), country=address.get("country"))
        return {
            "source_id": cid,
            "contact_name": full_name(n.get("firstName"), n.get("lastName")),
            "first_name": n.get("firstName"),
            "last_name": n.get("lastName"),
            "contact_email": email,
            "contact_phone": phone,
            "emails": more_emails,
            "phones": more_phones,
            "source_platform": "shopify",
            "custom_fields": compact(custom),
            "created_at": utc_text(n.get("createdAt")),
            "updated_at": utc_text(n.get("updatedAt")),
        }


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register(ShopifyConnector)
