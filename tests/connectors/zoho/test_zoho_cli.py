"""End to end: fake Zoho -> `leadbridge sync zoho --sandbox` -> the MEGA sandbox."""

import json
import os
from datetime import datetime, timezone

from tests.clitools import leadbridge_cli

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc)


_cli = leadbridge_cli


def test_sync_from_zoho_into_sandbox_then_incremental(fake, tmp_path):
    fake.add("Leads", T0, Last_Name="A", Email="a@example.com")
    fake.add("Contacts", T0, Last_Name="A2", Email="A@example.com", Phone="+15555550100")
    fake.add("Leads", T0, Last_Name="B", Email="b@example.com")
    env = dict(os.environ, ZOHO_REFRESH_TOKEN=fake.refresh_token, ZOHO_CLIENT_ID=fake.client_id,
               ZOHO_CLIENT_SECRET=fake.client_secret, ZOHO_ACCOUNTS_URL=fake.base_url)
    args = ("sync", "zoho", "--option", f"base_url={fake.base_url}", "--workspace",
            str(tmp_path / "ws.duckdb"), "--sandbox", "--json")
    r = _cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["records"] == 3 and out["golden_rows"] == 2 and out["rows_sent"] == 2
    assert "zoho-client-secret" not in r.stdout + r.stderr
    assert "1000.refresh-secret" not in r.stdout + r.stderr
    fake.calls.clear()
    r2 = _cli(*args, env=env)
    assert r2.returncode == 0, r2.stderr
    # the second run resumes from the saved cursor
    assert any("if-modified-since" in str(q) or p.endswith("/deleted") for _, p, q in fake.calls)
