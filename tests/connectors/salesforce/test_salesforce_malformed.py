"""Salesforce answers no healthy API sends, over real HTTP: a located error or a rejected
record, never a traceback or an endless read."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors.salesforce import SalesforceConnector  # noqa: E402
from leadbridge.errors import SourceDataError, SourceError  # noqa: E402
from leadbridge.httpserver import Response  # noqa: E402
from tests.fakes.canned import Canned  # noqa: E402

SECRET = "sf-client-secret"
DATA = "/services/data/v60.0"
CSV = ("Id,FirstName,LastName,Name,Email,Phone,MobilePhone,Status,OwnerId,Owner.Email,Company,"
       "LeadSource,IsConverted,IsDeleted,CreatedDate,SystemModstamp\n"
       "00Q1,Ana,Lee,Ana Lee,ana@example.com,,,Open,005,,,,false,false,"
       "2026-03-01T10:00:00.000Z,2026-03-02T10:00:00.000Z\n")


def token(req, n):
    return {"access_token": "00D!session", "instance_url": f"http://{req.header('host')}"}


def lead(lid: str, **fields):
    return {"Id": lid, "Name": f"Lead {lid}", "Email": f"{lid}@example.com",
            "IsDeleted": False, "IsConverted": False,
            "SystemModstamp": "2026-03-02T10:00:00.000+0000", **fields}


def run(query, more=None, token_answer=token, **opts):
    def query_all(req, n):
        if "COUNT()" in (req.arg("q") or ""):
            return {"totalSize": 1, "done": True, "records": []}
        return query(req, n) if callable(query) else query
    answers = {("POST", "/services/oauth2/token"): token_answer,
               ("GET", f"{DATA}/queryAll"): query_all}
    answers.update(more or {})
    with Canned(answers) as fake:
        return list(SalesforceConnector(client_id="3MVG9.app", client_secret=SECRET,
                                        base_url=fake.base_url, **opts).records({}))


def test_a_next_records_url_that_comes_back_stops_the_read():
    page = {"done": False, "records": [lead("00Q1")], "nextRecordsUrl": f"{DATA}/query/01g-2000"}
    more = {("GET", f"{DATA}/query/{{locator}}"):
            lambda req, n: page if n < 50 else {"done": True, "records": []}}
    with pytest.raises(SourceError, match="same nextRecordsUrl came twice"):
        run(page, more)


def test_a_bulk_locator_that_comes_back_stops_the_read():
    def results(req, n):
        locator = "LOC1" if n < 50 else "null"
        return Response(200, CSV.encode(), {"Content-Type": "text/csv",
                                            "Sforce-Locator": locator})
    more = {("POST", f"{DATA}/jobs/query"): {"id": "750X", "state": "UploadComplete"},
            ("GET", f"{DATA}/jobs/query/750X"): {"id": "750X", "state": "JobComplete"},
            ("GET", f"{DATA}/jobs/query/750X/results"): results}
    with pytest.raises(SourceError, match="same Sforce-Locator twice"):
        run({}, more, bulk_threshold=0)


def test_a_row_with_an_object_of_the_wrong_type_is_rejected_and_the_rest_is_read():
    bad, good = run({"done": True, "records": [lead("00Q1", Owner="Sam"), lead("00Q2")]})
    assert bad["source_id"] == "00Q1" and "unexpected type" in bad["reject_reason"]
    assert good["source_id"] == "00Q2" and good["contact_email"] == "00Q2@example.com"


@pytest.mark.parametrize("query, token_answer, error, message", [
    ({"done": True, "records": [lead("00Q1", SystemModstamp=None)]}, token, SourceDataError,
     "SystemModstamp None; both are needed"),
    ({"done": True, "records": [lead("00Q1", SystemModstamp="yesterday")]}, token,
     SourceDataError, "SystemModstamp 'yesterday'"),
    ({"done": True, "records": "none"}, token, SourceDataError, "records is a string"),
    ({}, Response(200, b"<html>Maintenance</html>"), SourceError,
     "POST /services/oauth2/token answered HTTP 200 with a body that is not JSON"),
    ({}, {"access_token": "00D!session"}, SourceError, "no access_token and instance_url"),
])
def test_an_answer_of_the_wrong_shape_is_a_located_error(query, token_answer, error, message):
    with pytest.raises(error, match=message) as err:
        run(query, token_answer=token_answer)
    assert SECRET not in str(err.value)
