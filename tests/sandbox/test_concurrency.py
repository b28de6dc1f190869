"""Concurrent writers: one key gives one write, one email gives one lead; sliding windows."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from sandbox_support import grant, headers

from leadbridge.sandbox.ratelimit import RateLimiter, Window


def test_parallel_retries_with_one_key_write_once(make_sandbox) -> None:
    g = grant()
    sandbox = make_sandbox(tokens=(g,), bulk_per_minute=1000)
    key = str(uuid.uuid4())
    body = {"leads": [{"row_ref": str(i), "contact_email": f"c{i}@example.com"}
                      for i in range(50)]}

    def send(_: int) -> dict:
        with httpx.Client(base_url=sandbox.base_url, headers=headers(g)) as http:
            answer = http.post("/api/agents/crm/leads/bulk", json=body,
                               headers={"Idempotency-Key": key})
            assert answer.status_code == 200
            return answer.json()

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(16)))
    assert all(a == answers[0] for a in answers)
    assert len(sandbox.leads(g.customer_id)) == 50


def test_parallel_creates_of_one_person_make_one_lead(make_sandbox) -> None:
    g = grant()
    sandbox = make_sandbox(tokens=(g,), default_per_minute=1000)

    def send(i: int) -> str:
        with httpx.Client(base_url=sandbox.base_url, headers=headers(g)) as http:
            lead = {"contact_email": "SAME@example.com", "contact_name": f"n{i}"}
            return http.post("/api/agents/crm/leads", json=lead).json()["lead"]["id"]

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(send, range(24)))
    assert len(ids) == 1 and len(sandbox.leads(g.customer_id)) == 1


def test_sliding_window_retry_after_shorter_than_reset() -> None:
    now = [0.0]
    limiter = RateLimiter({"b": (Window(3, 60.0),)}, clock=lambda: now[0])
    for t in (0.0, 20.0, 40.0):
        now[0] = t
        assert limiter.hit("k", "b").allowed
    now[0] = 50.0
    refused = limiter.hit("k", "b")
    assert not refused.allowed and refused.remaining == 0
    assert refused.retry_after == 10.0 and refused.reset == 50.0  # like MEGA's 30 < 42 sample
    assert refused.headers()["Retry-After"] == "10" and refused.headers()["RateLimit-Reset"] == "50"
    now[0] = 60.0
    allowed = limiter.hit("k", "b")
    assert allowed.allowed and allowed.remaining == 0  # 20, 40, 60 are in the window
