from datetime import datetime, timedelta, timezone

import pytest

from leadbridge.connectors.shopify import ShopifyConnector
from leadbridge.testing import ConformanceSource, ConnectorConformance
from tests.fakes.shopify import FakeShopify

T0 = datetime(2026, 3, 2, 8, 40, tzinfo=timezone.utc)
TOKEN = "shpat_secret_token"


class TestShopifyConformance(ConnectorConformance):
    connector_class = ShopifyConnector

    @pytest.fixture
    def conformance_source(self):
        with FakeShopify() as fake:
            ids = [fake.add(T0 + timedelta(days=i), firstName="Priya", lastName=str(i),
                            defaultEmailAddress={"emailAddress": f"p{i}@example.com"},
                            tags=["wholesale"]) for i in range(3)]

            def change():
                fake.touch(ids[2], T0 + timedelta(days=9), lastName="Changed")
                new = fake.add(T0 + timedelta(days=10),
                               defaultPhoneNumber={"phoneNumber": "+15555550190"})
                return [str(ids[2]), str(new)]

            yield ConformanceSource(
                options={"token": TOKEN, "base_url": fake.base_url}, change=change,
                refused_options={"token": "shpat_wrong_secret", "base_url": fake.base_url})
