"""Progress bars for records, golden rows and chunks (rich), quiet when not a terminal.

The chunk bar's ETA comes from the rate limit (bulk: 10 requests a minute), not from the
speed so far, because the limit — not the machine — is what bounds an upload.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..mega_model import BULK_PER_MINUTE, DEFAULT_PER_MINUTE


class Progress:
    """A thin facade: ``task(name, total)`` then ``advance(name, n)``; no-ops when quiet."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._per_minute = BULK_PER_MINUTE

    @contextmanager
    def running(self) -> Iterator[Progress]:
        if not self.enabled:
            yield self
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("{task.fields[eta]}"),
            console=Console(stderr=True), transient=False)
        with self._bar:
            yield self
        self._bar = None

    def task(self, name: str, total: int | None = None, *, live: bool = False) -> None:
        if self._bar is None:
            return
        if name == "chunks":
            self._per_minute = DEFAULT_PER_MINUTE if live else BULK_PER_MINUTE
        self._tasks[name] = self._bar.add_task(name, total=total, eta=self._eta(name, total, 0))

    def advance(self, name: str, n: int = 1) -> None:
        if self._bar is None or name not in self._tasks:
            return
        tid = self._tasks[name]
        self._bar.advance(tid, n)
        task = self._bar.tasks[tid]
        self._bar.update(tid, eta=self._eta(name, task.total, task.completed))

    def finish(self, name: str, count: int) -> None:
        """Mark a step done with its final count (creating its bar if needed)."""
        if self._bar is None:
            return
        if name not in self._tasks:
            self.task(name, count)
        self._bar.update(self._tasks[name], total=count, completed=count)

    def total(self, name: str, total: int) -> None:
        if self._bar is not None and name in self._tasks:
            self._bar.update(self._tasks[name], total=total)

    def _eta(self, name: str, total: float | None, done: float) -> str:
        if name != "chunks" or not total:
            return ""
        left = max(0.0, total - done - self._per_minute)  # the first window's worth is free
        seconds = int(left * 60 / self._per_minute)
        return f"rate-limit ETA {seconds // 60}m{seconds % 60:02d}s" if left else ""
