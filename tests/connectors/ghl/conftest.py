import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors import _http  # noqa: E402
from tests.fakes.ghl import FakeGHL  # noqa: E402


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 0.01)
    for name in ("GHL_TOKEN", "GHL_LOCATION_ID", "GHL_BASE_URL", "GHL_VERSION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    with FakeGHL() as f:
        yield f
