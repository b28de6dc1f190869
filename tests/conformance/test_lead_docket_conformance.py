from datetime import datetime, timedelta

import pytest

from leadbridge.connectors.lead_docket import LeadDocketConnector
from leadbridge.testing import ConformanceSource, ConnectorConformance
from tests.fakes.lead_docket import FakeLeadDocket

T0 = datetime(2026, 3, 1, 14, 5, 11)  # firm-local: Lead Docket sends no offset
KEY = "ld-secret-key"


class TestLeadDocketConformance(ConnectorConformance):
    connector_class = LeadDocketConnector

    @pytest.fixture
    def conformance_source(self):
        with FakeLeadDocket() as fake:
            ids = [fake.add(T0 + timedelta(days=i), FirstName="Jordan", LastName=str(i),
                            Email=f"j{i}@example.com", StatusName="Under Review")
                   for i in range(3)]

            def change():
                fake.touch(ids[0], T0 + timedelta(days=9), StatusName="Signed Up")
                return [str(ids[0]), str(fake.add(T0 + timedelta(days=10), FirstName="New"))]

            opts = {"base_url": fake.base_url, "requests_per_second": 0,
                    "timezone": "America/Chicago"}
            yield ConformanceSource(options={"api_key": KEY, **opts}, change=change,
                                    refused_options={"api_key": "ld-wrong-secret", **opts})
