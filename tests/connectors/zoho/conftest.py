import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors import _http  # noqa: E402
from tests.fakes.zoho import FakeZoho  # noqa: E402


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 0.01)
    for name in ("ZOHO_REFRESH_TOKEN", "ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_BASE_URL",
                 "ZOHO_ACCOUNTS_URL", "ZOHO_DATA_CENTER"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    with FakeZoho() as f:
        yield f
