"""End to end: fake GoHighLevel -> `leadbridge sync ghl --sandbox` -> the MEGA sandbox."""

import json
import os
from datetime import datetime, timezone

from tests.clitools import leadbridge_cli

T0 = datetime(2026, 3, 1, 15, 0, tzinfo=timezone.utc)


_cli = leadbridge_cli


def test_sync_from_ghl_into_sandbox_then_incremental(fake, tmp_path):
    fake.add(T0, firstName="A", email="a@example.com", assignedTo="Us3rA1b2C3d4E5f6G7h8")
    fake.add(T0, firstName="A2", email="A@example.com", phone="+15555550100")
    fake.add(T0, firstName="B", email="b@example.com")
    env = dict(os.environ, GHL_TOKEN="pit-secret-token", GHL_LOCATION_ID=fake.location_id)
    args = ("sync", "ghl", "--option", f"base_url={fake.base_url}", "--workspace",
            str(tmp_path / "ws.duckdb"), "--sandbox", "--json")
    r = _cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["records"] == 3 and out["golden_rows"] == 2 and out["rows_sent"] == 2
    assert "pit-secret-token" not in r.stdout + r.stderr
    fake.calls.clear()
    r2 = _cli(*args, env=env)
    assert r2.returncode == 0, r2.stderr
    search = next(b for m, p, b in fake.calls if p == "/contacts/search")
    assert search["filters"][0]["field"] == "dateUpdated"  # resumed from the saved cursor
