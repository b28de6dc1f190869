"""Client-side pacing so leadbridge never exceeds MEGA's limits and never sees a 429 in steady state.

MEGA has two independent buckets (reference section 11): Default (60/minute and 1,000/hour)
and Bulk (10/minute). Its window algorithm is undocumented, so the pacer keeps a rule that is
safe against fixed windows, sliding windows and token buckets alike:

* **sliding log**: in any interval of one window's length, at most ``limit`` requests. Each
  request is logged at the moment its *answer* arrived (a server counts a request somewhere
  between our send and its answer, so logging the later instant can only be conservative);
* **spread**: while slots are free, consecutive sends of a bucket are at least
  ``period / limit`` apart (shortest window), so the log never fills in a burst; once the log
  is full each send waits for its own slot, which keeps the spacing without compounding.

It adapts to what the server says: ``RateLimit-Limit`` replaces the limit of the window it
reports (a customer may have other limits), and when ``RateLimit-Remaining`` is lower than the
pacer's own count allows (another process shares the key), the missing requests are logged as
"phantoms" that expire when ``RateLimit-Reset`` (or, on a 429, ``Retry-After``) says.

``time_scale`` shrinks every documented window (the sandbox's ``--time-scale``); the clock and
the sleep function are injectable.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..mega_model import BULK_PER_MINUTE, DEFAULT_PER_HOUR, DEFAULT_PER_MINUTE
from .classify import header_seconds

__all__ = ["BUCKET_BULK", "BUCKET_DEFAULT", "DEFAULT_LIMITS", "Bucket", "Pacer", "Window"]

log = logging.getLogger("leadbridge.mega")

BUCKET_DEFAULT = "default"
BUCKET_BULK = "bulk"

#: bucket -> ((limit, period seconds), ...) as documented.
DEFAULT_LIMITS: dict[str, tuple[tuple[int, float], ...]] = {
    BUCKET_DEFAULT: ((DEFAULT_PER_MINUTE, 60.0), (DEFAULT_PER_HOUR, 3600.0)),
    BUCKET_BULK: ((BULK_PER_MINUTE, 60.0),),
}


@dataclass
class Window:
    """``limit`` requests per ``period`` seconds (already scaled)."""

    limit: int
    period: float
    #: When each logged request stops counting (answer time + period, or a phantom's expiry).
    expiries: list[float] = field(default_factory=list)

    def prune(self, now: float) -> None:
        if self.expiries and min(self.expiries) <= now:
            self.expiries = [e for e in self.expiries if e > now]

    def wait(self, now: float, in_flight: int) -> float:
        """Seconds until one more request fits (in-flight requests count as logged now)."""
        self.prune(now)
        used = len(self.expiries) + in_flight
        if used < self.limit:
            return 0.0
        # the (used - limit + 1)-th expiry frees the slot; in-flight ones expire >= now+period
        ordered = sorted(self.expiries) + [now + self.period] * in_flight
        return max(0.0, ordered[used - self.limit] - now)

    def remaining(self, now: float) -> int:
        self.prune(now)
        return self.limit - len(self.expiries)


@dataclass
class Bucket:
    """One MEGA rate bucket: its windows, spacing and in-flight count."""

    name: str
    windows: list[Window]
    spread: bool = True
    last_send: float = -math.inf
    in_flight: int = 0

    @property
    def spacing(self) -> float:
        if not self.spread:
            return 0.0
        shortest = min(self.windows, key=lambda w: w.period)
        return shortest.period / shortest.limit

    def wait(self, now: float) -> float:
        """Seconds until the next send. A request that waited for a slot is already spaced
        by that slot's expiry, so the spread applies only while slots are free; applying
        both would let every late answer push all later sends back (compounding delays)."""
        slot_wait = max(w.wait(now, self.in_flight) for w in self.windows)
        if slot_wait > 0:
            return slot_wait
        return max(0.0, self.last_send + self.spacing - now)


class Pacer:
    """Decides when each request may go; thread-safe; one per client."""

    def __init__(self, limits: Mapping[str, tuple[tuple[int, float], ...]] | None = None, *,
                 time_scale: float = 1.0, server_time_scale: float = 1.0, spread: bool = True,
                 enabled: bool = True, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        """``server_time_scale`` multiplies the seconds the server sends (Reset, Retry-After);
        leave it at 1.0 when the server already sends real seconds."""
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = time_scale
        self.server_time_scale = server_time_scale
        self.enabled = enabled
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self.buckets: dict[str, Bucket] = {
            name: Bucket(name, [Window(limit, period * time_scale) for limit, period in spec],
                         spread=spread)
            for name, spec in (limits or DEFAULT_LIMITS).items()
        }
        self.waited = 0.0

    # -- sending ---------------------------------------------------------------------------

    def acquire(self, bucket: str) -> None:
        """Block until a request in ``bucket`` may go, then count it as in flight."""
        b = self.buckets[bucket]
        while True:
            with self._lock:
                now = self.clock()
                wait = b.wait(now) if self.enabled else 0.0
                if wait <= 0:
                    b.in_flight += 1
                    b.last_send = now
                    return
            log.debug("pacing %s bucket: waiting %.3fs", bucket, wait)
            self.waited += wait
            self.sleep(wait)

    def complete(self, bucket: str) -> None:
        """The request got its answer (or failed): log it from now on."""
        b = self.buckets[bucket]
        with self._lock:
            now = self.clock()
            b.in_flight = max(0, b.in_flight - 1)
            for w in b.windows:
                w.expiries.append(now + w.period)

    # -- adapting to the server -------------------------------------------------------------

    def observe(self, bucket: str, headers: Mapping[str, str], status: int,
                retry_after: float | None = None) -> None:
        """Adapt to ``RateLimit-*`` headers (and ``Retry-After`` on a 429)."""
        limit = _int(headers.get("ratelimit-limit"))
        remaining = _int(headers.get("ratelimit-remaining"))
        reset = _seconds(headers.get("ratelimit-reset"), headers.get("ratelimit-reset-ms"))
        if limit is None or limit < 1:
            return
        b = self.buckets[bucket]
        with self._lock:
            now = self.clock()
            window = self._window_for(b, limit, reset)
            if window.limit != limit:
                log.debug("%s bucket: server reports limit %d per %.1fs window (was %d)",
                          bucket, limit, window.period, window.limit)
                window.limit = limit
            if remaining is None:
                return
            horizon = retry_after if (status == 429 and retry_after is not None) else reset
            if horizon is None:
                expires = now + window.period
            else:
                expires = now + min(window.period, horizon * self.server_time_scale)
            # requests still in flight may already be counted by the server; a negative
            # remaining means none left (never more phantoms than the window holds)
            missing = window.remaining(now) - b.in_flight - max(0, remaining)
            if missing > 0:
                log.debug("%s bucket: server has %d fewer requests left than counted; "
                          "holding them for %.3fs", bucket, missing, expires - now)
                window.expiries.extend([expires] * missing)

    @staticmethod
    def _window_for(b: Bucket, limit: int, reset: float | None) -> Window:
        """The window the server reports: same limit, else the one nearest in scale (an
        override of 120/minute is the minute window, 5,000/hour the hour window)."""
        for w in b.windows:
            if w.limit == limit:
                return w
        return min(b.windows, key=lambda w: (abs(math.log(limit / w.limit)), w.period))

    # -- for callers that want to know ---------------------------------------------------------

    def snapshot(self) -> dict[str, list[tuple[int, float, int]]]:
        """bucket -> [(limit, period, remaining)] as the pacer sees it now."""
        with self._lock:
            now = self.clock()
            return {name: [(w.limit, w.period, w.remaining(now)) for w in b.windows]
                    for name, b in self.buckets.items()}


#: A count beyond this in a ``RateLimit-*`` header is garbage (MEGA's limits are 10..1,000).
_MAX_COUNT = 1_000_000


def _int(value: str | None) -> int | None:
    """A ``RateLimit-Limit``/``-Remaining`` count; ``None`` when absent, not a number, not
    finite or beyond ``_MAX_COUNT`` (``inf`` raised OverflowError, ``1e300`` made the pacer
    build a list of that many phantoms)."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number) or abs(number) > _MAX_COUNT:
        return None
    return int(number)


def _seconds(value: str | None, ms: str | None) -> float | None:
    """Seconds from an integer header, or from its millisecond twin when the server sends one
    (the sandbox does, so sub-second windows under ``--time-scale`` stay exact)."""
    seconds = header_seconds(ms, unit=0.001)
    return seconds if seconds is not None else header_seconds(value)
