import time

import pytest

from leadbridge.connectors.mega import MegaConnector
from leadbridge.mega import MegaClient
from leadbridge.testing import ConformanceSource, ConnectorConformance


class TestMegaConformance(ConnectorConformance):
    """MEGA as a source, read from the plugin's real sandbox on 127.0.0.1."""

    connector_class = MegaConnector

    @pytest.fixture
    def conformance_source(self, leadbridge_sandbox, monkeypatch):
        for name in ("MEGA_TOKEN", "MEGA_CUSTOMER_ID", "MEGA_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        grant = leadbridge_sandbox.config.tokens[0]

        def client():
            return MegaClient(base_url=leadbridge_sandbox.base_url, token=grant.token,
                              customer_id=grant.customer_id, time_scale=0.01)

        with client() as c:
            c.bulk_import([{"row_ref": f"r{i}", "contact_name": f"Lead {i}",
                                 "contact_email": f"lead{i}@example.com",
                                 "source_platform": "hubspot"} for i in range(3)])

        def change():
            time.sleep(0.01)  # sandbox timestamps are real time: the change must be newer
            with client() as c:
                c.bulk_import([{"row_ref": "n", "contact_name": "New",
                                     "contact_email": "new@example.com"}])
            leads = leadbridge_sandbox.leads(grant.customer_id)
            return [str(lead["id"]) for lead in leads if lead["contact_email"] ==
                    "new@example.com"]

        # Every sandbox lead is milliseconds old, all inside the default 60 s lookback: the
        # unchanged-rerun check proves the cursor skips versions it already yielded there.
        opts = {"base_url": leadbridge_sandbox.base_url, "customer_id": grant.customer_id,
                "time_scale": 0.01}
        return ConformanceSource(options={"token": grant.token, **opts}, change=change,
                                 refused_options={"token": "mega_" + "0" * 64, **opts})
