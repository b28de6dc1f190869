import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors import _http  # noqa: E402
from tests.fakes.salesforce import FakeSalesforce  # noqa: E402


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 0.01)
    for name in ("SALESFORCE_LOGIN_URL", "SALESFORCE_BASE_URL", "SALESFORCE_CLIENT_ID",
                 "SALESFORCE_CLIENT_SECRET", "SALESFORCE_REFRESH_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    with FakeSalesforce() as f:
        yield f
