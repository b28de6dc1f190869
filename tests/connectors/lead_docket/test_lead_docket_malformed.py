"""Lead Docket answers no healthy API sends, over real HTTP: a located error or a rejected
record, never a traceback."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors.lead_docket import LeadDocketConnector  # noqa: E402
from leadbridge.errors import SourceDataError, SourceError  # noqa: E402
from leadbridge.httpserver import Response  # noqa: E402
from tests.fakes.canned import Canned  # noqa: E402

API_KEY = "ld-secret-key"


def lead(lid: int, **fields):
    return {"Id": lid, "FirstName": "P", "LastName": str(lid), "Email": f"p{lid}@example.com",
            "LastUpdateDate": "2026-03-03T16:45:00", **fields}


def run(answer):
    with Canned({("GET", "/api/leads/lastupdatedsince"): answer}) as fake:
        return list(LeadDocketConnector(api_key=API_KEY, base_url=fake.base_url,
                                        requests_per_second=0.0).records({}))


def test_a_lead_with_an_impossible_date_or_a_wrong_type_is_read_or_rejected():
    """A LastUpdateDate of 20 digits was read as epoch milliseconds and crashed (OSError)."""
    bad, odd, good = run({"TotalPages": 1, "Records": [
        lead(1, Email=5), lead(2, LastUpdateDate="9" * 20), lead(3)]})
    assert bad["source_id"] == "1" and "unexpected type" in bad["reject_reason"]
    assert odd["source_id"] == "2" and odd["updated_at"] is None
    assert good["source_id"] == "3" and good["contact_email"] == "p3@example.com"


def test_a_page_that_comes_back_stops_the_read():
    """Page 2, 3, ... of one second answering page 1's leads again ran to 100,000 pages (a
    day at the default one request a second)."""
    def leads(req, n):
        return {"TotalPages": 10**6, "Records": [lead(1), lead(2)] if n < 50 else []}
    with pytest.raises(SourceError, match="page 2 .* holds only leads already read"):
        run(leads)


def test_pages_within_one_second_are_all_read():
    def leads(req, n):
        page = int(req.arg("page"))
        return {"TotalPages": 3, "Records": [lead(2 * page - 1), lead(2 * page)]}
    assert [r["source_id"] for r in run(leads)] == ["1", "2", "3", "4", "5", "6"]


@pytest.mark.parametrize("page, error, message", [
    ({"TotalPages": "many", "Records": [lead(1)]}, SourceDataError, "TotalPages 'many'"),
    ({"TotalPages": 1, "Records": [lead(1), None]}, SourceDataError, r"Records\[1\] is null"),
    ({"TotalPages": 1, "Records": [{"Email": "x@example.com"}]}, SourceDataError,
     "not an id"),
    (Response(200, b"<html>Login</html>"), SourceError, "not JSON"),
])
def test_a_leads_page_of_the_wrong_shape_is_a_located_error(page, error, message):
    with pytest.raises(error, match=message):
        run(page)
