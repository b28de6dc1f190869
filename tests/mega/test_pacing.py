"""The pacer on an injected clock: documented limits, separate buckets, header adaptation."""

from __future__ import annotations

from leadbridge.mega import Pacer


class FakeTime:
    """A clock that only moves when the pacer sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _send(pacer: Pacer, bucket: str, t: FakeTime, n: int, latency: float = 0.0) -> list[float]:
    times = []
    for _ in range(n):
        pacer.acquire(bucket)
        times.append(t.now)
        t.now += latency
        pacer.complete(bucket)
    return times


def _max_in_any_window(times: list[float], period: float) -> int:
    return max(sum(1 for u in times[i:] if u < start + period) for i, start in enumerate(times))


def test_bulk_never_exceeds_10_per_minute_and_runs_at_the_limit() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    times = _send(pacer, "bulk", t, 50, latency=0.2)
    assert _max_in_any_window(times, 60.0) <= 10
    rate = (len(times) - 1) / (times[-1] - times[0]) * 60
    assert rate >= 9.5  # >= 95 % of the allowed 10/minute
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 6.0 - 1e-9  # spread: one request every 6 s, no bursts


def test_default_bucket_honours_both_minute_and_hour_windows() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    times = _send(pacer, "default", t, 1100)
    assert _max_in_any_window(times, 60.0) <= 60
    assert _max_in_any_window(times, 3600.0) <= 1000
    assert times[1000] - times[0] >= 3600.0  # the 1,001st waits for the hour window


def test_buckets_are_independent() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    _send(pacer, "bulk", t, 1)
    start = t.now
    _send(pacer, "default", t, 1)
    assert t.now == start  # a bulk request does not delay a default one


def test_time_scale_shrinks_windows() -> None:
    t = FakeTime()
    pacer = Pacer(time_scale=0.01, clock=t.clock, sleep=t.sleep)
    times = _send(pacer, "bulk", t, 21)
    assert _max_in_any_window(times, 0.6) <= 10
    assert times[-1] - times[0] < 1.3


def test_server_limit_and_remaining_are_adopted() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    pacer.acquire("bulk")
    pacer.complete("bulk")
    # a customer override: 4 per minute, 0 left, refilled in 30 s
    pacer.observe("bulk", {"ratelimit-limit": "4", "ratelimit-remaining": "0",
                           "ratelimit-reset": "30"}, 200)
    before = t.now
    pacer.acquire("bulk")
    assert t.now - before >= 30.0
    pacer.complete("bulk")
    assert pacer.snapshot()["bulk"][0][0] == 4


def test_429_holds_the_bucket_for_retry_after_not_the_full_reset() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep, spread=False)
    pacer.acquire("default")
    pacer.complete("default")
    pacer.observe("default", {"ratelimit-limit": "60", "ratelimit-remaining": "0",
                              "ratelimit-reset": "42"}, 429, retry_after=30.0)
    before = t.now
    pacer.acquire("default")
    assert 30.0 <= t.now - before < 42.0


def test_disabled_pacer_never_waits() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep, enabled=False)
    _send(pacer, "bulk", t, 30)
    assert t.slept == []


def test_overrides_land_on_the_window_they_belong_to() -> None:
    t = FakeTime()
    pacer = Pacer(clock=t.clock, sleep=t.sleep)
    pacer.observe("default", {"ratelimit-limit": "120", "ratelimit-remaining": "119"}, 200)
    pacer.observe("default", {"ratelimit-limit": "5000", "ratelimit-remaining": "4999"}, 200)
    assert [w[0] for w in pacer.snapshot()["default"]] == [120, 5000]
    times = _send(pacer, "default", t, 130)
    assert _max_in_any_window(times, 60.0) <= 120
