"""ZenMaid has no API: its customer CSV export, read with the recipe of docs/connectors/zenmaid.md,
maps every column (nothing is guessed wrong, nothing is lost)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from files_support import by_id, read

from leadbridge.connectors._headers import map_headers, parse_explicit

HEADERS = ["Customer ID", "First Name", "Last Name", "Email", "Phone", "Mobile Phone",
           "Address", "City", "State", "Zip", "Customer Type", "Lead Source", "Customer Since",
           "Status", "Notes", "Tags"]
ROWS = [
    ["1001", "Ana", "Silva", "ana.silva@example.com", "(555) 555-0123", "555-555-0199",
     "1 Main St", "Austin", "TX", "78701", "Lead", "Google", "2026-03-02", "Active",
     "Gate code 12", "weekly"],
    ["1002", "Bo", "Chen", "", "", "+1 555 555 0144", "", "", "", "", "Customer", "Yelp",
     "2025-11-20", "Inactive", "", ""],
]
#: The recipe's mapping (docs/connectors/zenmaid.md), as a job file's [source.options.columns].
RECIPE = {"Customer ID": "source_id", "Status": "custom", "Customer Type": "custom"}


def _export(tmp_path: Path) -> Path:
    path = tmp_path / "zenmaid-customers.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        w.writerows(ROWS)
    return path


def test_every_zenmaid_column_has_a_deliberate_target():
    m = map_headers(HEADERS, explicit=parse_explicit(RECIPE))
    got = {h: t for h, t, _ in m.rows}
    assert got == {
        "Customer ID": "source_id", "First Name": "first_name", "Last Name": "last_name",
        "Email": "contact_email", "Phone": "contact_phone",
        "Mobile Phone": "custom_fields['Mobile Phone']", "Address": "custom_fields['Address']",
        "City": "custom_fields['City']", "State": "custom_fields['State']",
        "Zip": "custom_fields['Zip']", "Customer Type": "custom_fields['Customer Type']",
        "Lead Source": "source_platform", "Customer Since": "created_at",
        "Status": "custom_fields['Status']", "Notes": "custom_fields['Notes']",
        "Tags": "custom_fields['Tags']",
    }


def test_zenmaid_export_reads_with_the_recipe(tmp_path):
    rows, _ = read(_export(tmp_path), columns=RECIPE, source_platform="zenmaid")
    got = by_id(rows)
    ana, bo = got["1001"], got["1002"]
    assert (ana["first_name"], ana["last_name"], ana["contact_email"], ana["contact_phone"]) == (
        "Ana", "Silva", "ana.silva@example.com", "(555) 555-0123")
    assert ana["source_platform"] == "google_organic" and ana["stage"] is None
    assert ana["custom"]["Status"] == "Active" and ana["created_at"] == "2026-03-02"
    # Yelp is no MEGA source_platform: zenmaid fills in, the raw value stays a custom field
    assert bo["source_platform"] == "zenmaid" and bo["custom"]["Lead Source"] == "Yelp"
    assert bo["custom"]["Mobile Phone"] == "+1 555 555 0144"
    # Phone is empty for Bo: Mobile Phone fills contact_phone
    assert bo["contact_phone"] == "+1 555 555 0144"


def test_recipe_job_file_plans_offline(tmp_path):
    _export(tmp_path)
    job = tmp_path / "zenmaid.toml"
    job.write_text(
        '[source]\nconnector = "csv"\nlabel = "zenmaid"\n'
        '[source.options]\npath = "zenmaid-customers.csv"\nsource_platform = "zenmaid"\n'
        '[source.options.columns]\n"Customer ID" = "source_id"\nStatus = "custom"\n'
        '"Customer Type" = "custom"\n', encoding="utf-8")
    exe = os.path.join(os.path.dirname(sys.executable), "leadbridge")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEGA_")}
    r = subprocess.run([exe, "plan", "--job", str(job), "--workspace", str(tmp_path / "w.duckdb"),
                        "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    import json

    summary = json.loads(r.stdout)
    assert summary["records"] == 2 and summary["rows_to_send"] == 2
