"""A stopped sandbox answers nothing, so every write it acknowledged survives a restart.

Regression: kept-alive connections outlived ``JSONServer.stop()``; a client that kept its
connection went on talking to the stopped sandbox, whose closed store acknowledged writes it
never persisted — after a restart with the same ``--db`` those "created" leads were gone.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest

from leadbridge.sandbox import Sandbox, SandboxConfig

LEADS = "/api/agents/crm/leads"


def _post(http: httpx.Client, config: SandboxConfig, email: str) -> httpx.Response:
    grant = config.tokens[0]
    return http.post(LEADS, json={"contact_name": email, "contact_email": email},
                     headers={"Authorization": f"Bearer {grant.token}",
                              "x-customer-id": grant.customer_id,
                              "Idempotency-Key": f"k-{email}"})


def test_kept_alive_connection_gets_no_answer_after_stop(tmp_path: Path) -> None:
    config = SandboxConfig.default(db_path=tmp_path / "sandbox.duckdb")
    box = Sandbox(config).start()
    port = int(box.base_url.rsplit(":", 1)[1])
    acknowledged = []
    with httpx.Client(base_url=box.base_url, timeout=5) as http:
        first = _post(http, config, "a@example.com")
        assert first.status_code == 201
        acknowledged.append(first.json()["lead"]["id"])
        box.stop()
        try:  # the same pooled connection: must fail, not be served by the stopped sandbox
            late = _post(http, config, "b@example.com")
        except httpx.TransportError:
            pass
        else:
            assert late.status_code >= 500, "a stopped sandbox acknowledged a write"
    restarted = Sandbox(dataclasses.replace(config, port=port)).start()
    try:
        ids = {lead["id"] for lead in restarted.leads(config.tokens[0].customer_id)}
    finally:
        restarted.stop()
    assert set(acknowledged) <= ids
    assert len(ids) == len(acknowledged)  # b@ was never acknowledged, so it is not there


def test_closed_store_refuses_writes() -> None:
    from leadbridge.sandbox.store import Store

    store = Store()
    store.close()
    with pytest.raises(RuntimeError):
        store.commit("c", [{"id": "x", "seq": 1, "contact_email": "x@example.com"}])


def test_client_hanging_up_prints_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    """Regression: every client timeout (the fault sweeps make hundreds) printed a
    BrokenPipeError traceback on the sandbox's stderr."""
    config = SandboxConfig.default(latency=0.3)
    with Sandbox(config) as box:
        for _ in range(3):
            with httpx.Client(base_url=box.base_url, timeout=0.05) as http, \
                    pytest.raises(httpx.TimeoutException):
                _post(http, config, "slow@example.com")
        import time

        time.sleep(0.6)  # the handlers answer into closed sockets
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err, err[-1000:]


def test_stop_before_the_serve_loop_starts_returns(tmp_path: Path) -> None:
    # the CLI binds, prints its address, then serves: a Ctrl-C (or SIGTERM) in between made
    # stop() wait forever for a serve loop that never ran
    import threading

    box = Sandbox(SandboxConfig.default(db_path=tmp_path / "sandbox.duckdb")).bind()
    stopper = threading.Thread(target=box.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive(), "stop() hung on a sandbox that never served"
