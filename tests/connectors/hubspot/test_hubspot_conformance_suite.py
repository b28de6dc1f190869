"""HubSpot passes leadbridge.testing's conformance suite against the fake HubSpot."""

import pytest

from leadbridge.connectors.hubspot import HubSpotConnector
from leadbridge.testing import ConformanceSource, ConnectorConformance
from tests.fakes.hubspot import FakeHubSpot

BASE = 1_700_000_000_000
DAY = 86_400_000


class TestHubSpotConformance(ConnectorConformance):
    connector_class = HubSpotConnector

    @pytest.fixture
    def conformance_source(self):
        with FakeHubSpot(owners={"7": "owner@example.com"}) as fake:
            for i in range(1, 4):
                fake.add(str(i), BASE + i * DAY, email=f"p{i}@example.com", firstname="P",
                         hubspot_owner_id="7")
            fake.add("5", BASE)
            fake.archive("5", BASE + DAY)

            def change():
                fake.touch("1", BASE + 10 * DAY, firstname="changed")
                fake.add("9", BASE + 11 * DAY, email="new@example.com")
                return ["1", "9"]

            yield ConformanceSource(
                options={"token": "pat-secret-token", "base_url": fake.base_url},
                change=change,
                refused_options={"token": "hs-wrong-secret-123", "base_url": fake.base_url},
            )
