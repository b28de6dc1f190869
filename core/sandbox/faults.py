"""Fault switches for rehearsals: errors before the write, errors or drops after it, latency.

One seeded generator under a lock, so a given ``--seed`` and request order give the same
faults every run.
"""

from __future__ import annotations

import random
import threading
import time


class Faults:
    def __init__(self, fail_before: float = 0.0, fail_after: float = 0.0, latency: float = 0.0,
                 seed: int | None = None) -> None:
        self.fail_before, self.fail_after, self.latency = fail_before, fail_after, latency
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.counts = {"before": 0, "after_error": 0, "after_drop": 0}

    def delay(self) -> None:
        if self.latency > 0:
            time.sleep(self.latency)

    def before(self) -> bool:
        """Whether to fail this request before anything is written."""
        if self.fail_before <= 0:
            return False
        with self._lock:
            hit = self._rng.random() < self.fail_before
            if hit:
                self.counts["before"] += 1
            return hit

    def after(self) -> str | None:
        """None, "error" (answer 5xx) or "drop" (close the socket) for a committed write."""
        if self.fail_after <= 0:
            return None
        with self._lock:
            if self._rng.random() >= self.fail_after:
                return None
            kind = "drop" if self._rng.random() < 0.5 else "error"
            self.counts["after_" + kind] += 1
            return kind
