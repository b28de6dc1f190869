"""End to end, as a user runs it: `leadbridge map` proposes a job file, TODOs are refused,
the decided job syncs mapped stages, owners and custom fields into a real sandbox, and values
MEGA does not know stop the run before any request unless send_anyway is set."""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from pathlib import Path

from leadbridge.sandbox import Sandbox

from .conftest import OWNER_ANA, OWNER_TOM, cli_env, customer, run_cli

CSV = (
    "id,First Name,Last Name,Email,Budget ($),Purchase Timeline,Shoe Size,Lifecycle Stage,"
    "Owner\n"
    "1,Ana,Lee,ana@x.com,500000,3 months,9,salesqualifiedlead,ana@agency.com\n"
    "2,Bob,Ray,bob@x.com,,6 months,,Attempted to Contact,bob@agency.com\n"
    "3,Cy,Day,cy@x.com,12,,,salesqualifiedlead,Tom.Ray@agency.com\n"
    "4,Di,Fox,di@x.com,40,,,new,ana@agency.com\n"
)


def _set(text: str, key: str, value: str) -> str:
    """Set one `"key" = ...` line of the proposed job file."""
    new, n = re.subn(rf'^"{re.escape(key)}" = "[^"]*"', f'"{key}" = "{value}"', text,
                     flags=re.M)
    assert n == 1, key
    return new


def test_map_then_sync_into_a_sandbox(tmp_path: Path, sandbox: Sandbox) -> None:
    (tmp_path / "export.csv").write_text(CSV, encoding="utf-8")
    env = cli_env(sandbox)
    got = run_cli("map", "csv", "export.csv", "--stages", "new,contacted,qualified,won,lost",
                  "--owners", f"ana@agency.com={OWNER_ANA},Tom Ray={OWNER_TOM}",
                  "--custom-fields", "budget,timeline", "--output", "job.toml",
                  env=env, cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert "read 4 record(s)" in got.stdout
    assert "TODO 'Attempted to Contact': 1 record(s) have no mapping" in got.stdout
    assert "TODO 'bob@agency.com': 1 record(s)" in got.stdout
    job = tmp_path / "job.toml"
    text = job.read_text(encoding="utf-8")
    proposed = tomllib.loads(text)["mapping"]
    assert proposed["fields"]["Budget ($)"] == "custom:budget"
    assert proposed["fields"]["Purchase Timeline"] == "custom:timeline"  # fuzzy, with score
    assert proposed["stages"] == {"salesqualifiedlead": "qualified", "new": "new",
                                  "Attempted to Contact": "TODO"}
    assert proposed["owners"]["Tom.Ray@agency.com"] == OWNER_TOM

    refused = run_cli("sync", "--job", "job.toml", env=env, cwd=tmp_path)
    assert refused.returncode == 2
    assert "Attempted to Contact" in refused.stderr and "Traceback" not in refused.stderr
    assert sandbox.leads(customer(sandbox)) == []

    text = _set(text, "Attempted to Contact", "contacted")
    text = _set(text, "Shoe Size", "-")
    text = _set(text, "bob@agency.com", "TODO")  # left undecided: only "TODO" is refused
    text = text.replace('"bob@agency.com" = "TODO"', "")
    text = re.sub(r'(\[mapping\.owners_policy\]\nunmapped = )"omit"', r'\1"reject"', text)
    job.write_text(text, encoding="utf-8")
    done = run_cli("sync", "--job", "job.toml", "--json", env=env, cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # Bob is rejected by the mapping: exit 1
    leads = {lead["contact_email"]: lead for lead in sandbox.leads(customer(sandbox))}
    assert set(leads) == {"ana@x.com", "cy@x.com", "di@x.com"}
    ana, cy = leads["ana@x.com"], leads["cy@x.com"]
    assert ana["current_stage"]["slug"] == "qualified" and ana["owner"]["id"] == OWNER_ANA
    assert ana["custom_fields"] == {"budget": "500000", "timeline": "3 months"}
    assert cy["owner"]["id"] == OWNER_TOM and leads["di@x.com"]["current_stage"]["slug"] == "new"
    assert ana["source_type"] == "import"

    # the workspace's snapshot now shows MEGA values in use: map uses them, as partial lists
    seen = run_cli("map", "csv", "export.csv", "--workspace", ".leadbridge/workspace.duckdb",
                   env=env, cwd=tmp_path)
    assert seen.returncode == 0, seen.stderr
    from_snapshot = tomllib.loads(seen.stdout)
    assert from_snapshot["mapping"]["fields"]["Budget ($)"] == "custom:budget"
    assert from_snapshot["mapping"]["stages"]["salesqualifiedlead"] == "qualified"
    assert from_snapshot["mapping"]["owners"]["ana@agency.com"] == "TODO"  # ids, no emails
    assert "target" not in from_snapshot or "stages" not in from_snapshot["target"]
    assert "# stages = [" in seen.stdout

    report = run_cli("report", "--format", "csv", env=env, cwd=tmp_path)
    rows = {r["source_id"]: r for r in csv.DictReader(io.StringIO(report.stdout))}
    bob = rows[next(k for k, r in rows.items() if r["status"] == "rejected")]
    assert "unmapped owner 'bob@agency.com' (mapping.owners_policy: reject)" in bob["errors"]

    # a stage the pipeline does not have: stopped before any request, with counts
    job.write_text(_set(text, "new", "appointment"), encoding="utf-8")
    before = len(sandbox.leads(customer(sandbox)))
    for command in ("plan", "sync"):
        stopped = run_cli(command, "--job", "job.toml", env=env, cwd=tmp_path)
        assert stopped.returncode == 2, (command, stopped.stdout, stopped.stderr)
        assert "stage_slug not in the customer's pipeline: 1 value(s) in 1 row(s)" in \
            stopped.stderr
        assert "'appointment': 1 row(s), e.g. csv:" in stopped.stderr
    assert len(sandbox.leads(customer(sandbox))) == before
    planned = run_cli("plan", "--job", "job.toml", "--send-anyway", "--json", env=env,
                      cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    problems = json.loads(planned.stdout)["mapping"]["validation"]["problems"]
    assert [(p["kind"], p["value"], p["rows"]) for p in problems] == [
        ("stage_slug", "appointment", 1)]

    job.write_text(_set(text, "new", "appointment").replace(
        "send_anyway = false", "send_anyway = true"), encoding="utf-8")
    sent = run_cli("sync", "--job", "job.toml", "--json", env=env, cwd=tmp_path)
    assert sent.returncode == 1 and '"failed": 1' in sent.stdout


def test_map_probe_finds_custom_fields(tmp_path: Path, sandbox: Sandbox) -> None:
    (tmp_path / "export.csv").write_text(CSV, encoding="utf-8")
    got = run_cli("map", "csv", "export.csv", "--probe", env=cli_env(sandbox), cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    mapping = tomllib.loads(got.stdout)["mapping"]
    assert mapping["fields"]["Budget ($)"] == "custom:budget"  # confirmed by the dry run
    assert mapping["fields"]["Shoe Size"] == "TODO"
    # a probe confirms candidates (the source's own values, slugged), it cannot list stages
    assert mapping["stages"]["new"] == "new"
    assert mapping["stages"]["salesqualifiedlead"] == "TODO"
    assert sandbox.leads(customer(sandbox)) == []


def test_map_checks_its_workspace_before_reading_the_source(tmp_path: Path) -> None:
    # the source is unreadable (an empty file): had map read it first, that error would
    # come out, after what can be a long read of a real export
    (tmp_path / "export.csv").write_text("")
    got = run_cli("map", "csv", "export.csv", "--workspace", "missing.duckdb",
                  env=cli_env(), cwd=tmp_path)
    assert got.returncode == 2 and "Traceback" not in got.stderr
    assert "'missing.duckdb' does not exist" in got.stderr and "empty" not in got.stderr
