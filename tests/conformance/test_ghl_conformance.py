from datetime import datetime, timedelta, timezone

import pytest

from leadbridge.connectors.ghl import GHLConnector
from leadbridge.testing import ConformanceSource, ConnectorConformance
from tests.fakes.ghl import FakeGHL

T0 = datetime(2026, 3, 1, 15, 0, tzinfo=timezone.utc)
TOKEN = "pit-secret-token"


class TestGHLConformance(ConnectorConformance):
    connector_class = GHLConnector

    @pytest.fixture
    def conformance_source(self):
        with FakeGHL() as fake:
            ids = [fake.add(T0 + timedelta(days=i), firstName="Dana", lastName=str(i),
                            email=f"dana{i}@example.com", phone=f"+1555555014{i}",
                            tags=["google ads"]) for i in range(3)]

            def change():
                fake.touch(ids[1], T0 + timedelta(days=9), lastName="Changed")
                return [ids[1], fake.add(T0 + timedelta(days=10), phone="+15555550199")]

            opts = {"location_id": fake.location_id, "base_url": fake.base_url}
            yield ConformanceSource(options={"token": TOKEN, **opts}, change=change,
                                    refused_options={"token": "pit-wrong-secret", **opts})
