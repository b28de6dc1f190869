"""Fixtures for the sandbox tests: real servers on 127.0.0.1, checked against OpenAPI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sandbox_support import MODEL_GRANTS, SPEC_PATH, Api, OpenAPI, grant

from leadbridge.sandbox import Sandbox, SandboxConfig, TokenGrant


@pytest.fixture(scope="session")
def openapi() -> OpenAPI:
    return OpenAPI(SPEC_PATH)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def make(**overrides: Any) -> Sandbox:
        overrides.setdefault("tokens", (grant(),))
        sandbox = Sandbox(SandboxConfig(**overrides)).start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()


@pytest.fixture
def api(sandbox: Sandbox, openapi: OpenAPI) -> Iterator[Api]:
    client = Api(sandbox, sandbox.config.tokens[0], openapi)
    yield client
    client.close()


@pytest.fixture
def api_for(openapi: OpenAPI) -> Iterator[Callable[[Sandbox, TokenGrant], Api]]:
    made: list[Api] = []

    def make(sandbox: Sandbox, g: TokenGrant) -> Api:
        client = Api(sandbox, g, openapi)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def make_sandbox_once(make_sandbox: Callable[..., Sandbox], openapi: OpenAPI) -> Iterator[Api]:
    """One sandbox with roomy limits shared by every example of a Hypothesis test."""
    sandbox = make_sandbox(default_per_minute=100_000, default_per_hour=100_000,
                           bulk_per_minute=100_000)
    client = Api(sandbox, sandbox.config.tokens[0], openapi)
    yield client
    client.close()


@pytest.fixture
def model_sandbox(make_sandbox: Callable[..., Sandbox], openapi: OpenAPI):
    """A sandbox with many customers, so each Hypothesis example starts on an empty one."""
    sandbox = make_sandbox(tokens=tuple(MODEL_GRANTS), default_per_minute=100_000,
                           default_per_hour=100_000, bulk_per_minute=100_000)
    made: list[Api] = []

    def make_api(g: TokenGrant) -> Api:
        client = Api(sandbox, g, openapi)
        made.append(client)
        return client

    yield sandbox, make_api
    for client in made:
        client.close()
