from datetime import datetime, timedelta, timezone

import pytest

from leadbridge.connectors.pipedrive import PipedriveConnector
from leadbridge.testing import ConformanceSource, ConnectorConformance
from tests.fakes.pipedrive import FakePipedrive

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
TOKEN = "pd-secret-token"


class TestPipedriveConformance(ConnectorConformance):
    connector_class = PipedriveConnector

    @pytest.fixture
    def conformance_source(self):
        with FakePipedrive() as fake:
            ids = [fake.add(T0 + timedelta(days=i), name=f"Person {i}", first_name="Person",
                            last_name=str(i), emails=[{"value": f"p{i}@example.com",
                                                       "primary": True}],
                            owner_id=12) for i in range(3)]

            def change():
                fake.touch(ids[0], T0 + timedelta(days=10), name="Person zero")
                new = fake.add(T0 + timedelta(days=11), name="New person")
                return [str(ids[0]), str(new)]

            yield ConformanceSource(
                options={"token": TOKEN, "base_url": fake.base_url},
                change=change,
                refused_options={"token": "pd-wrong-secret", "base_url": fake.base_url},
            )
