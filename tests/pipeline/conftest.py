"""Fixtures for the sync pipeline: real sandboxes on 127.0.0.1, generated messy sources."""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadbridge.connector import Connector, Option
from leadbridge.mega_model import email_key, mega_phone_key
from leadbridge.sandbox import Sandbox, SandboxConfig

FAST = 0.002  # time scale: a rate-limit minute lasts 0.12 s, backoffs shrink alike


class ListConnector(Connector):
    """An in-memory source for tests: yields its records; honours an ``updated_at`` cursor."""

    name = "testlist"
    options = (Option("label", default="testlist"),)

    def __init__(self, records: list[dict[str, Any]], **options: Any) -> None:
        super().__init__(**options)
        self._records = records

    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        since = state.get("since")
        newest = since
        for rec in self._records:
            stamp = rec.get("updated_at")
            if since and stamp and stamp <= since:
                continue
            if stamp and (newest is None or stamp > newest):
                newest = stamp
            yield rec
        if newest:
            state["since"] = newest


def messy_records(people: int, seed: int = 1, *, bad_stage: int = 0) -> list[dict[str, Any]]:
    """People written down 1-3 times in different formats, households sharing a phone."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(people):
        email = f"person{i}@example{i % 7}.com"
        digits = f"{200 + i % 700:03d}{rng.randrange(200, 999)}{i:04d}"
        name = f"Person {i}"
        copies = rng.choice([1, 1, 2, 3])
        for c in range(copies):
            phone = rng.choice([f"({digits[:3]}) {digits[3:6]}-{digits[6:]}", f"+1{digits}",
                                f"{digits[:3]}.{digits[3:6]}.{digits[6:]}"])
            out.append({
                "source_id": f"p{i}-{c}",
                "contact_name": name if c == 0 else name.upper(),
                "contact_email": email if c != 1 else f"  {email.upper()} ",
                "contact_phone": phone if rng.random() > 0.1 else None,
                "stage": rng.choice(["new", "contacted", None]),
                "lead_line": rng.choice(["buyer", "seller", None]),
                "updated_at": f"2026-01-01T00:00:{i % 60:02d}Z",
            })
        if i % 25 == 0:  # a household member sharing the phone
            out.append({"source_id": f"h{i}", "contact_name": f"Partner {i}",
                        "contact_email": f"partner{i}@example.com", "contact_phone": digits})
    for j in range(bad_stage):
        out.append({"source_id": f"bad{j}", "contact_name": f"Bad Stage {j}",
                    "contact_email": f"bad{j}@example.com", "stage": "Appointment Set"})
    out.append({"source_id": "empty"})  # nothing to contact: rejected locally
    return out


def write_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    cols = ["id", "name", "email", "phone", "stage", "lead_line"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in records:
            w.writerow([r["source_id"], r.get("contact_name") or "", r.get("contact_email") or "",
                        r.get("contact_phone") or "", r.get("stage") or "",
                        r.get("lead_line") or ""])
    return path


def assert_no_duplicate_leads(leads: list[dict[str, Any]]) -> None:
    emails = [email_key(lead.get("contact_email")) for lead in leads]
    emails = [e for e in emails if e]
    assert len(emails) == len(set(emails)), "two leads share an email"
    ids = [lead["id"] for lead in leads]
    assert len(ids) == len(set(ids))


def phone_keys(leads: list[dict[str, Any]]) -> list[str]:
    return [k for k in (mega_phone_key(lead.get("contact_phone")) for lead in leads) if k]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig.default(time_scale=FAST, seed=3)) as box:
        yield box


def customer(box: Sandbox) -> str:
    return box.config.tokens[0].customer_id


def cli_env(box: Sandbox | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEGA_")}
    env["COLUMNS"] = "200"
    if box is not None:
        env.update(MEGA_BASE_URL=box.base_url, MEGA_TOKEN=box.config.tokens[0].token,
                   MEGA_CUSTOMER_ID=customer(box))
    env.update(extra)
    return env


_MAIN = "import sys; from leadbridge.cli import main; main(sys.argv[1:])"


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _MAIN, *args], env=env or cli_env(),
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)
