import pytest

from leadbridge.connectors.salesforce import SalesforceConnector
from leadbridge.testing import ConformanceSource, ConnectorConformance
from tests.fakes.salesforce import FakeSalesforce


def ts(day):
    return f"2026-02-{day:02d}T10:00:00.000+0000"


class TestSalesforceConformance(ConnectorConformance):
    connector_class = SalesforceConnector

    @pytest.fixture
    def conformance_source(self):
        with FakeSalesforce() as fake:
            rows = [fake.add("Lead", f"00Q{i:05d}", ts(i + 1), FirstName="Lead", LastName=str(i),
                             Email=f"l{i}@example.com", Status="Open", OwnerEmail="o@x.com",
                             Budget__c=i * 10) for i in range(3)]

            def change():
                rows[0].update(SystemModstamp=ts(20), Email="changed@example.com")
                fake.add("Lead", "00Q99999", ts(21), LastName="New", Email="new@example.com")
                return ["00Q00000", "00Q99999"]

            opts = {"login_url": fake.base_url, "client_id": fake.client_id,
                    "custom_fields": "Budget__c"}
            yield ConformanceSource(
                options={"client_secret": fake.client_secret, **opts}, change=change,
                refused_options={"client_secret": "sf-wrong-secret", **opts})
