from datetime import datetime, timedelta, timezone

import pytest

from leadbridge.connectors.followupboss import FollowUpBossConnector
from leadbridge.testing import ConformanceSource, ConnectorConformance
from tests.fakes.followupboss import FakeFUB

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
KEY, SYSKEY = "fub-secret-key", "sys-secret-key"


class TestFollowUpBossConformance(ConnectorConformance):
    connector_class = FollowUpBossConnector

    @pytest.fixture
    def conformance_source(self):
        with FakeFUB() as fake:
            ids = [fake.add(T0 + timedelta(days=i), name=f"Person {i}", stage="Lead",
                            emails=[{"value": f"p{i}@example.com", "isPrimary": True}])
                   for i in range(3)]

            def change():
                fake.touch(ids[0], T0 + timedelta(days=9), stage="Active Client")
                return [str(ids[0]), str(fake.add(T0 + timedelta(days=10), name="New"))]

            opts = {"system_key": SYSKEY, "base_url": fake.base_url}
            yield ConformanceSource(options={"api_key": KEY, **opts}, change=change,
                                    refused_options={"api_key": "fub-wrong-secret", **opts})
