import pytest

from leadbridge.sandbox import Sandbox, SandboxConfig


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("MEGA_SOURCE_TOKEN", "MEGA_SOURCE_CUSTOMER_ID", "MEGA_BASE_URL", "MEGA_TOKEN",
                 "MEGA_CUSTOMER_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def source():
    """A MEGA sandbox playing the source customer's account."""
    config = SandboxConfig.default()
    config = SandboxConfig(tokens=config.tokens, time_scale=0.01)
    with Sandbox(config) as sb:
        yield sb
