import pytest

from leadbridge.connectors.hubspot import HubSpotConnector
from leadbridge.testing import ConformanceSource, ConnectorConformance
from tests.fakes.hubspot import FakeHubSpot

DAY_MS = 86_400_000
BASE = 1_767_225_600_000  # 2026-01-01
TOKEN = "pat-secret-token"


class TestHubSpotConformance(ConnectorConformance):
    connector_class = HubSpotConnector

    @pytest.fixture
    def conformance_source(self):
        with FakeHubSpot(owners={"7": "owner@example.com"}) as fake:
            fake.search_per_second = 10_000
            for i in range(3):
                fake.add(str(i + 1), BASE + i * DAY_MS, email=f"c{i}@example.com",
                         firstname="Contact", lastname=str(i), phone=f"+1 555 010{i}",
                         lifecyclestage="lead", hubspot_owner_id="7", favorite_color="blue")

            def change():
                fake.touch("1", BASE + 10 * DAY_MS, firstname="Changed")
                fake.add("9", BASE + 11 * DAY_MS, email="new@example.com")
                return ["1", "9"]

            opts = {"base_url": fake.base_url, "search_per_second": 1000,
                    "custom_properties": "favorite_color"}
            yield ConformanceSource(options={"token": TOKEN, **opts}, change=change,
                                    refused_options={"token": "pat-wrong-secret", **opts})

