"""End to end: one MEGA customer (a sandbox) -> `leadbridge sync mega --sandbox` -> another."""

import json
import os

from leadbridge.mega import MegaClient

from tests.clitools import leadbridge_cli

_cli = leadbridge_cli


def test_move_leads_from_one_customer_to_another(source, tmp_path):
    g = source.config.tokens[0]
    with MegaClient(base_url=source.base_url, token=g.token, customer_id=g.customer_id,
                    time_scale=0.01) as c:
        c.bulk_import([
            {"row_ref": "1", "contact_name": "A", "contact_email": "a@example.com"},
            {"row_ref": "2", "contact_name": "A2", "contact_phone": "+15555550100"},
            {"row_ref": "3", "contact_name": "B", "contact_email": "b@example.com"}])
    env = dict(os.environ, MEGA_SOURCE_TOKEN=g.token, MEGA_SOURCE_CUSTOMER_ID=g.customer_id)
    args = ("sync", "mega", "--option", f"base_url={source.base_url}", "--option",
            "time_scale=0.01", "--workspace", str(tmp_path / "ws.duckdb"), "--sandbox", "--json")
    r = _cli(*args, env=env)
    assert r.returncode == 0, r.stderr + r.stdout
    out = json.loads(r.stdout)
    assert out["records"] == 3 and out["rows_sent"] == 3
    assert g.token not in r.stdout + r.stderr
    r2 = _cli(*args, env=env)
    assert r2.returncode == 0, r2.stderr
    assert json.loads(r2.stdout)["rows_sent"] == 0  # nothing changed at the source
