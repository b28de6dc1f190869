"""Every built-in connector runs leadbridge.testing's conformance suite against its fake.

The fakes are the same real loopback servers the connector tests use (tests/fakes/); the
HTTP retry backoff is shrunk with the plugin's ``leadbridge_fast_http`` fixture.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


@pytest.fixture(autouse=True)
def _fast(leadbridge_fast_http):
    """Retries of a fake's 429/5xx do not wait real seconds."""
