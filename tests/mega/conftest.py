"""Fixtures for the MEGA client tests: the real sandbox and tiny scripted servers, on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from mega_support import SCALE, Scripted, Seen, client_for

from leadbridge.httpserver import JSONServer, Request, Response, Router
from leadbridge.mega import MegaClient
from leadbridge.sandbox import Sandbox, SandboxConfig


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def make(**overrides: object) -> Sandbox:
        overrides.setdefault("time_scale", SCALE)
        overrides.setdefault("seed", 7)
        sb = Sandbox(SandboxConfig.default(**overrides)).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Sandbox]) -> Sandbox:
    return sandbox_factory()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[MegaClient]:
    with client_for(sandbox) as c:
        yield c


@pytest.fixture(scope="session")
def _scripted_server() -> Iterator[tuple[JSONServer, dict]]:
    """One loopback server for every scripted test (stopping a server costs 0.5 s)."""
    state: dict = {"answers": [], "record": None}
    lock = threading.Lock()

    def handle(request: Request) -> Response:
        with lock:
            record: Scripted = state["record"]
            answers = state["answers"]
            index = len(record.seen)
            record.seen.append(Seen(time.monotonic(), request.method, request.path,
                                    dict(request.headers), request.body,
                                    {k: v[0] for k, v in request.query.items()}))
        answer = answers[min(index, len(answers) - 1)]
        return answer(request) if callable(answer) else answer

    router = Router()
    for method in ("GET", "POST", "PATCH", "DELETE"):
        for path in ("/api/agents/crm/leads", "/api/agents/crm/leads/bulk",
                     "/api/agents/crm/leads/{id}/stage", "/api/agents/crm/lead-webhooks",
                     "/api/agents/crm/lead-webhooks/{id}"):
            router.add(method, path, handle)
    with JSONServer(router, poll_interval=0.05) as server:
        yield server, state


@pytest.fixture
def scripted(_scripted_server) -> Callable[..., Scripted]:
    """``scripted(answers)``: each request takes the next answer (the last one repeats).

    An answer is a Response, or a callable (Request) -> Response. Calling it again starts a
    fresh script and a fresh record.
    """
    server, state = _scripted_server

    def make(answers: list[Response | Callable[[Request], Response]]) -> Scripted:
        record = Scripted(server)
        state["answers"], state["record"] = list(answers), record
        return record

    return make
