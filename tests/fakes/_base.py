"""What every fake CRM shares: its server's lifecycle and the sliding rate-limit window.

Each fake only says which routes it serves and how its API words an error; starting on
127.0.0.1, stopping, the ``with`` form and ``base_url`` are the same for all of them, and so is
the "N requests in the last S seconds" rule most CRMs document.
"""

from __future__ import annotations

import time
from typing import TypeVar

from leadbridge.httpserver import JSONServer, Response, Router

F = TypeVar("F", bound="FakeServer")


class FakeServer:
    """Base of the fakes: subclasses implement ``routes`` and may override ``error``."""

    _server: JSONServer | None = None

    def routes(self, router: Router) -> None:
        """Add this fake's endpoints to ``router``."""
        raise NotImplementedError

    def error(self, status: int, message: str) -> Response:
        """The API's error body for a request no route answers (404, 405, bad JSON)."""
        return Response(status, {"message": message})

    def start(self: F) -> F:
        router = Router()
        self.routes(router)
        self._server = JSONServer(router, error=self.error, poll_interval=0.05).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()

    def __enter__(self: F) -> F:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server, "start the fake first"
        return self._server.base_url


class SlidingWindow:
    """Times of the requests admitted in the last ``seconds`` (given per call, because tests
    shrink a fake's window after building it)."""

    def __init__(self) -> None:
        self.hits: list[float] = []

    def count(self, seconds: float) -> int:
        """Requests still inside the window now (older ones are forgotten)."""
        now = time.monotonic()
        self.hits = [t for t in self.hits if now - t < seconds]
        return len(self.hits)

    def admit(self, limit: int, seconds: float) -> bool:
        """Record a request unless ``limit`` are already in the window."""
        if self.count(seconds) >= limit:
            return False
        self.hits.append(time.monotonic())
        return True

    def reset_in(self, seconds: float) -> float:
        """Seconds until the oldest request leaves the window (the whole window if empty)."""
        if not self.count(seconds):
            return seconds
        return max(seconds - (time.monotonic() - min(self.hits)), 0.0)

    def spend(self, n: int) -> None:
        """Pretend another client just made ``n`` requests."""
        self.hits.extend([time.monotonic()] * n)
