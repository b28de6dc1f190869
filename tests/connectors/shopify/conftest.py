import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors import _http  # noqa: E402
from tests.fakes.shopify import FakeShopify  # noqa: E402


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 0.01)
    for name in ("SHOPIFY_SHOP", "SHOPIFY_TOKEN", "SHOPIFY_CLIENT_ID", "SHOPIFY_CLIENT_SECRET",
                 "SHOPIFY_BASE_URL", "SHOPIFY_API_VERSION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    with FakeShopify() as f:
        yield f
