"""The example connector's own tests: leadbridge's conformance suite plus one of its own."""

import pytest
from conftest import TOKEN

from leadbridge.testing import ConformanceSource, ConnectorConformance, read_rows
from leadbridge_example import ExampleConnector


class TestExampleConformance(ConnectorConformance):
    connector_class = ExampleConnector

    @pytest.fixture
    def conformance_source(self, crm):
        def change():
            crm.add(2, "2026-04-01T00:00:00Z", name="Person two", email="p2@example.com")
            crm.add(9, "2026-04-02T00:00:00Z", name="New person")
            return ["2", "9"]

        return ConformanceSource(
            options={"token": TOKEN, "base_url": crm.base_url, "page_size": 2},
            change=change,
            refused_options={"token": "example-wrong-secret", "base_url": crm.base_url},
        )


def test_unknown_fields_are_kept_as_custom_fields(crm):
    rows = read_rows(ExampleConnector(token=TOKEN, base_url=crm.base_url))
    assert [r["source_id"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["custom_fields"] == {"tier": "gold"}
