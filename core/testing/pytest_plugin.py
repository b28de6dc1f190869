"""pytest plugin (entry point ``pytest11``) exposing leadbridge's fixtures to connector authors.

Loaded in every pytest session where leadbridge is installed, so it imports nothing heavy
until a fixture is used. Fixtures:

``leadbridge_sandbox``
    A real MEGA sandbox (``leadbridge.sandbox.Sandbox``) serving on 127.0.0.1 for one test,
    with rate-limit windows shrunk 100x so a test never waits a real minute. Its first
    token and customer are ``box.config.tokens[0].token`` / ``.customer_id``.
``leadbridge_mega_env``
    Sets ``MEGA_BASE_URL``, ``MEGA_TOKEN`` and ``MEGA_CUSTOMER_ID`` to the sandbox's (and
    unsets the ``MEGA_SOURCE_*`` pair) for the test, then restores them; returns the dict,
    ready to pass to a ``leadbridge`` subprocess as ``env={**os.environ, **it}``.
``leadbridge_fast_http``
    Shrinks the HTTP connectors' retry backoff (``leadbridge.connectors._http``) 100x for the
    test, so a fake server's 429/5xx is retried without real waits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from leadbridge.sandbox import Sandbox

#: Time scale of ``leadbridge_sandbox``: a rate-limit minute lasts 0.6 s.
SANDBOX_TIME_SCALE = 0.01


@pytest.fixture
def leadbridge_sandbox() -> Iterator[Sandbox]:
    """A MEGA sandbox on 127.0.0.1, started for the test and stopped after it."""
    from leadbridge.sandbox import Sandbox, SandboxConfig

    with Sandbox(SandboxConfig.default(time_scale=SANDBOX_TIME_SCALE, seed=1)) as box:
        yield box


@pytest.fixture
def leadbridge_mega_env(leadbridge_sandbox: Sandbox,
                        monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """MEGA_* environment variables pointing at ``leadbridge_sandbox`` (set for the test)."""
    grant = leadbridge_sandbox.config.tokens[0]
    env = {"MEGA_BASE_URL": leadbridge_sandbox.base_url, "MEGA_TOKEN": grant.token,
           "MEGA_CUSTOMER_ID": grant.customer_id}
    for name in ("MEGA_SOURCE_TOKEN", "MEGA_SOURCE_CUSTOMER_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def leadbridge_fast_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP connector retries back off 100x faster during the test."""
    from leadbridge.connectors import _http

    monkeypatch.setattr(_http, "BACKOFF_SCALE", _http.BACKOFF_SCALE * 0.01)
