"""--db keeps state across restarts; fault switches behave as documented and reproducibly."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sandbox_support import Api, grant

from leadbridge.errors import ConfigError
from leadbridge.sandbox import Sandbox, SandboxConfig
from leadbridge.sandbox.faults import Faults

LEADS = "/api/agents/crm/leads"


def test_db_survives_restart(tmp_path, openapi) -> None:
    g = grant()
    config = SandboxConfig(tokens=(g,), db_path=tmp_path / "state" / "mega.duckdb")
    key = str(uuid.uuid4())
    rows = [{"row_ref": "a", "contact_email": "a@example.com", "custom_fields": {"budget": 5}}]
    with Sandbox(config) as first:
        api = Api(first, g, openapi)
        stored = api.bulk(rows, idempotency_key=key).json()
        lead = api.create({"contact_phone": "206 555 0199", "stage_slug": "new"}).json()["lead"]
        hook = api.call("POST", "/api/agents/crm/lead-webhooks",
                        json={"url": "https://hooks.example.com/mega"}).json()
        api.close()
        before = first.leads(g.customer_id)
    with Sandbox(config) as second:
        api = Api(second, g, openapi)
        assert second.leads(g.customer_id) == before
        replay = api.bulk(rows, idempotency_key=key)
        assert replay.json() == stored and replay.headers["Idempotent-Replayed"] == "true"
        merged = api.bulk([{"contact_phone": "+1 206-555-0199"}]).json()["results"][0]
        assert (merged["lead_id"], merged["matched_by"]) == (lead["id"], "phone")
        hooks = api.call("GET", "/api/agents/crm/lead-webhooks").json()["webhooks"]
        assert [h["id"] for h in hooks] == [hook["webhook"]["id"]]
        fresh = api.create({"contact_name": "after restart"}).json()["lead"]
        assert fresh["id"] not in {x["id"] for x in before}
        api.close()
        assert len(second.leads(g.customer_id)) == 3


def test_a_db_that_is_not_a_duckdb_file_and_a_bad_port_are_refused(tmp_path) -> None:
    """DuckDB opens a CSV read-only and keeps new tables in memory: `--db leads.csv` said
    "state kept in leads.csv" and kept nothing. --port -1 was an OverflowError traceback, and
    --time-scale/--latency nan passed their checks."""
    csv = tmp_path / "leads.csv"
    csv.write_text("id,name\n1,Ann\n")
    for db, words in ((csv, "is not a DuckDB database"), (tmp_path, "is a folder")):
        with pytest.raises(ConfigError, match=words), \
                Sandbox(SandboxConfig(tokens=(grant(),), db_path=db)):
            pass
    assert csv.read_text() == "id,name\n1,Ann\n"
    for port in (-1, 65536):
        with pytest.raises(ConfigError, match="--port must be 0"):
            SandboxConfig(tokens=(grant(),), port=port)
    for name in ("time_scale", "latency"):  # nan passed "<= 0"; inf would wait for ever
        for value in (float("nan"), float("inf")):
            with pytest.raises(ConfigError, match=f"--{name.replace('_', '-')} must be"):
                SandboxConfig(tokens=(grant(),), **{name: value})


def test_fail_after_writes_then_drops_or_errors(make_sandbox, api_for) -> None:
    g = grant()
    sandbox = make_sandbox(tokens=(g,), fail_after=1.0, seed=7)
    api = api_for(sandbox, g)
    key = str(uuid.uuid4())
    body = {"leads": [{"row_ref": "x", "contact_email": "x@example.com"}]}
    outcomes = []
    for _ in range(4):  # every answer is lost, yet the lead is written exactly once
        try:
            answer = api.call("POST", LEADS + "/bulk", json=body,
                              headers={"Idempotency-Key": key})
            assert answer.status_code == 500
            assert answer.json()["error"]["type"] == "api_error"
            outcomes.append("error")
        except httpx.TransportError:
            outcomes.append("drop")
    assert set(outcomes) == {"error", "drop"}  # seed 7 gives both kinds
    assert [x["contact_email"] for x in sandbox.leads(g.customer_id)] == ["x@example.com"]
    assert sandbox.faults.counts["after_error"] + sandbox.faults.counts["after_drop"] == 4


def test_fail_after_then_retry_replays(make_sandbox, api_for) -> None:
    g = grant()
    sandbox = make_sandbox(tokens=(g,), fail_after=0.5, seed=3)
    api = api_for(sandbox, g)
    key = str(uuid.uuid4())
    rows = [{"row_ref": str(i), "contact_phone": f"206555{i:04d}"} for i in range(20)]
    for _ in range(30):
        try:
            answer = api.bulk(rows, idempotency_key=key)
        except httpx.TransportError:
            continue
        if answer.status_code == 200:
            break
    else:
        pytest.fail("no attempt got through with fail_after=0.5")
    assert {r["status"] for r in answer.json()["results"]} == {"created"}
    assert len(sandbox.leads(g.customer_id)) == 20


def test_fail_before_writes_nothing(make_sandbox, api_for) -> None:
    g = grant()
    sandbox = make_sandbox(tokens=(g,), fail_before=1.0)
    api = api_for(sandbox, g)
    for call in (lambda: api.bulk([{"contact_name": "n"}]),
                 lambda: api.create({"contact_name": "n"}), lambda: api.list()):
        answer = call()
        assert answer.status_code == 503 and answer.json()["error"]["type"] == "api_error"
        assert "RateLimit-Remaining" in answer.headers
    assert sandbox.leads(g.customer_id) == []


def test_faults_are_reproducible_by_seed() -> None:
    def sequence(seed: int) -> list[object]:
        faults = Faults(fail_before=0.3, fail_after=0.4, seed=seed)
        return [(faults.before(), faults.after()) for _ in range(50)]

    assert sequence(11) == sequence(11)
    assert sequence(11) != sequence(12)
    assert any(b for b, _ in sequence(11)) and {a for _, a in sequence(11)} >= {"drop", "error"}


def test_latency_is_added(make_sandbox, api_for) -> None:
    import time

    g = grant()
    api = api_for(make_sandbox(tokens=(g,), latency=0.15), g)
    started = time.monotonic()
    assert api.list().status_code == 200
    assert time.monotonic() - started >= 0.15
