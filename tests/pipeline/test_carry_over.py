"""Rows whose content MEGA already answered are carried over in SQL, exactly as planned in
Python.

Why it is tested apart: a re-run of a source that did not change carries over every row,
and ``planner.carry_over`` does it without a Python object per row (24 s of a 46 s re-run
plan at 1M records). What it stores must be, column for column, what ``iter_plans`` stores
for the same rows: the place in the order, the hash, the earlier answer shown as skipped or
failed (keyless rows, hashed with their row_ref, too); rows without an answer under
that hash and, under ``--retry-failed``, failed rows stay with ``iter_plans``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leadbridge.engine import build, iter_golden_rows, stage
from leadbridge.mega import MegaClient
from leadbridge.pipeline import ledger, plan, plan_store, planner, sync
from leadbridge.pipeline.planner import CARRIED, Known
from leadbridge.sandbox import Sandbox
from leadbridge.workspace import Workspace

from .conftest import FAST, ListConnector, cli_env, customer, messy_records, run_cli, write_csv

LABEL = "testlist"


def _client(box: Sandbox) -> MegaClient:
    grant = box.config.tokens[0]
    return MegaClient(box.base_url, grant.token, grant.customer_id, time_scale=FAST, env={})


def _first_records() -> list[dict[str, Any]]:
    keyless = [{"source_id": f"k{i}", "contact_name": f"Nameonly {i % 2}"} for i in range(4)]
    return messy_records(120, seed=5, bad_stage=3) + keyless


def _changed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Some records renamed (their rows change), some people new, the rest as they were."""
    out = [dict(r, contact_name=f"Renamed {i}") if i % 9 == 0 and r.get("contact_email") else r
           for i, r in enumerate(records)]
    return out + [{"source_id": f"new{i}", "contact_email": f"new{i}@example.org"}
                  for i in range(5)]


def ws_rows_keyless(ws_path: Path) -> set[str]:
    """row_refs of the golden rows with neither email nor phone."""
    with Workspace.open(ws_path) as ws:
        return {r for (r,) in ws.con.execute(
            "SELECT row_ref FROM golden WHERE contact_email IS NULL AND contact_phone IS NULL"
        ).fetchall()}


def _stored(ws: Workspace, run_id: str, plans: Any) -> list[tuple[Any, ...]]:
    plan_store.store_plan(ws.con, run_id, plans, customer_id="c", mode="bulk",
                          on_duplicate="update", dry_run=False)
    return ws.con.execute("SELECT * EXCLUDE (run_id) FROM sync_rows WHERE run_id = ? "
                          "ORDER BY ord", [run_id]).fetchall()


@pytest.mark.parametrize(("on_duplicate", "retry_failed"),
                         [("update", False), ("update", True), ("skip", False)])
def test_rows_carried_over_in_sql_are_stored_as_planned_in_python(
        sandbox: Sandbox, tmp_path: Path, on_duplicate: str, retry_failed: bool) -> None:
    cust, stages = customer(sandbox), sandbox.config.stages
    records = _first_records()
    ws_path = tmp_path / "ws.duckdb"
    with _client(sandbox) as client:
        sync(ListConnector(records), workspace=ws_path, client=client, stages=stages,
             on_duplicate=on_duplicate)
    kw = {"customer_id": cust, "on_duplicate": on_duplicate, "known": Known.of(stages),
          "retry_failed": retry_failed}
    with Workspace.open(ws_path) as ws:
        failed = ws.con.execute("SELECT count(*) FROM sync_state WHERE status = 'failed'"
                                ).fetchall()[0][0]
        assert failed >= 3  # the bad stages: carried, or re-planned under retry_failed
        stage(ws, LABEL, _changed(records))
        build(ws, None)
        with pytest.raises(ZeroDivisionError), ledger.transaction(ws.con):
            python = _stored(ws, "python", planner.iter_plans(
                ws.con, iter_golden_rows(ws), batch_rows=7, **kw))
            carried = planner.carry_over(ws.con, cust, on_duplicate=on_duplicate,
                                         retry_failed=retry_failed)
            plan_store.store_carried(ws.con, "sql")
            sql = _stored(ws, "sql", planner.iter_plans(
                ws.con, iter_golden_rows(ws, without=CARRIED), batch_rows=7, carried=True,
                **kw))
            1 / 0  # roll back
    unchanged = [r for r in python if r[3] == "unchanged"]
    sent = [r for r in python if r[3] == "send"]
    # not vacuous: most rows carried, some sent again; every unchanged row carried, the
    # four keyless ones too (failed rows under retry_failed are sent)
    assert carried >= len(python) // 2 and len(sent) >= 10
    assert carried == len(unchanged)
    keyless = ws_rows_keyless(ws_path)
    assert len(keyless) == 4 and keyless <= {r[1] for r in unchanged}
    assert retry_failed == all(r[9] != "failed" for r in unchanged)  # r[9]: status
    assert sql == python


def test_a_plan_counted_on_a_re_run_reports_what_the_kept_rows_say(
        sandbox: Sandbox, tmp_path: Path) -> None:
    cust, stages = customer(sandbox), sandbox.config.stages
    records = _first_records()
    ws = tmp_path / "ws.duckdb"
    with _client(sandbox) as client:
        sync(ListConnector(records), workspace=ws, client=client, stages=stages)
    kept = plan(ListConnector(_changed(records)), workspace=ws, customer_id=cust, stages=stages)
    counted = plan(ListConnector(_changed(records)), workspace=ws, customer_id=cust,
                   stages=stages, keep_rows=False)
    assert counted.rows == [] and len(kept.rows) == kept.summary["golden_rows"]
    assert 0 < kept.summary["rows_to_send"] < kept.summary["rows_unchanged"]
    assert counted.summary == kept.summary


def test_plan_and_sync_take_a_memory_cap_that_binds(sandbox: Sandbox, tmp_path: Path) -> None:
    """Uncapped, a plan of 5M records peaked at 8.8 GB; capped at 2 GB (the default, as for
    ``dedupe``), 3.4 GB. The cap changes no result, and a cap too small stops the run."""
    records, cust = _first_records(), customer(sandbox)
    summaries = [plan(ListConnector(records), workspace=tmp_path / f"p{i}.duckdb",
                      customer_id=cust, stages=sandbox.config.stages, keep_rows=False,
                      memory_limit=cap).summary
                 for i, cap in enumerate(("2GB", None, "64MB"))]
    assert summaries[0] == summaries[1] == summaries[2] and summaries[0]["golden_rows"] > 100
    src = write_csv(tmp_path / "leads.csv", records)
    env = cli_env(sandbox)
    bad = run_cli("plan", "csv", str(src), "--id-column", "id", "--workspace",
                  str(tmp_path / "b.duckdb"), "--memory-limit", "lots", env=env)
    assert bad.returncode == 2 and "'lots' is not a size" in bad.stderr
    tiny = run_cli("sync", "csv", str(src), "--id-column", "id", "--workspace",
                   str(tmp_path / "t.duckdb"), "--memory-limit", "1MB", env=env)
    assert tiny.returncode == 3 and "DuckDB ran out of memory" in tiny.stderr
    assert "Traceback" not in tiny.stderr and sandbox.leads(cust) == []
    with _client(sandbox) as client:
        capped = sync(ListConnector(records), workspace=tmp_path / "c.duckdb", client=client,
                      memory_limit="64MB", stages=sandbox.config.stages)
    assert capped.summary["prediction_mismatches"] == 0
    assert len(sandbox.leads(cust)) == summaries[0]["predicted"]["created"]
