import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors import _http  # noqa: E402
from tests.fakes.followupboss import FakeFUB  # noqa: E402


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 0.01)
    for name in ("FUB_API_KEY", "FUB_SYSTEM", "FUB_SYSTEM_KEY", "FUB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    with FakeFUB() as f:
        yield f
