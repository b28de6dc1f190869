"""End to end: fake Follow Up Boss -> `leadbridge sync followupboss --sandbox` -> sandbox."""

import json
import os
from datetime import datetime, timezone

from tests.clitools import leadbridge_cli

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


_cli = leadbridge_cli


def test_sync_from_followupboss_into_sandbox_then_incremental(fake, tmp_path):
    fake.add(T0, name="A", stage="New", emails=[{"value": "a@example.com", "isPrimary": True}],
             tags=["Seller"], assignedUserId=7)
    fake.add(T0, name="A2", stage="Contacted", emails=[{"value": "A@example.com", "isPrimary": True}],
             phones=[{"value": "+15555550100", "isPrimary": True}])
    fake.add(T0, name="B", stage="New", emails=[{"value": "b@example.com", "isPrimary": True}])
    # stages the sandbox knows (FUB's own names like "Lead" need an [engine] stage_map)
    env = dict(os.environ, FUB_API_KEY="fub-secret-key", FUB_SYSTEM_KEY="sys-secret-key")
    args = ("sync", "followupboss", "--option", f"base_url={fake.base_url}", "--workspace",
            str(tmp_path / "ws.duckdb"), "--sandbox", "--json")
    r = _cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["records"] == 3 and out["golden_rows"] == 2 and out["rows_sent"] == 2
    assert "fub-secret-key" not in r.stdout + r.stderr
    assert "sys-secret-key" not in r.stdout + r.stderr
    fake.calls.clear()
    r2 = _cli(*args, env=env)
    assert r2.returncode == 0, r2.stderr
    assert any("updatedAfter" in q for p, q, h in fake.calls if p == "/v1/people")
