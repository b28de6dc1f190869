"""Follow Up Boss answers no healthy API sends, over real HTTP: a located error or a rejected
record, never a traceback."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors.followupboss import FollowUpBossConnector  # noqa: E402
from leadbridge.errors import SourceDataError  # noqa: E402
from tests.fakes.canned import Canned  # noqa: E402

API_KEY = "fub-secret-key"


def person(pid: int, **fields):
    return {"id": pid, "name": f"P {pid}", "updated": "2026-03-03T16:45:00Z",
            "emails": [{"value": f"p{pid}@example.com", "isPrimary": 1}], **fields}


def run(people):
    with Canned({("GET", "/v1/users"): {"users": []}, ("GET", "/v1/people"): people}) as fake:
        return list(FollowUpBossConnector(api_key=API_KEY, base_url=fake.base_url).records({}))


def test_a_person_with_a_number_for_a_list_is_rejected_and_the_rest_is_read():
    bad, good = run({"people": [person(1, tags=5), person(2, updated="9" * 20)]})
    assert bad["source_id"] == "1" and "unexpected type" in bad["reject_reason"]
    assert good["source_id"] == "2" and good["contact_email"] == "p2@example.com"
    assert good["updated_at"] == "9" * 20  # unreadable: kept as sent, moves no cursor


@pytest.mark.parametrize("page, message", [
    ({"people": "none"}, "people is a string"),
    ({"people": [person(1)], "_metadata": ["next"]}, "_metadata is a list"),
    ({"people": [{"name": "no id"}]}, "not an id"),
    (None, "where an object was expected"),
])
def test_a_people_page_of_the_wrong_shape_is_a_located_error(page, message):
    from leadbridge.httpserver import Response
    with pytest.raises(SourceDataError, match=message):
        run(Response(200, b"null") if page is None else page)
