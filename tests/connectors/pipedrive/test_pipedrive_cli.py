"""End to end: fake Pipedrive -> `leadbridge sync pipedrive --sandbox` -> the MEGA sandbox."""

import json
import os
from datetime import datetime, timezone

from tests.clitools import leadbridge_cli

T0 = datetime(2026, 3, 3, 16, 45, tzinfo=timezone.utc)


_cli = leadbridge_cli


def test_sync_from_pipedrive_into_sandbox_then_incremental(fake, tmp_path):
    fake.add(T0, name="A", emails=[{"value": "a@example.com", "primary": True}], owner_id=12)
    fake.add(T0, name="A2", emails=[{"value": "A@example.com", "primary": True}],
             phones=[{"value": "+15555550100", "primary": True}])
    fake.add(T0, name="B", emails=[{"value": "b@example.com", "primary": True}])
    env = dict(os.environ, PIPEDRIVE_TOKEN="pd-secret-token")
    args = ("sync", "pipedrive", "--option", f"base_url={fake.base_url}", "--workspace",
            str(tmp_path / "ws.duckdb"), "--sandbox", "--json")
    r = _cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["records"] == 3 and out["golden_rows"] == 2 and out["rows_sent"] == 2
    assert "pd-secret-token" not in r.stdout + r.stderr
    fake.calls.clear()
    r2 = _cli(*args, env=env)
    assert r2.returncode == 0, r2.stderr
    assert any("updated_since" in q for p, q, h in fake.calls if p == "/api/v2/persons")
