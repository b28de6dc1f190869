"""MEGA's answers reach the ``mega_leads`` snapshot through a durable queue, folded in batches.

Why it is tested apart: the snapshot is folded in batches instead of once per chunk (a chunk's
fold scanned the whole snapshot: quadratic at millions of leads). It must end equal to what
MEGA holds, whatever the batch size, and answers a run stored but never folded (the process
was killed) must be folded by the next command that reads the snapshot, never lost.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from leadbridge.mega import MegaClient
from leadbridge.pipeline import plan, pull, sync
from leadbridge.sandbox import Sandbox

from .conftest import FAST, ListConnector, customer, messy_records

FIELDS = ("contact_name", "contact_email", "contact_phone", "stage_slug", "owner_id")


def _client(box: Sandbox) -> MegaClient:
    grant = box.config.tokens[0]
    return MegaClient(box.base_url, grant.token, grant.customer_id, time_scale=FAST, env={})


def _snapshot(ws: Path, customer_id: str) -> dict[str, dict[str, Any]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        rows = con.execute(
            f"SELECT id, {', '.join(FIELDS)}, custom_fields FROM mega_leads "
            "WHERE customer_id = ?", [customer_id]).fetchall()
    finally:
        con.close()
    return {r[0]: {**dict(zip(FIELDS, r[1:-1])), "custom_fields": json.loads(r[-1] or "{}")}
            for r in rows}


def _megas(box: Sandbox) -> dict[str, dict[str, Any]]:
    """MEGA's leads as a pull would store them (``pull.lead_row``)."""
    out = {}
    for lead in box.leads(customer(box)):
        row = pull.lead_row(customer(box), lead, "pulled")
        out[row["id"]] = {**{f: row[f] for f in FIELDS},
                          "custom_fields": json.loads(row["custom_fields"] or "{}")}
    return out


def _queued(ws: Path) -> int:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM sync_fold_queue").fetchall()[0][0]
    finally:
        con.close()


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Fold after every two 500-row chunks, and count the batches."""
    sizes: list[int] = []
    real = pull._fold_batch

    def counted(con: Any, batch: Any, own: bool) -> int:
        sizes.append(len(batch))
        return real(con, batch, own)

    monkeypatch.setattr(pull, "FOLD_BATCH_ROWS", 600)
    monkeypatch.setattr(pull, "_fold_batch", counted)
    return sizes


def test_snapshot_folded_in_batches_equals_what_mega_holds(
        sandbox: Sandbox, tmp_path: Path, batches: list[int]) -> None:
    records = messy_records(1100, seed=7)
    ws = tmp_path / "ws.duckdb"
    with _client(sandbox) as client:
        first = sync(ListConnector(records), workspace=ws, client=client, pull_first="never")
        assert first.summary["requests"] >= 3
        assert len(batches) >= 2 and sum(batches) == first.summary["requests"]
        assert _queued(ws) == 0
        assert _snapshot(ws, customer(sandbox)) == _megas(sandbox)
        # updates merge into the stored leads exactly as MEGA merged them
        changed = [dict(r, contact_name=f"Renamed {i}", updated_at="2026-03-01T00:00:00Z")
                   if i % 3 == 0 else r for i, r in enumerate(records)]
        second = sync(ListConnector(changed), workspace=ws, client=client, pull_first="never")
    assert second.summary["row_status"]["updated"] > 0
    assert second.summary["prediction_mismatches"] == 0
    assert _queued(ws) == 0
    assert _snapshot(ws, customer(sandbox)) == _megas(sandbox)


def test_answers_stored_but_not_folded_are_folded_by_the_next_command(
        sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = messy_records(1100, seed=8)
    ws = tmp_path / "ws.duckdb"
    real = pull._fold_batch

    def killed(con: Any, batch: Any, own: bool) -> int:
        raise KeyboardInterrupt  # the process dies with the answers stored, none folded

    monkeypatch.setattr(pull, "_fold_batch", killed)
    with _client(sandbox) as client, pytest.raises(KeyboardInterrupt):
        sync(ListConnector(records), workspace=ws, client=client, pull_first="never")
    monkeypatch.setattr(pull, "_fold_batch", real)
    chunks = _queued(ws)
    assert chunks >= 3 and _snapshot(ws, customer(sandbox)) == {}
    assert len(_megas(sandbox)) > 0

    # a plan folds them inside its own transaction: it predicts against them, then rolls
    # everything back (the queue stays for the next sync)
    changed = [dict(records[0], contact_name="Renamed Person",
                    updated_at="2026-03-01T00:00:00Z"), *records[1:]]
    offline = plan(ListConnector(changed), workspace=ws, customer_id=customer(sandbox))
    renamed = [p for p in offline.rows if p.action == "send"]
    assert len(renamed) == 1 and renamed[0].predicted_status == "updated"
    assert renamed[0].predicted_lead_id in _megas(sandbox)
    assert _queued(ws) == chunks and _snapshot(ws, customer(sandbox)) == {}

    with _client(sandbox) as client:
        resumed = sync(ListConnector(records), workspace=ws, client=client, pull_first="never")
    assert resumed.summary["record_status"]["pending"] == 0
    assert _queued(ws) == 0
    assert _snapshot(ws, customer(sandbox)) == _megas(sandbox)
