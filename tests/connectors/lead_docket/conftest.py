import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors import _http  # noqa: E402
from tests.fakes.lead_docket import FakeLeadDocket  # noqa: E402


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 0.01)
    for name in ("LEAD_DOCKET_FIRM", "LEAD_DOCKET_API_KEY", "LEAD_DOCKET_BASE_URL",
                 "LEAD_DOCKET_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    with FakeLeadDocket() as f:
        yield f
