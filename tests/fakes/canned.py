"""A fake API that answers what a test hands it, for malformed-answer regression tests.

Why: the CRM fakes model well-behaved vendors; the robustness tests need a server on
127.0.0.1 that sends what no vendor should (HTML with a 200, a paging cursor that comes back,
a record whose list is a number) so the connector's answer to it is tested over real HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadbridge.httpserver import Request, Response, Router

from ._base import FakeServer

#: A route's answer: a fixed body (JSON-serializable, or a Response), or a callable that gets
#: the request and how many times this route was called (1 first).
Answer = Any | Callable[[Request, int], Any]


class Canned(FakeServer):
    """``Canned({("GET", "/v1/users"): {"data": []}, ...})``; ``calls`` counts each route."""

    def __init__(self, answers: dict[tuple[str, str], Answer]) -> None:
        self.answers = answers
        self.calls: dict[tuple[str, str], int] = {}

    def routes(self, router: Router) -> None:
        for (method, path), answer in self.answers.items():
            router.add(method, path, self._handler((method, path), answer))

    def _handler(self, route: tuple[str, str], answer: Answer) -> Callable[[Request], Response]:
        def handle(req: Request) -> Response:
            n = self.calls[route] = self.calls.get(route, 0) + 1
            body = answer(req, n) if callable(answer) else answer
            return body if isinstance(body, Response) else Response(200, body)
        return handle
