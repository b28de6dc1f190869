"""A sync plans and stores its rows a batch at a time, and hands back outcomes held as Arrow.

Why it is tested apart: holding every golden row, plan and outcome as Python objects made a
sync of a million records need 5 GB. The batches must change nothing a run stores (rows,
chunk bytes, idempotency keys, which chunk a row is in), a run that fails half-way through
storing must leave nothing of its plan, and the compact outcomes must read exactly like the
list of dicts they replaced.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadbridge.chunking import make_chunks
from leadbridge.mega import MegaClient
from leadbridge.errors import WorkspaceError
from leadbridge.pipeline import ledger, plan, plan_store, planner, push, report, runs, sync
from leadbridge.sandbox import Sandbox

from .conftest import FAST, ListConnector, customer, messy_records

ROW_FIELDS = ("ord", "row_ref", "send_hash", "action", "chunk_index", "predicted_status",
              "predicted_lead_id", "predicted_matched_by")


def _client(box: Sandbox) -> MegaClient:
    grant = box.config.tokens[0]
    return MegaClient(box.base_url, grant.token, grant.customer_id, time_scale=FAST, env={})


def _stored(ws: Path, run_id: str) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        rows = con.execute(f"SELECT {', '.join(ROW_FIELDS)}, body FROM sync_rows "
                           "WHERE run_id = ? ORDER BY ord", [run_id]).fetchall()
        # the bytes sent: made again from the stored rows and checked against the stored key
        run = runs.get(con, run_id)
        chunks = [(i, e, k, push.chunk_body(con, run_id, i, e, k, customer_id=run.customer_id,
                                            on_duplicate=run.on_duplicate,
                                            dry_run=run.dry_run)[0], n)
                  for i, e, k, n in
                  con.execute("SELECT chunk_index, endpoint, idempotency_key, n_rows "
                              "FROM sync_chunks WHERE run_id = ? ORDER BY chunk_index",
                              [run_id]).fetchall()]
    finally:
        con.close()
    return [dict(zip((*ROW_FIELDS, "body"), r)) for r in rows], chunks


@pytest.fixture
def tiny_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches far smaller than a chunk, of sizes that never divide 500 or each other."""
    monkeypatch.setattr(planner, "PLAN_BATCH_ROWS", 7)
    monkeypatch.setattr(plan_store, "STORE_BATCH_ROWS", 13)
    monkeypatch.setattr(plan_store, "BODY_SLICE_ROWS", 11)


def test_a_plan_stored_in_batches_is_the_plan_made_whole(
        sandbox: Sandbox, tmp_path: Path, tiny_batches: None) -> None:
    records = messy_records(1400, seed=11)
    cust = customer(sandbox)
    # the plan made in one piece, on a workspace of its own: same rows, same empty snapshot
    whole = plan(ListConnector(records), workspace=tmp_path / "plan.duckdb", customer_id=cust)
    to_send = [p for p in whole.rows if p.action == "send"]
    expected = make_chunks([p.body for p in to_send], customer_id=cust)
    assert len(expected) >= 3

    ws = tmp_path / "ws.duckdb"
    with _client(sandbox) as client:
        first = sync(ListConnector(records), workspace=ws, client=client, pull_first="never")
    rows, chunks = _stored(ws, first.run_id)

    assert [(r["ord"], r["row_ref"], r["send_hash"], r["action"], r["predicted_status"])
            for r in rows] == [(p.ord, p.row_ref, p.send_hash, p.action, p.predicted_status)
                               for p in whole.rows]
    assert [(c[0], c[2], c[3], c[4]) for c in chunks] == [
        (c.index, c.idempotency_key, c.body, len(c.row_refs)) for c in expected]
    # each row is in the chunk whose body carries it, at its place
    for index, _, _, body, _ in chunks:
        carried = [lead["row_ref"] for lead in json.loads(body)["leads"]]
        assert carried == [r["row_ref"] for r in rows if r["chunk_index"] == index]
    # read back a slice of places at a time (the mapping check's input): every body, in order
    con = duckdb.connect(str(ws), read_only=True)
    try:
        bodies = list(plan_store.stored_bodies(con, first.run_id))
    finally:
        con.close()
    assert bodies == [lead for c in chunks for lead in json.loads(c[3])["leads"]]
    assert first.summary["prediction_mismatches"] == 0
    assert len(sandbox.leads(cust)) == len(to_send)

    # the re-run carries every answer over, batch after batch: nothing to send
    with _client(sandbox) as client:
        again = sync(ListConnector(records), workspace=ws, client=client, pull_first="never")
    rows, chunks = _stored(ws, again.run_id)
    assert again.summary["requests"] == 0 and chunks == []
    assert {r["action"] for r in rows} == {"unchanged"} and len(rows) == len(whole.rows)


def test_a_run_failing_while_its_plan_is_stored_leaves_none_of_it(
        sandbox: Sandbox, tmp_path: Path, tiny_batches: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    real = plan_store.PlanStore._write

    def failing(self: Any) -> None:
        writes.append(len(self.rows))
        if len(writes) == 5:  # four batches are already in sync_rows
            raise RuntimeError("disk full")
        real(self)

    monkeypatch.setattr(plan_store.PlanStore, "_write", failing)
    ws = tmp_path / "ws.duckdb"
    with _client(sandbox) as client, pytest.raises(RuntimeError, match="disk full"):
        sync(ListConnector(messy_records(300, seed=4)), workspace=ws, client=client,
             pull_first="never")
    assert len(writes) == 5
    con = duckdb.connect(str(ws), read_only=True)
    try:
        (run,) = runs.all_runs(con)
        left = [con.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?",
                            [run.run_id]).fetchall()[0][0]
                for table in ("sync_rows", "sync_chunks", "sync_records")]
    finally:
        con.close()
    assert run.status == runs.ABANDONED and left == [0, 0, 0]
    assert sandbox.leads(customer(sandbox)) == []
    # the four batches were committed to the staging table, outside the plan's transaction
    assert staged_rows(ws) == 4 * 13

    # the next sync clears them and lands its own plan whole; nothing is staged after it
    monkeypatch.setattr(plan_store.PlanStore, "_write", real)
    records = messy_records(300, seed=4)
    with _client(sandbox) as client:
        done = sync(ListConnector(records), workspace=ws, client=client, pull_first="never")
    assert staged_rows(ws) == 0
    con = duckdb.connect(str(ws), read_only=True)
    try:
        per_run = dict(con.execute("SELECT run_id, count(*) FROM sync_rows GROUP BY run_id")
                       .fetchall())
        (golden,) = con.execute("SELECT count(*) FROM golden").fetchone()
    finally:
        con.close()
    assert per_run == {done.run_id: golden}
    assert done.summary["prediction_mismatches"] == 0
    status = done.summary["record_status"]
    assert status["pending"] == 0 and sum(status.values()) == len(records)


def staged_rows(ws: Path) -> int:
    con = duckdb.connect(str(ws), read_only=True)
    try:
        return con.execute("SELECT (SELECT count(*) FROM sync_rows_staged) + "
                           "(SELECT count(*) FROM sync_chunks_staged)").fetchone()[0]
    finally:
        con.close()


def _old_outcomes(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """What ``report.outcomes`` returned before: a list of dicts, errors decoded."""
    out = []
    for row in con.execute(sql).fetchall():
        item = dict(zip(report.COLUMNS, row))
        item["errors"] = ledger.loads(item["errors"])
        out.append(item)
    return out


_TEXT = st.one_of(st.none(), st.text(max_size=8))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=5), _TEXT, _TEXT,
                          st.one_of(st.none(), st.lists(st.text(max_size=6), max_size=3))),
                max_size=30), st.integers(1, 7))
def test_outcomes_read_like_the_list_they_replaced(
        items: list[tuple[Any, ...]], batch: int) -> None:
    con = duckdb.connect()
    rows = pa.table({
        "source": [f"s{i % 3}" for i in range(len(items))],
        "source_id": [f"{i:03d}{t[0]}" for i, t in enumerate(items)],
        "row_ref": [t[1] for t in items], "status": [t[2] for t in items],
        "lead_id": [t[1] for t in items], "matched_by": [t[2] for t in items],
        "predicted_status": [t[2] for t in items],
        "errors": [json.dumps(t[3]) if t[3] is not None else None for t in items]},
        schema=pa.schema([(c, pa.string()) for c in report.COLUMNS]))
    con.register("src", rows)
    sql = f"SELECT {', '.join(report.COLUMNS)} FROM src ORDER BY source, source_id"
    old = _old_outcomes(con, sql)
    new = report.Outcomes(con.sql(sql).to_arrow_table())
    new._BATCH = batch  # iteration crosses batch boundaries
    assert len(new) == len(old)
    assert list(new) == old and new == old
    if old:
        assert new[0] == old[0] and new[-1] == old[-1] and new[1:3] == old[1:3]
    with pytest.raises(IndexError):
        new[len(old)]
    # the JSON export, streamed, is byte for byte what json.dump of the list wrote
    buf = io.StringIO()
    assert report.write_json(new, buf) == len(old)
    assert buf.getvalue() == json.dumps([{c: o[c] for c in report.COLUMNS} for o in old],
                                        ensure_ascii=False, indent=1) + "\n"


def test_a_plan_counted_as_it_goes_reports_what_the_kept_rows_say(
        sandbox: Sandbox, tmp_path: Path, tiny_batches: None) -> None:
    records = messy_records(900, seed=5, bad_stage=40)
    ws = tmp_path / "ws.duckdb"
    with _client(sandbox) as client:  # a first sync, so the plan predicts merges as well
        sync(ListConnector(records[:500]), workspace=ws, client=client)
    records = [dict(r, contact_name=f"Renamed {i}", updated_at="2026-03-01T00:00:00Z")
               if i < 500 and i % 5 == 0 else r for i, r in enumerate(records)]
    cust, stages = customer(sandbox), sandbox.config.stages
    kept = plan(ListConnector(records), workspace=ws, customer_id=cust, stages=stages)
    counted = plan(ListConnector(records), workspace=ws, customer_id=cust, stages=stages,
                   keep_rows=False)
    assert counted.rows == [] and len(kept.rows) == kept.summary["golden_rows"]
    assert counted.summary == kept.summary
    send = [p for p in kept.rows if p.action == "send"]
    s = kept.summary
    assert s["rows_to_send"] == len(send) and s["rows_unchanged"] > 0
    assert s["chunks"] == len(make_chunks([p.body for p in send], customer_id=cust))
    assert s["predicted"] == {k: sum(p.predicted_status == k for p in send)
                              for k in ("created", "updated", "skipped", "failed")}
    assert s["predicted"]["updated"] > 0 and s["predicted"]["failed"] > 0
    assert s["matched_by"] == {k: sum(p.predicted_matched_by == k for p in send)
                               for k in ("email", "phone")}


def test_a_chunk_is_sent_only_as_the_bytes_its_key_was_made_from(
        sandbox: Sandbox, tmp_path: Path) -> None:
    """The plan stores each chunk's key, not its bytes; push makes the bytes again from the
    stored rows. Rows changed since (an edited workspace) must never go out under that key;
    once they are as planned again, the chunk goes out and MEGA replays its answer."""
    records = messy_records(700, seed=4)
    cust = customer(sandbox)
    ws = tmp_path / "ws.duckdb"
    with _client(sandbox) as client:
        done = sync(ListConnector(records), workspace=ws, client=client, pull_first="never")
    leads = len(sandbox.leads(cust))
    con = duckdb.connect(str(ws))
    first = ("SELECT min(ord) FROM sync_rows WHERE run_id = $run AND chunk_index = 1")
    try:
        (stored,), = con.execute("SELECT count(*) FROM sync_chunks WHERE run_id = ? AND "
                                 "body IS NOT NULL", [done.run_id]).fetchall()
        assert stored == 0 and done.summary["chunks"] >= 2
        (planned,), = con.execute(f"SELECT body FROM sync_rows WHERE run_id = $run AND "
                                  f"ord = ({first})", {"run": done.run_id}).fetchall()
        # chunk 1 unanswered again, one of its rows edited
        con.execute("UPDATE sync_chunks SET state = 'planned' WHERE run_id = ? AND "
                    "chunk_index = 1", [done.run_id])
        con.execute(f"UPDATE sync_rows SET body = replace(body, 'Person', 'Persona') WHERE "
                    f"run_id = $run AND ord = ({first})", {"run": done.run_id})
        with _client(sandbox) as client:
            before = client.stats.attempts
            with pytest.raises(WorkspaceError, match="chunk 1 cannot be made again"):
                push.push(con, client, done.run_id, customer_id=cust, dry_run=False)
            assert client.stats.attempts == before  # nothing went out
            con.execute(f"UPDATE sync_rows SET body = $body WHERE run_id = $run AND "
                        f"ord = ({first})", {"run": done.run_id, "body": planned})
            push.push(con, client, done.run_id, customer_id=cust, dry_run=False)
            assert client.stats.attempts == before + 1
        (state,), = con.execute("SELECT state FROM sync_chunks WHERE run_id = ? AND "
                                "chunk_index = 1", [done.run_id]).fetchall()
    finally:
        con.close()
    assert state == "done" and len(sandbox.leads(cust)) == leads  # replayed, not written twice
