"""Zoho answers no healthy API sends, over real HTTP: a located error or a rejected record,
never a traceback or an endless read."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors.zoho import ZohoConnector  # noqa: E402
from leadbridge.errors import SourceDataError, SourceError  # noqa: E402
from leadbridge.httpserver import Response  # noqa: E402
from tests.fakes.canned import Canned  # noqa: E402

SECRET, REFRESH = "zoho-client-secret", "1000.zoho-refresh-token"
TOKEN = {"access_token": "1000.zoho-access-token", "expires_in": 3600}


def lead(lid: str, **fields):
    return {"id": lid, "Last_Name": lid, "Email": f"{lid}@example.com",
            "Modified_Time": "2026-03-03T16:45:00+00:00", **fields}


def run(leads, token=TOKEN, deleted=None, state=None):
    answers = {("POST", "/oauth/v2/token"): token, ("GET", "/crm/v8/Leads"): leads}
    if deleted is not None:
        answers[("GET", "/crm/v8/Leads/deleted")] = deleted
    with Canned(answers) as fake:
        return list(ZohoConnector(refresh_token=REFRESH, client_id="1000.CLIENT",
                                  client_secret=SECRET, accounts_url=fake.base_url,
                                  base_url=fake.base_url, modules="Leads").records(state or {}))


def test_a_page_token_that_comes_back_stops_the_read():
    def leads(req, n):
        more = n < 50
        return {"data": [lead(f"z{n}")], "info": {"more_records": more,
                                                  "next_page_token": "tok-a"}}
    with pytest.raises(SourceError, match="same next_page_token came twice"):
        run(leads)


def test_a_deleted_page_that_comes_back_stops_the_read():
    """``/deleted`` pages by number: page 2, 3, ... answering page 1 again paged forever."""
    def deleted(req, n):
        more = n < 50
        return {"data": [{"id": "d1", "deleted_time": "2026-03-03T16:00:00+00:00"}],
                "info": {"more_records": more}}
    with pytest.raises(SourceError, match="page 2 holds no record not listed before"):
        run({"data": [], "info": {"more_records": False}}, deleted=deleted,
            state={"zoho_modified_time": "2026-03-01T00:00:00.000Z"})


def test_every_deleted_page_is_read():
    def deleted(req, n):
        page = int(req.arg("page"))  # the last page is empty, as after a restore
        return {"data": [{"id": f"d{page}"}] if page < 4 else [],
                "info": {"more_records": page < 4}}
    records = run({"data": [], "info": {"more_records": False}}, deleted=deleted,
                  state={"zoho_modified_time": "2026-03-01T00:00:00.000Z"})
    assert [(r["source_id"], r["deleted"]) for r in records] == [
        ("d1", True), ("d2", True), ("d3", True)]


def test_a_record_with_a_number_for_a_list_is_rejected_and_the_rest_is_read():
    bad, good = run({"data": [lead("z1", Tag=5, Owner="Sam"), lead("z2")],
                     "info": {"more_records": False}})
    assert bad["source_id"] == "z1" and "unexpected type" in bad["reject_reason"]
    assert good["source_id"] == "z2" and good["contact_email"] == "z2@example.com"


@pytest.mark.parametrize("leads, token, error, message", [
    ({"data": "none"}, TOKEN, SourceDataError, "data is a string"),
    ({"data": [lead("z1")], "info": "done"}, TOKEN, SourceDataError, "info is a string"),
    ({"data": [{"Last_Name": "no id"}]}, TOKEN, SourceDataError, "not an id"),
    ({"data": []}, Response(200, b"<html>maintenance</html>"), SourceError,
     "POST /oauth/v2/token answered HTTP 200 with a body that is not JSON"),
    ({"data": []}, Response(200, b"[]"), SourceDataError, "where an object was expected"),
    ({"data": []}, {"error": {"code": "INVALID"}}, SourceError, "token refresh at .* failed"),
    ({"data": []}, {"error": f"invalid_code {REFRESH}"}, SourceError,
     r"failed \(invalid_code \*\*\*\)"),
])
def test_an_answer_of_the_wrong_shape_is_a_located_error(leads, token, error, message):
    with pytest.raises(error, match=message) as err:
        run(leads, token)
    assert SECRET not in str(err.value) and REFRESH not in str(err.value)
