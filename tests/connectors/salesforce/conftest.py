import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from leadbridge.connectors import _http  # noqa: E402
from tests.fakes.salesforce import FakeSalesforce  # noqa: E402

ENV = ("SALESFORCE_LOGIN_URL", "SALESFORCE_BASE_URL", "SALESFORCE_CLIENT_ID",
       "SALESFORCE_CLIENT_SECRET", "SALESFORCE_REFRESH_TOKEN", "SALESFORCE_USERNAME",
       "SALESFORCE_PRIVATE_KEY_FILE", "SALESFORCE_AUDIENCE")


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr(_http, "BACKOFF_SCALE", 0.01)
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    with FakeSalesforce() as f:
        yield f


def _pem_pair():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return pem, key.public_key()


@pytest.fixture(scope="session")
def key_pair(tmp_path_factory):
    """A connected app's key pair: (path of the PEM private key file, public key)."""
    pem, public = _pem_pair()
    path = tmp_path_factory.mktemp("sfkey") / "server.key"
    path.write_bytes(pem)
    return path, public


@pytest.fixture(scope="session")
def other_key(tmp_path_factory):
    """A private key the org does not know."""
    pem, _ = _pem_pair()
    path = tmp_path_factory.mktemp("sfkey2") / "other.key"
    path.write_bytes(pem)
    return path
