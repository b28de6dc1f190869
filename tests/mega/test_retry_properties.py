"""Property: whatever the sequence of transient faults, every attempt carries the same key and
the same bytes, and the number of attempts is exactly faults + 1 (or max_attempts)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mega_support import BULK_OK, CUSTOMER, envelope

from leadbridge.chunking import make_chunks
from leadbridge.httpserver import Response
from leadbridge.mega import MegaRateLimitError, MegaServerError, MegaTransportError

FAULTS = {
    "drop": Response(drop=True),
    "500": envelope(500, "api_error", "boom"),
    "503": envelope(503, "api_error", "busy"),
    "429": envelope(429, "rate_limit_error", "slow", {"Retry-After-Ms": "1"}),
}
MAX = 4


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faults=st.lists(st.sampled_from(sorted(FAULTS)), max_size=MAX + 1),
       n_rows=st.integers(1, 30))
def test_retries_keep_the_key_and_the_bytes(scripted, faults, n_rows) -> None:
    rows = [{"row_ref": f"r{i}", "contact_email": f"r{i}@example.com"} for i in range(n_rows)]
    chunk = make_chunks(rows, customer_id=CUSTOMER)[0]
    server = scripted([FAULTS[f] for f in faults] + [BULK_OK])
    with server.client(max_attempts=MAX, time_scale=0.0001) as client:
        if len(faults) < MAX:
            client.send_chunk(chunk)
            assert len(server.seen) == len(faults) + 1
        else:
            with pytest.raises((MegaTransportError, MegaServerError, MegaRateLimitError)):
                client.send_chunk(chunk)
            assert len(server.seen) == MAX
    assert {s.headers["idempotency-key"] for s in server.seen} == {chunk.idempotency_key}
    assert {s.body for s in server.seen} == {chunk.body}
