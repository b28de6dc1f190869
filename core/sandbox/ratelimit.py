"""Per-key rate limits with sliding windows, MEGA's buckets and headers (reference section 11).

Default: 60/minute and 1,000/hour; Bulk: 10/minute on its own counter. A sliding log (not a
fixed window) so ``Retry-After`` (when the oldest request leaves the window) can be shorter
than ``RateLimit-Reset`` (when the window is completely refilled), as in MEGA's sample.
``time_scale`` shrinks every window for tests.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

DEFAULT_BUCKET = "default"
BULK_BUCKET = "bulk"


@dataclass(frozen=True)
class Window:
    limit: int
    seconds: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: float  # seconds until the reported window is completely refilled
    retry_after: float | None  # seconds until one more request is allowed (denied only)

    def headers(self) -> dict[str, str]:
        """RateLimit-* (integer seconds, rounded up) plus millisecond twins.

        The integers are MEGA's documented headers; the ``-Ms`` twins keep pacing exact
        when ``--time-scale`` makes windows shorter than a second.
        """
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset)),
            "RateLimit-Reset-Ms": str(math.ceil(self.reset * 1000)),
        }
        if self.retry_after is not None:
            out["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
            out["Retry-After-Ms"] = str(max(1, math.ceil(self.retry_after * 1000)))
        return out


class RateLimiter:
    def __init__(self, buckets: dict[str, tuple[Window, ...]],
                 clock=time.monotonic) -> None:
        self._buckets = buckets
        self._clock = clock
        self._logs: dict[tuple[str, str, int], deque[float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_config(cls, default_per_minute: int, default_per_hour: int, bulk_per_minute: int,
                   time_scale: float = 1.0) -> RateLimiter:
        minute, hour = 60.0 * time_scale, 3600.0 * time_scale
        return cls({
            DEFAULT_BUCKET: (Window(default_per_minute, minute), Window(default_per_hour, hour)),
            BULK_BUCKET: (Window(bulk_per_minute, minute),),
        })

    def hit(self, key: str, bucket: str) -> Decision:
        """Count one request (when allowed) and say what to report."""
        windows = self._buckets[bucket]
        with self._lock:
            now = self._clock()
            logs = []
            for i, window in enumerate(windows):
                log = self._logs.setdefault((key, bucket, i), deque())
                while log and log[0] <= now - window.seconds:
                    log.popleft()
                logs.append(log)
            full = [(w, log) for w, log in zip(windows, logs) if len(log) >= w.limit]
            if full:
                window, log = max(full, key=lambda wl: wl[1][len(wl[1]) - wl[0].limit]
                                  + wl[0].seconds)
                retry = max(log[len(log) - window.limit] + window.seconds - now
                            for window, log in full)
                reset = log[-1] + window.seconds - now
                return Decision(False, window.limit, 0, max(reset, 0.0), max(retry, 0.001))
            for log in logs:
                log.append(now)
            # report the window closest to exhaustion (ties: the shorter window)
            window, log = min(zip(windows, logs), key=lambda wl: wl[0].limit - len(wl[1]))
            reset = log[-1] + window.seconds - now
            return Decision(True, window.limit, window.limit - len(log), max(reset, 0.0), None)
