"""HubSpot answers no healthy API sends, over real HTTP: a located error or a rejected record,
never a traceback or an endless read."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors.hubspot import CURSOR, HubSpotConnector  # noqa: E402
from leadbridge.errors import SourceDataError, SourceError  # noqa: E402
from tests.fakes.canned import Canned  # noqa: E402

TOKEN = "pat-na1-secret-token"
LIST, SEARCH = ("GET", "/crm/v3/objects/contacts"), ("POST", "/crm/v3/objects/contacts/search")


def contact(cid: int, **props):
    return {"id": str(cid), "properties": {"email": f"c{cid}@example.com",
                                           "lastmodifieddate": "2026-03-03T16:45:00Z", **props}}


def run(contacts, search=None, state=None):
    def listing(req, n):
        if req.arg("archived") == "true":
            return {"results": []}
        return contacts(req, n) if callable(contacts) else contacts
    answers = {("GET", "/crm/v3/owners/"): {"results": []}, LIST: listing}
    if search is not None:
        answers[SEARCH] = search
    with Canned(answers) as fake:
        return list(HubSpotConnector(token=TOKEN, base_url=fake.base_url,
                                     search_per_second=1000.0).records(state or {}))


def test_a_list_after_that_comes_back_stops_the_read():
    def contacts(req, n):
        more = {"paging": {"next": {"after": "200"}}} if n < 50 else {}
        return {"results": [contact(n)], **more}
    with pytest.raises(SourceError, match="paging.next.after '200' came twice"):
        run(contacts)


def test_a_search_after_that_comes_back_stops_the_read():
    def search(req, n):
        more = {"paging": {"next": {"after": "100"}}} if n < 50 else {}
        return {"results": [contact(n)], **more}
    with pytest.raises(SourceError, match="paging.next.after '100' came twice"):
        run({"results": []}, search, {CURSOR: 1772556300000})


def test_odd_property_values_are_read_or_rejected_never_a_crash():
    """A lastmodifieddate that is not a date made ``_ms`` raise ValueError mid-read."""
    bad, odd, good = run({"results": [
        {"id": "1", "properties": {"hs_additional_emails": 5, "hs_merged_object_ids": 7}},
        contact(2, lastmodifieddate="yesterday"), contact(3)]})
    assert bad["source_id"] == "1" and "unexpected type" in bad["reject_reason"]
    assert odd["source_id"] == "2" and odd["contact_email"] == "c2@example.com"
    assert good["source_id"] == "3" and good["contact_email"] == "c3@example.com"


@pytest.mark.parametrize("page, message", [
    ({"results": "none"}, "results is a string"),
    ({"results": [None]}, r"results\[0\] is null"),
    ({"results": [contact(1)], "paging": "next"}, "paging is a string"),
    ({"results": [{"properties": {}}]}, "not an id"),
])
def test_a_contacts_page_of_the_wrong_shape_is_a_located_error(page, message):
    with pytest.raises(SourceDataError, match=message):
        run(page)
