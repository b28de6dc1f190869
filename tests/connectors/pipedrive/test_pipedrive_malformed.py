"""Pipedrive answers no healthy API sends, over real HTTP: a located error or a rejected
record, never a traceback or an endless read."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors.pipedrive import PipedriveConnector  # noqa: E402
from leadbridge.errors import SourceDataError, SourceError  # noqa: E402
from tests.fakes.canned import Canned  # noqa: E402

TOKEN = "pd-secret-token"
DONE = {"data": [], "additional_data": {"pagination": {"more_items_in_collection": False}}}


def person(pid: int, **fields):
    return {"id": pid, "name": f"P {pid}", "update_time": "2026-03-03T16:45:00Z",
            "emails": [{"value": f"p{pid}@example.com", "primary": True}], **fields}


def run(persons, fields=DONE):
    with Canned({("GET", "/v1/users"): {"data": []}, ("GET", "/v1/personFields"): fields,
                 ("GET", "/api/v2/persons"): persons}) as fake:
        return list(PipedriveConnector(token=TOKEN, base_url=fake.base_url).records({}))


def test_a_person_fields_offset_that_does_not_move_stops_the_read():
    """``next_start`` stuck at 500 re-read the same offset forever."""
    def fields(req, n):
        more = n < 50
        return {"data": [{"key": f"k{n}", "name": f"F{n}"}], "additional_data": {
            "pagination": {"more_items_in_collection": more, "next_start": 500}}}
    with pytest.raises(SourceError, match="next_start 500 does not move past 500"):
        run({"data": [person(1)]}, fields)


def test_person_fields_pages_that_repeat_stop_the_read():
    """Offsets move on but every page holds the same field: the read never ended."""
    def fields(req, n):
        return {"data": [{"key": "abc", "name": "Line"}], "additional_data": {"pagination": {
            "more_items_in_collection": n < 50, "next_start": 500 * n}}}
    with pytest.raises(SourceError, match="holds no field not read before"):
        run({"data": [person(1)]}, fields)


def test_a_person_with_a_number_for_a_list_is_rejected_and_the_rest_is_read():
    bad, good = run({"data": [person(1, emails=5, custom_fields="x"), person(2)]})
    assert bad["source_id"] == "1" and "unexpected type" in bad["reject_reason"]
    assert good["source_id"] == "2" and good["contact_email"] == "p2@example.com"


@pytest.mark.parametrize("page, message", [
    ({"data": [person(1), "p2"]}, r"data\[1\] is a string, not a record"),
    ({"data": [person(1)], "additional_data": "none"}, "additional_data is a string"),
    ({"data": [{"name": "no id"}]}, "not an id"),
])
def test_a_persons_page_of_the_wrong_shape_is_a_located_error(page, message):
    with pytest.raises(SourceDataError, match=message):
        run(page)
