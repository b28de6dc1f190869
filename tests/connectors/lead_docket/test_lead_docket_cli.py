"""End to end: fake Lead Docket -> `leadbridge sync lead_docket --sandbox` -> the sandbox."""

import json
import os
from datetime import datetime

from tests.clitools import leadbridge_cli

T0 = datetime(2026, 3, 1, 14, 5, 11)


_cli = leadbridge_cli


def test_sync_from_lead_docket_into_sandbox_then_incremental(fake, tmp_path):
    # stages the sandbox knows (firm status names need an [engine] stage_map)
    fake.add(T0, FirstName="A", Email="a@example.com", StatusName="New")
    fake.add(T0, FirstName="A2", Email="A@example.com", MobilePhone="+15555550100",
             StatusName="Contacted")
    fake.add(T0, FirstName="B", Email="b@example.com", StatusName="New")
    env = dict(os.environ, LEAD_DOCKET_API_KEY="ld-secret-key")
    args = ("sync", "lead_docket", "--option", f"base_url={fake.base_url}", "--option",
            "requests_per_second=0", "--workspace", str(tmp_path / "ws.duckdb"), "--sandbox",
            "--json")
    r = _cli(*args, env=env)
    assert r.returncode == 0, r.stderr + r.stdout
    out = json.loads(r.stdout)
    assert out["records"] == 3 and out["golden_rows"] == 2 and out["rows_sent"] == 2
    assert "ld-secret-key" not in r.stdout + r.stderr
    fake.calls.clear()
    r2 = _cli(*args, env=env)
    assert r2.returncode == 0, r2.stderr
    assert fake.calls[0]["date"] != "2000-01-01T00:00:00"  # resumed from the saved cursor
