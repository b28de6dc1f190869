"""MEGA as a source against answers MEGA should never send, over real HTTP on 127.0.0.1: a
clear SourceError for a page of the wrong shape, and a lead whose objects are of another JSON
type still read (those objects count as absent), never a traceback."""

import sys
from pathlib import Path

import pytest

from leadbridge.connectors.mega import MegaConnector
from leadbridge.errors import SourceError

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.fakes.canned import Canned  # noqa: E402

TOKEN = "mega_" + "ef56" * 16
CUSTOMER = "0b7e6a52-6f1e-4a5e-9d43-3f1f1c2d9a10"
LIST = ("GET", "/api/agents/crm/leads")
LEAD = {"id": "l1", "contact_name": "A", "contact_email": "a@example.com",
        "updated_at": "2026-01-02T00:00:00Z", "custom_fields": {"budget": 5}}


def _records(fake):
    conn = MegaConnector(base_url=fake.base_url, token=TOKEN, customer_id=CUSTOMER,
                         time_scale=0.01)
    return list(conn.records({}))


@pytest.mark.parametrize("field,value", [
    ("current_stage", "contacted"), ("owner", "bob"), ("custom_fields", [1, 2]),
    ("custom_fields", "ab"),
])
def test_a_lead_whose_objects_have_another_type_is_still_read(field, value):
    """Before: ``.get`` on a string and ``dict()`` of a list raised out of the connector."""
    with Canned({LIST: {"leads": [{**LEAD, field: value}], "next_cursor": None}}) as fake:
        (record,) = _records(fake)
    assert record["source_id"] == "l1" and record["contact_email"] == "a@example.com"
    assert record["stage"] is None and record["owner"] is None


@pytest.mark.parametrize("page,fragment", [
    ([LEAD], "not a JSON object"),
    ({"leads": "l1", "next_cursor": None}, "leads is not a list"),
    ({"leads": [{"contact_name": "no id"}], "next_cursor": None}, "with an id"),
    ({"leads": [LEAD], "next_cursor": ["c"]}, "next_cursor"),
])
def test_a_page_of_the_wrong_shape_is_a_clear_source_error(page, fragment):
    with Canned({LIST: page}) as fake, pytest.raises(SourceError) as info:
        _records(fake)
    assert "mega (source)" in str(info.value) and fragment in str(info.value)
    assert TOKEN not in str(info.value)
