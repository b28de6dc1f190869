"""End to end: fake Shopify -> `leadbridge sync shopify --sandbox` -> the MEGA sandbox."""

import json
import os
from datetime import datetime, timezone

from tests.clitools import leadbridge_cli

T0 = datetime(2026, 3, 2, 8, 40, tzinfo=timezone.utc)


_cli = leadbridge_cli


def test_sync_from_shopify_into_sandbox_then_incremental(fake, tmp_path):
    fake.add(T0, firstName="A", defaultEmailAddress={"emailAddress": "a@example.com"})
    fake.add(T0, firstName="A2", defaultEmailAddress={"emailAddress": "A@example.com"},
             defaultPhoneNumber={"phoneNumber": "+15555550100"})
    fake.add(T0, firstName="B", defaultEmailAddress={"emailAddress": "b@example.com"})
    env = dict(os.environ, SHOPIFY_TOKEN="shpat_secret_token")
    args = ("sync", "shopify", "--option", f"base_url={fake.base_url}", "--workspace",
            str(tmp_path / "ws.duckdb"), "--sandbox", "--json")
    r = _cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["records"] == 3 and out["golden_rows"] == 2 and out["rows_sent"] == 2
    assert "shpat_secret_token" not in r.stdout + r.stderr
    fake.calls.clear()
    r2 = _cli(*args, env=env)
    assert r2.returncode == 0, r2.stderr
    assert fake.calls and all(c["variables"]["query"] for c in fake.calls)
