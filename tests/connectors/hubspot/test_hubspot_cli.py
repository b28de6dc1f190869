"""The CLI forms users type: dedupe and sync straight from a (fake) HubSpot."""

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq

BASE = 1_700_000_000_000


def _cli(*args, env):
    exe = os.path.join(os.path.dirname(sys.executable), "leadbridge")
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=60)


def _seed(fake):
    fake.add("101", BASE, email="a@x.com", firstname="A", hubspot_owner_id="7")
    fake.add("102", BASE, email="A@x.com", phone="+15555550100", firstname="A2")
    fake.add("103", BASE, email="b@x.com", firstname="B")


def test_dedupe_from_hubspot_lineage_uses_contact_ids(fake, tmp_path):
    _seed(fake)
    env = dict(os.environ, HUBSPOT_TOKEN="pat-secret-token")
    r = _cli("dedupe", "hubspot", "--option", f"base_url={fake.base_url}",
             "--out", str(tmp_path / "out"), env=env)
    assert r.returncode == 0, r.stderr
    assert "pat-secret-token" not in r.stdout + r.stderr
    lineage = pq.read_table(tmp_path / "out" / "lineage.parquet").to_pylist()
    assert sorted(x["source_id"] for x in lineage) == ["101", "102", "103"]
    assert len(pq.read_table(tmp_path / "out" / "golden.parquet")) == 2


def test_sync_from_hubspot_into_sandbox_then_incremental(fake, tmp_path):
    _seed(fake)
    env = dict(os.environ, HUBSPOT_TOKEN="pat-secret-token")
    ws = str(tmp_path / "ws.duckdb")
    args = ("sync", "hubspot", "--option", f"base_url={fake.base_url}", "--workspace", ws,
            "--sandbox", "--json")
    r = _cli(*args, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["records"] == 3 and out["golden_rows"] == 2 and out["rows_sent"] == 2
    assert "pat-secret-token" not in r.stdout + r.stderr
    fake.calls.clear()
    r2 = _cli(*args, env=env)
    assert r2.returncode == 0, r2.stderr
    # the second run resumes from the saved cursor: search, not a full list
    assert ("POST", "/crm/v3/objects/contacts/search") in fake.calls
