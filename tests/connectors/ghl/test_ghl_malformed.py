"""GoHighLevel answers no healthy API sends, over real HTTP: a located error or a rejected
record, never a traceback or an endless read."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors.ghl import GHLConnector  # noqa: E402
from leadbridge.errors import SourceDataError, SourceError  # noqa: E402
from tests.fakes.canned import Canned  # noqa: E402

TOKEN = "pit-secret-token"
LOOKUPS = {("GET", "/locations/loc1/customFields"): {"customFields": []},
           ("GET", "/users/"): {"users": []}}


def contact(cid: str, **fields):
    return {"id": cid, "email": f"{cid}@example.com", "dateUpdated": "2026-03-01T15:00:00Z",
            "searchAfter": [1772377200000, cid], **fields}


def run(search):
    with Canned({**LOOKUPS, ("POST", "/contacts/search"): search}) as fake:
        return list(GHLConnector(token=TOKEN, location_id="loc1", base_url=fake.base_url,
                                 page_limit=1).records({})), fake


def test_a_search_after_that_comes_back_stops_the_read():
    """Pages A, B, A, B, ...: comparing with the previous page alone never sees the loop."""
    def search(req, n):
        return {"contacts": [contact("a" if n % 2 else "b")]} if n < 50 else {"contacts": []}
    with pytest.raises(SourceError, match="same searchAfter twice"):
        run(search)


def test_a_contact_with_a_number_for_a_list_is_rejected_and_the_rest_is_read():
    def search(req, n):
        return {"contacts": [contact("bad", additionalEmails=5, attributionSource="x"),
                             contact("good")][n - 1:n]}
    records, _ = run(search)
    bad, good = records
    assert bad["source_id"] == "bad" and "unexpected type" in bad["reject_reason"]
    assert good["source_id"] == "good" and good["contact_email"] == "good@example.com"


@pytest.mark.parametrize("page, message", [
    ({"contacts": [None]}, r"contacts\[0\] is null, not a record"),
    ({"contacts": "none"}, "contacts is a string"),
    ({"contacts": [{"email": "x@example.com"}]}, "'id' is null, not an id"),
    ([], "where an object was expected"),
])
def test_a_search_page_of_the_wrong_shape_is_a_located_error(page, message):
    with pytest.raises(SourceDataError, match=message):
        run(page)
