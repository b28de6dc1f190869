from datetime import datetime, timedelta, timezone

import pytest

from leadbridge.connectors.zoho import ZohoConnector
from leadbridge.testing import ConformanceSource, ConnectorConformance
from tests.fakes.zoho import FakeZoho

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc)


class TestZohoConformance(ConnectorConformance):
    connector_class = ZohoConnector

    @pytest.fixture
    def conformance_source(self):
        with FakeZoho() as fake:
            lead = fake.add("Leads", T0, First_Name="Maria", Last_Name="Okafor",
                            Email="maria@example.com", Phone="(555) 555-0142",
                            Owner={"name": "Sam", "id": "9", "email": "sam@example.com"},
                            Lead_Status="Not Contacted")
            fake.add("Contacts", T0 + timedelta(days=1), Last_Name="Chen",
                     Email="chen@example.com")

            def change():
                fake.touch("Leads", lead, T0 + timedelta(days=5), Lead_Status="Contacted")
                new = fake.add("Contacts", T0 + timedelta(days=6), Last_Name="New")
                return [lead, new]

            opts = {"client_id": fake.client_id, "client_secret": fake.client_secret,
                    "accounts_url": fake.base_url}
            yield ConformanceSource(
                options={"refresh_token": fake.refresh_token, **opts}, change=change,
                refused_options={"refresh_token": "1000.wrong-refresh-secret", **opts})
