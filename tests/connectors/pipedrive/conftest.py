import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors import _http  # noqa: E402
from tests.fakes.pipedrive import FakePipedrive  # noqa: E402


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 0.01)
    for name in ("PIPEDRIVE_TOKEN", "PIPEDRIVE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    with FakePipedrive() as f:
        yield f
