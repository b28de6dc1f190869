"""Rate limits per key: headers on every answer, 429 + Retry-After, independent buckets."""

from __future__ import annotations

import time

from sandbox_support import grant

LEADS = "/api/agents/crm/leads"


def _ints(response) -> tuple[int, int, int]:
    h = response.headers
    return int(h["RateLimit-Limit"]), int(h["RateLimit-Remaining"]), int(h["RateLimit-Reset"])


def test_headers_on_success_and_error(api) -> None:
    ok = api.list()
    limit, remaining, reset = _ints(ok)
    assert (limit, remaining) == (60, 59) and 0 < reset <= 60
    bad = api.list(limit=0)
    assert bad.status_code == 400 and _ints(bad)[1] == 58
    bulk = api.bulk([{"contact_name": "x"}])
    assert _ints(bulk)[:2] == (10, 9)  # the Bulk bucket is its own counter
    assert _ints(api.list())[1] == 57


def test_429_with_retry_after_then_refill(make_sandbox, api_for) -> None:
    g = grant()
    # a minute lasts 0.6 s; the Bulk bucket allows 3 in that window
    sandbox = make_sandbox(tokens=(g,), time_scale=0.01, bulk_per_minute=3)
    api = api_for(sandbox, g)
    started = time.monotonic()
    answers = [api.bulk([{"contact_name": f"n{i}"}]) for i in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    limited = answers[3]
    if time.monotonic() - started < 0.5:  # a very slow machine may have slid the window
        assert limited.status_code == 429
        assert limited.json()["error"] == {"type": "rate_limit_error", "code": 429,
                                           "message": "Rate limit exceeded. Please retry later."}
        assert int(limited.headers["Retry-After"]) >= 1
        assert 0 < int(limited.headers["Retry-After-Ms"]) <= 600
        assert _ints(limited)[:2] == (3, 0)
        assert len(sandbox.leads(g.customer_id)) == 3  # the refused request wrote nothing
        assert api.list().status_code == 200  # the Default bucket is untouched
    time.sleep(0.65)
    assert api.bulk([{"contact_name": "later"}]).status_code == 200


def test_limits_are_per_key(make_sandbox, api_for) -> None:
    a, b = grant(), grant()
    sandbox = make_sandbox(tokens=(a, b), default_per_minute=2, time_scale=10)
    api_a, api_b = api_for(sandbox, a), api_for(sandbox, b)
    assert [api_a.list().status_code for _ in range(3)] == [200, 200, 429]
    assert api_b.list().status_code == 200


def test_hourly_window_reported_when_tighter(make_sandbox, api_for) -> None:
    g = grant()
    sandbox = make_sandbox(tokens=(g,), default_per_minute=5, default_per_hour=3)
    api = api_for(sandbox, g)
    answers = [api.list() for _ in range(4)]
    assert [_ints(a)[0] for a in answers] == [3, 3, 3, 3]
    assert answers[3].status_code == 429 and int(answers[3].headers["Retry-After"]) > 60
