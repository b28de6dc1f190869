"""What `leadbridge demo` needs besides the pipeline: the bundled sample, a sandbox that
already holds some of its people (so the demo shows merges as well as creates), examples."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

#: Bundled messy sample (written by benchmarks/make_sample.py; see core/data/README.md).
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample_leads.csv"

#: A demo minute lasts 3 s: the run never waits on the real bulk limit.
DEMO_TIME_SCALE = 0.05


def start_sandbox(existing: int = 30) -> Any:
    """An in-process sandbox holding ``existing`` leads that match people of the sample
    (some by email, some only by phone), as a customer's account would."""
    from ..mega import MegaClient
    from ..sandbox import Sandbox, SandboxConfig

    box = Sandbox(SandboxConfig.default(time_scale=DEMO_TIME_SCALE)).start()
    rows: list[dict[str, Any]] = []
    with SAMPLE.open(encoding="utf-8", newline="") as fh:
        for n, rec in enumerate(csv.DictReader(fh)):
            if len(rows) >= existing or n % 9:
                continue
            email, phone = rec["E-mail"].strip(), rec["Phone Number"].strip()
            name = rec["Full Name"].strip() or "Existing lead"
            if "@" in email and "." in email.split("@")[-1] and len(rows) % 2 == 0:
                rows.append({"contact_name": name, "contact_email": email.lower()})
            elif phone and "000-000" not in phone and "456-7890" not in phone:
                rows.append({"contact_name": name, "contact_phone": phone.split(" x")[0]})
    grant = box.config.tokens[0]
    with MegaClient(box.base_url, grant.token, grant.customer_id,
                    time_scale=DEMO_TIME_SCALE, env={}) as client:
        client.bulk_import(rows, idempotency_key=None)
    return box


def failed_examples(outcomes: list[dict[str, Any]], per_status: int = 2) -> list[dict[str, Any]]:
    """A handful of outcomes worth showing: failures with MEGA's reason first, then the rest."""
    picked: list[dict[str, Any]] = []
    for status in ("failed", "rejected", "updated", "created", "skipped"):
        picked.extend([o for o in outcomes if o["status"] == status][:per_status])
    return picked
