"""Shopify answers no healthy API sends, over real HTTP: a located error or a rejected record,
never a traceback or an endless read."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors.shopify import ShopifyConnector  # noqa: E402
from leadbridge.errors import SourceDataError, SourceError  # noqa: E402
from tests.fakes.canned import Canned  # noqa: E402

TOKEN = "shpat_secret_token"
GRAPHQL = ("POST", "/admin/api/2026-10/graphql.json")
COST = {"cost": {"requestedQueryCost": 10, "throttleStatus": {
    "maximumAvailable": 2000, "currentlyAvailable": 2000, "restoreRate": 100}}}


def customer(cid: int, **fields):
    return {"id": f"gid://shopify/Customer/{cid}", "firstName": "C", "lastName": str(cid),
            "updatedAt": "2026-03-03T16:45:00Z",
            "defaultEmailAddress": {"emailAddress": f"c{cid}@example.com"}, **fields}


def page(nodes, more=False, end=None):
    return {"data": {"customers": {"nodes": nodes, "pageInfo": {"hasNextPage": more,
                                                                "endCursor": end}}},
            "extensions": COST}


def run(answer):
    with Canned({GRAPHQL: answer}) as fake:
        return list(ShopifyConnector(token=TOKEN, base_url=fake.base_url).records({}))


def test_end_cursors_that_come_back_stop_the_read():
    """Cursors a, b, a, b, ...: comparing with the previous one alone never sees the loop."""
    def answer(req, n):
        return page([customer(n)], more=n < 50, end="ab"[n % 2])
    with pytest.raises(SourceError, match="same endCursor came twice"):
        run(answer)


def test_a_customer_with_an_object_of_the_wrong_type_is_rejected_and_the_rest_is_read():
    bad, good = run(page([customer(1, defaultEmailAddress="c1@example.com"), customer(2)]))
    assert bad["source_id"] == "1" and "unexpected type" in bad["reject_reason"]
    assert good["source_id"] == "2" and good["contact_email"] == "c2@example.com"


@pytest.mark.parametrize("answer, message", [
    ({"data": {"customers": "none"}}, "data.customers is a string"),
    ({"data": {"customers": {"nodes": [None]}}}, r"nodes\[0\] is null"),
    ({"data": {"customers": {"nodes": [customer(1)], "pageInfo": 1}}}, "pageInfo is a number"),
    (page([{"firstName": "no id"}]), "not an id"),
])
def test_a_customers_answer_of_the_wrong_shape_is_a_located_error(answer, message):
    with pytest.raises(SourceDataError, match=message):
        run(answer)
