"""The mapping inside plan and sync (Python API): slugs pass the engine unchanged, one stage
mechanism at a time, and a changed mapping re-reads a source whose cursor would skip records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadbridge.connector import Connector, Option
from leadbridge.errors import ConfigError
from leadbridge.pipeline import plan, sync
from leadbridge.sandbox import Sandbox

from .conftest import OWNER_ANA, customer


class CursorList(Connector):
    """Yields only records newer than the saved cursor, like a CRM connector."""

    name = "cursorlist"
    options = (Option("label", default="cursorlist"),)

    def __init__(self, records: list[dict[str, Any]], **options: Any) -> None:
        super().__init__(**options)
        self._records = records

    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        since = state.get("since", "")
        for rec in self._records:
            if rec["updated_at"] > since:
                yield rec
        state["since"] = max(r["updated_at"] for r in self._records)


RECORDS = [{"source_id": str(i), "contact_name": f"P {i}", "contact_email": f"p{i}@x.com",
            "stage": "Hot-Lead" if i % 2 else "Signed", "owner": "Ana@Agency.com",
            "updated_at": f"2026-01-0{i + 1}T00:00:00Z"} for i in range(4)]


def _stages(result: Any) -> list[str | None]:
    return sorted(p.body.get("stage_slug") or "-" for p in result.rows)


def test_mapped_slugs_pass_the_engine_unchanged(tmp_path: Path) -> None:
    mapping = {"stages": {"Hot-Lead": "appointment-set", "Signed": "Won Deal"},
               "owners": {"ana@agency.com": OWNER_ANA}}
    result = plan(CursorList(RECORDS), workspace=tmp_path / "ws.duckdb", mapping=mapping,
                  stages=["appointment-set", "Won Deal"], owners=[OWNER_ANA])
    assert _stages(result) == ["Won Deal", "Won Deal", "appointment-set", "appointment-set"]
    assert {p.body.get("owner_id") for p in result.rows} == {OWNER_ANA}
    assert result.summary["mapping"]["validation"]["problems"] == []
    # without [mapping.stages] the engine slugifies as before
    plain = plan(CursorList(RECORDS), workspace=tmp_path / "ws2.duckdb")
    assert _stages(plain) == ["hot_lead", "hot_lead", "signed", "signed"]
    with pytest.raises(ConfigError, match=r"both \[mapping.stages\] and the engine's stage_map"):
        plan(CursorList(RECORDS), workspace=tmp_path / "ws3.duckdb", mapping=mapping,
             engine_options={"stage_map": {"Hot-Lead": "new"}})


def test_a_changed_mapping_reads_the_source_again(tmp_path: Path, sandbox: Sandbox) -> None:
    ws = tmp_path / "ws.duckdb"
    first: dict[str, Any] = {"stages": {"Hot-Lead": "new", "Signed": "won"}}
    with pytest.raises(ConfigError, match="source_owner': 4 row.*map them in"):
        sync(CursorList(RECORDS), workspace=ws, sandbox=sandbox, mapping=first)
    first["owners"] = {"ana@agency.com": OWNER_ANA}  # fixed: the cursor saved by the stopped
    # run would skip every record; the changed mapping makes this run read them all again
    done = sync(CursorList(RECORDS), workspace=ws, sandbox=sandbox, mapping=first)
    assert done.exit_code == 0 and len(sandbox.leads(customer(sandbox))) == 4
    # same mapping: the cursor holds, nothing is read, the staged (mapped) records stand
    again = plan(CursorList(RECORDS), workspace=ws, mapping=first)
    assert again.summary["mapping"]["records"] == 0 and not again.summary["mapping"]["reread"]
    assert _stages(again) == ["new", "new", "won", "won"]
    # a new mapping: every record is read and mapped again despite the cursor
    second = {**first, "stages": {"Hot-Lead": "contacted", "Signed": "won"}}
    changed = plan(CursorList(RECORDS), workspace=ws, mapping=second)
    assert changed.summary["mapping"]["records"] == 4 and changed.summary["mapping"]["reread"]
    assert _stages(changed) == ["contacted", "contacted", "won", "won"]


def test_probe_asks_mega_about_what_no_list_describes(tmp_path: Path, sandbox: Sandbox) -> None:
    from leadbridge.mega import MegaClient

    records = [{**r, "custom_fields": {"Budget ($)": "5", "Shoe": "9"}} for r in RECORDS]
    mapping = {"stages": {"Hot-Lead": "qualified", "Signed": "signed-up"},
               "owners": {"ana@agency.com": OWNER_ANA},
               "fields": {"Budget ($)": "custom:budget", "Shoe": "custom:shoe_size"}}
    cust = customer(sandbox)
    with MegaClient(sandbox.base_url, sandbox.config.tokens[0].token, cust,
                    time_scale=sandbox.config.time_scale, env={}) as client:
        with pytest.raises(ConfigError) as err:  # no lists: only the probe knows
            sync(CursorList(records), workspace=tmp_path / "ws.duckdb", client=client,
                 mapping=mapping, probe=True)
        assert sandbox.leads(cust) == []
        text = str(err.value)
        assert "'signed-up': 2 row(s)" in text and "'shoe_size': 4 row(s)" in text
        assert "qualified'" not in text and "'budget'" not in text and OWNER_ANA not in text
        # without the probe nothing is known of this MEGA: nothing is checked, all is sent
        done = sync(CursorList(records), workspace=tmp_path / "ws2.duckdb", client=client,
                    mapping=mapping)
    assert done.summary["build"]["mapping"]["validation"]["not_checked"] == [
        "stage_slug", "owner_id", "custom_fields"]
    assert done.summary["record_status"]["failed"] == 2  # MEGA refused 'signed-up'
