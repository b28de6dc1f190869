"""Salesforce passes leadbridge.testing's conformance suite against the fake org, with the
REST query and with Bulk API 2.0 reads."""

import pytest

from leadbridge.connectors.salesforce import SalesforceConnector
from leadbridge.testing import ConformanceSource, ConnectorConformance
from tests.fakes.salesforce import FakeSalesforce

TS = "2026-02-{:02d}T10:00:00.000+0000"


class TestSalesforceConformance(ConnectorConformance):
    connector_class = SalesforceConnector
    bulk_threshold = 10**9

    @pytest.fixture
    def conformance_source(self):
        with FakeSalesforce() as fake:
            for i in range(1, 4):
                fake.add("Lead", f"00Q{i}", TS.format(i), Email=f"l{i}@example.com", Name=f"L {i}")
            fake.add("Lead", "00Q5", TS.format(4), IsDeleted=True)

            def change():
                fake.rows["Lead"][0].update(SystemModstamp=TS.format(10), Email="x@example.com")
                fake.add("Lead", "00Q9", TS.format(11), Email="n@example.com")
                return ["00Q1", "00Q9"]

            common = {"client_id": "cid", "base_url": fake.base_url,
                      "bulk_threshold": self.bulk_threshold}
            yield ConformanceSource(
                options={**common, "client_secret": "sf-client-secret"},
                change=change,
                refused_options={**common, "client_secret": "sf-wrong-secret-123"},
            )


class TestSalesforceBulkConformance(TestSalesforceConformance):
    bulk_threshold = 0  # every read through a Bulk API 2.0 job
