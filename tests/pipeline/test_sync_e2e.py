"""The whole job against a real sandbox on 127.0.0.1: faults, minimality, modes, accounting."""

from __future__ import annotations

import csv
import time
import io
import json
from pathlib import Path

import pytest

from leadbridge.mega import MegaClient
from leadbridge.pipeline import plan, sync
from leadbridge.pipeline.report import neutralize, render
from leadbridge.sandbox import Sandbox, SandboxConfig
from leadbridge.workspace import Workspace

from .conftest import (
    FAST,
    ListConnector,
    assert_no_duplicate_leads,
    customer,
    messy_records,
)

FINAL = {"created", "updated", "skipped", "failed", "rejected"}


def _client(box: Sandbox) -> MegaClient:
    grant = box.config.tokens[0]
    return MegaClient(box.base_url, grant.token, grant.customer_id, time_scale=FAST, env={},
                      max_attempts=8)


def test_faulty_sandbox_every_record_accounted_no_duplicates(tmp_path: Path) -> None:
    records = messy_records(1100, seed=5, bad_stage=2)
    config = SandboxConfig.default(time_scale=FAST, fail_after=0.5, fail_before=0.2, seed=11)
    ws = tmp_path / "ws.duckdb"
    with Sandbox(config) as box, _client(box) as client:
        result = None
        for _ in range(6):  # a run stopped by faults after every retry resumes on the next call
            result = sync(ListConnector(records), workspace=ws, client=client,
                          stages=box.config.stages)
            if result.exit_code != 3:
                break
            assert result.summary["record_status"]["pending"] > 0
        assert result is not None
        leads = box.leads(customer(box))
        faults = box.faults.counts
        assert faults["after_error"] + faults["after_drop"] > 0, faults  # writes were lost
        assert client.stats.retries > 0
    outcomes = result.outcomes
    assert len(outcomes) == len(records)
    assert {o["source_id"] for o in outcomes} == {r["source_id"] for r in records}
    assert all(o["status"] in FINAL for o in outcomes)
    summary = result.summary
    assert summary["record_status"]["pending"] == 0
    assert summary["record_status"]["rejected"] == 1  # the record with no contact at all
    assert summary["record_status"]["failed"] == 2    # the unknown stage, with MEGA's reason
    assert summary["errors"] == {"Stage not found: appointment_set": 2}
    golden_ok = summary["golden_rows"] - summary["row_status"]["failed"]
    assert len(leads) == golden_ok                     # one lead per golden row MEGA accepted
    assert_no_duplicate_leads(leads)
    assert summary["prediction_mismatches"] == 0
    assert summary["chunks"] == -(-summary["rows_sent"] // 500)
    assert result.exit_code == 1
    # every record of one person points at the same lead
    lead_of = {o["source_id"]: o["lead_id"] for o in outcomes}
    assert lead_of["p0-0"] == lead_of.get("p0-1", lead_of["p0-0"])


def test_second_sync_sends_nothing_and_changes_send_only_the_changed_row(
        sandbox: Sandbox, tmp_path: Path) -> None:
    records = messy_records(60, seed=2)
    ws = tmp_path / "ws.duckdb"
    with _client(sandbox) as client:
        first = sync(ListConnector(records), workspace=ws, client=client)
        before = client.stats.attempts
        second = sync(ListConnector(records), workspace=ws, client=client)
        assert client.stats.attempts == before          # not a single request
        assert second.summary["requests"] == 0 and second.summary["rows_sent"] == 0
        assert second.exit_code == 1 and second.summary["record_status"]["pending"] == 0
        skipped = [o for o in second.outcomes if o["status"] == "skipped"]
        assert skipped and all(o["lead_id"] for o in skipped)
        assert {o["lead_id"] for o in skipped} <= {o["lead_id"] for o in first.outcomes}
        changed = [dict(r) for r in records]
        changed[0].update(contact_name="Renamed Person", updated_at="2026-02-01T00:00:00Z")
        third = sync(ListConnector(changed), workspace=ws, client=client)
    assert third.summary["rows_sent"] == 1 and third.summary["requests"] == 1
    row = next(o for o in third.outcomes if o["source_id"] == changed[0]["source_id"])
    assert row["status"] == row["predicted_status"] == "updated"
    assert row["matched_by"] == "email"
    names = {lead["contact_name"] for lead in sandbox.leads(customer(sandbox))}
    assert "Renamed Person" in names
    assert len(sandbox.leads(customer(sandbox))) == first.summary["row_status"]["created"]


def test_dry_run_sends_megas_dry_run_and_writes_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    records = messy_records(30, seed=4, bad_stage=1)
    ws = tmp_path / "ws.duckdb"
    dry = sync(ListConnector(records), workspace=ws, sandbox=sandbox, dry_run=True)
    assert sandbox.leads(customer(sandbox)) == []
    assert dry.summary["dry_run"] is True and dry.summary["prediction_mismatches"] == 0
    assert dry.summary["row_status"]["created"] > 0 and dry.summary["row_status"]["failed"] == 1
    real = sync(ListConnector(records), workspace=ws, sandbox=sandbox)
    assert real.summary["rows_sent"] == dry.summary["rows_sent"]  # the dry run marked nothing sent
    assert len(sandbox.leads(customer(sandbox))) == real.summary["row_status"]["created"]


def test_live_mode_one_request_per_record_and_idempotent(sandbox: Sandbox, tmp_path: Path) -> None:
    records = messy_records(8, seed=9)
    ws = tmp_path / "ws.duckdb"
    first = sync(ListConnector(records), workspace=ws, sandbox=sandbox, mode="live")
    golden = first.summary["golden_rows"]
    assert first.summary["requests"] == golden == first.summary["chunks"]
    assert first.summary["row_status"]["created"] == golden
    assert len(sandbox.leads(customer(sandbox))) == golden
    again = sync(ListConnector(records), workspace=ws, sandbox=sandbox, mode="live")
    assert again.summary["requests"] == 0
    assert len(sandbox.leads(customer(sandbox))) == golden


def test_live_rows_with_the_same_body_are_each_created(sandbox: Sandbox, tmp_path: Path) -> None:
    # name only: MEGA matches nothing and creates a lead per row. An idempotency key made of
    # the body alone made MEGA replay the first create for the second row, and for a later
    # run's row with the same body (found by test_prediction_props in CI)
    records = [{"source_id": "a", "contact_name": "Ann"}, {"source_id": "b", "contact_name": "Ann"}]
    ws = tmp_path / "ws.duckdb"
    first = sync(ListConnector(records), workspace=ws, sandbox=sandbox, mode="live")
    assert first.summary["row_status"]["created"] == 2
    later = sync(ListConnector([{"source_id": "c", "contact_name": "Ann"}]), workspace=ws,
                 sandbox=sandbox, mode="live")
    assert later.summary["row_status"]["created"] == 1
    assert len({lead["id"] for lead in sandbox.leads(customer(sandbox))}) == 3


def test_keyless_rows_answered_under_the_old_hash_are_not_sent_again(
        sandbox: Sandbox, tmp_path: Path) -> None:
    from leadbridge.pipeline.planner import send_hash

    records = [{"source_id": "a", "contact_name": "Ann"}]
    ws = tmp_path / "ws.duckdb"
    sync(ListConnector(records), workspace=ws, sandbox=sandbox)
    # what a workspace written before keyless rows got their own hash holds
    with Workspace.open(ws) as w:
        (body,) = [json.loads(b) for (b,) in w.con.execute("SELECT body FROM sync_rows").fetchall()]
        old = send_hash(body, "update")
        w.con.execute("UPDATE sync_rows SET send_hash = ?", [old])
        w.con.execute("UPDATE sync_state SET send_hash = ?", [old])
    again = sync(ListConnector(records), workspace=ws, sandbox=sandbox)
    assert again.summary["requests"] == 0
    more = sync(ListConnector([*records, {"source_id": "b", "contact_name": "Ann"}]),
                workspace=ws, sandbox=sandbox)
    assert more.summary["row_status"]["created"] == 1
    assert len(sandbox.leads(customer(sandbox))) == 2


def test_on_duplicate_skip_is_predicted_and_reported(sandbox: Sandbox, tmp_path: Path) -> None:
    records = messy_records(10, seed=1)
    sync(ListConnector(records), workspace=tmp_path / "a.duckdb", sandbox=sandbox)
    other = [dict(r, contact_name="Someone Else") for r in records if r["source_id"] != "empty"]
    skipped = sync(ListConnector(other), workspace=tmp_path / "b.duckdb", sandbox=sandbox,
                   on_duplicate="skip")
    assert skipped.summary["row_status"]["skipped"] == skipped.summary["rows_sent"] > 0
    assert skipped.summary["prediction_mismatches"] == 0
    assert all(o["matched_by"] == "email" for o in skipped.outcomes if o["status"] == "skipped")
    assert "Someone Else" not in {lead["contact_name"] for lead in sandbox.leads(customer(sandbox))}


def test_incremental_cursor_is_persisted_per_source(sandbox: Sandbox, tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    early = [{"source_id": "a", "contact_email": "a@example.com", "updated_at": "2026-01-01"},
             {"source_id": "b", "contact_email": "b@example.com", "updated_at": "2026-01-02"}]
    sync(ListConnector(early), workspace=ws, sandbox=sandbox)
    with Workspace.open(ws) as w:
        state = w.con.execute("SELECT state FROM source_cursors WHERE source = 'testlist'"
                              ).fetchall()
    assert json.loads(state[0][0]) == {"since": "2026-01-02"}
    seen: list[str] = []

    class Watching(ListConnector):
        def records(self, state):  # type: ignore[override]
            for rec in super().records(state):
                seen.append(rec["source_id"])
                yield rec

    later = early + [{"source_id": "c", "contact_email": "c@example.com",
                      "updated_at": "2026-01-03"}]
    result = sync(Watching(later), workspace=ws, sandbox=sandbox)
    assert seen == ["c"]                     # only what changed at the source was read
    assert result.summary["rows_sent"] == 1  # and only the new golden row was sent
    assert {o["source_id"] for o in result.outcomes} == {"a", "b", "c"}


def test_plan_predicts_offline_without_any_server(tmp_path: Path) -> None:
    records = messy_records(40, seed=8, bad_stage=1)
    result = plan(ListConnector(records), workspace=tmp_path / "ws.duckdb",
                  stages=["new", "contacted"])
    s = result.summary
    assert s["records"] == len(records) and s["rejected"] == 1
    assert s["rows_to_send"] == s["golden_rows"] and s["chunks"] == s["requests"] == 1
    assert s["predicted"]["failed"] == 1
    assert s["predicted"]["created"] == s["golden_rows"] - 1


def test_report_csv_neutralizes_formulas_and_json_lists_errors() -> None:
    assert neutralize("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    for start in ("+1", "-1", "@x", "\tx", "\rx"):
        assert neutralize(start).startswith("'")
    assert neutralize("plain") == "plain" and neutralize(None) == ""
    rows = [{"source": "csv", "source_id": "=1+1", "row_ref": None, "status": "rejected",
             "lead_id": None, "matched_by": None, "predicted_status": "rejected",
             "errors": ["bad", "@worse"]}]
    parsed = list(csv.DictReader(io.StringIO(render(rows, "csv"))))
    assert parsed[0]["source_id"] == "'=1+1" and parsed[0]["errors"] == "bad; @worse"
    assert json.loads(render(rows, "json"))[0]["errors"] == ["bad", "@worse"]


def test_unknown_custom_fields_are_kept_and_summarized(sandbox: Sandbox, tmp_path: Path) -> None:
    records = [{"source_id": "1", "contact_email": "x@example.com",
                "custom_fields": {"budget": "5", "made_up": "y"}}]
    result = sync(ListConnector(records), workspace=tmp_path / "ws.duckdb", sandbox=sandbox)
    assert result.summary["unknown_custom_fields"] == ["made_up"]
    assert result.summary["ignored_custom_fields"] == {"made_up": 1}
    assert result.exit_code == 0


@pytest.mark.parametrize("bad", [{"on_duplicate": "merge"}, {"mode": "stream"},
                                 {"mode": "live", "dry_run": True}])
def test_bad_policies_are_config_errors(bad: dict, tmp_path: Path) -> None:
    from leadbridge.errors import ConfigError

    with pytest.raises(ConfigError):
        sync(ListConnector([]), workspace=tmp_path / "ws.duckdb", sandbox=True, **bad)


def test_mega_unavailable_stops_with_exit_3_and_the_next_sync_resumes(tmp_path: Path) -> None:
    from leadbridge.sandbox import TokenGrant

    records = messy_records(12, seed=6)[:-1]
    ws = tmp_path / "ws.duckdb"
    broken = SandboxConfig.default(time_scale=FAST, fail_before=1.0)
    grant: TokenGrant = broken.tokens[0]
    with Sandbox(broken) as box:
        stopped = sync(ListConnector(records), workspace=ws, sandbox=box, pull_first="never")
    assert stopped.exit_code == 3 and stopped.status == "stopped"
    assert stopped.summary["record_status"]["pending"] == len(records)
    assert "run the same sync again" in stopped.summary["stopped_reason"]
    with Sandbox(SandboxConfig(tokens=(grant,), time_scale=FAST)) as box:
        resumed = sync(ListConnector(records), workspace=ws, sandbox=box)
        leads = box.leads(grant.customer_id)
    assert resumed.run_id == stopped.run_id and resumed.exit_code == 0
    assert resumed.summary["record_status"]["created"] == len(records)
    assert len(leads) == resumed.summary["golden_rows"]


def test_write_committed_but_answer_lost_is_replayed_not_repeated(tmp_path: Path) -> None:
    """The crash window exactly-once exists for: MEGA wrote the chunk, the answer never came."""
    records = messy_records(40, seed=3)[:-1]
    ws = tmp_path / "ws.duckdb"
    with Sandbox(SandboxConfig.default(time_scale=FAST, fail_after=1.0, seed=1)) as box:
        grant = box.config.tokens[0]
        with MegaClient(box.base_url, grant.token, grant.customer_id, time_scale=FAST, env={},
                        max_attempts=1) as client:
            lost = sync(ListConnector(records), workspace=ws, client=client, pull_first="never")
        assert lost.exit_code == 3
        written = box.leads(grant.customer_id)
        assert len(written) == lost.summary["golden_rows"]  # MEGA did write them
        box.faults.fail_after = 0.0
        resumed = sync(ListConnector(records), workspace=ws, sandbox=box)
        after = box.leads(grant.customer_id)
    assert resumed.run_id == lost.run_id and resumed.exit_code == 0
    assert len(after) == len(written)                       # nothing written twice
    assert {o["lead_id"] for o in resumed.outcomes} == {lead["id"] for lead in after}
    assert resumed.summary["record_status"]["created"] == len(records)


def test_sandbox_true_keeps_its_state_next_to_the_workspace(tmp_path: Path) -> None:
    records = messy_records(12, seed=2)
    ws = tmp_path / "ws.duckdb"
    first = sync(ListConnector(records), workspace=ws, sandbox=True)
    again = sync(ListConnector(records), workspace=ws, sandbox=True)
    assert first.summary["rows_sent"] == first.summary["golden_rows"] > 0
    assert again.summary["requests"] == 0 and again.summary["record_status"]["pending"] == 0
    assert (tmp_path / "ws.sandbox.duckdb").exists()
    import re

    tokens = set(re.findall(rb"mega_[0-9a-f]{64}", ws.read_bytes()))
    assert not tokens  # the sandbox token is derived, never stored


def test_plan_leaves_the_workspace_as_it_found_it(sandbox: Sandbox, tmp_path: Path) -> None:
    ws = tmp_path / "ws.duckdb"
    synced = sync(ListConnector(messy_records(10, seed=1)), workspace=ws, sandbox=sandbox)
    preview = plan(ListConnector(messy_records(30, seed=2)), workspace=ws,
                   customer_id=customer(sandbox))
    assert preview.summary["records"] > synced.summary["records"]  # it saw both sources' data
    with Workspace.open(ws) as w:
        staged = w.con.execute("SELECT count(*) FROM records").fetchall()[0][0]
    assert staged == synced.summary["records"]  # but staged nothing for good
    again = sync(ListConnector(messy_records(10, seed=1)), workspace=ws, sandbox=sandbox)
    assert again.summary["requests"] == 0


def test_pull_snapshots_then_fetches_only_what_changed(sandbox: Sandbox, tmp_path: Path) -> None:
    from leadbridge.pipeline import pull_snapshot

    ws = tmp_path / "ws.duckdb"
    with _client(sandbox) as client:
        client.bulk_import([{"contact_email": f"old{i}@example.com"} for i in range(150)])
        time.sleep(0.01)
        client.bulk_import([{"contact_email": "last@example.com"}])
        first = pull_snapshot(workspace=ws, sandbox=sandbox)
        time.sleep(0.01)
        client.bulk_import([{"contact_email": "new@example.com"},
                            {"contact_email": "old3@example.com", "contact_name": "Renamed"}])
    second = pull_snapshot(workspace=ws, sandbox=sandbox)
    assert (first.incremental, first.fetched, first.leads) == (False, 151, 151)
    # updated_since is inclusive: the newest lead already held comes back once more
    assert second.incremental and second.fetched == 3 and second.leads == 152
    with Workspace.open(ws) as w:
        name = w.con.execute("SELECT contact_name FROM mega_leads WHERE email_key = "
                             "'old3@example.com'").fetchall()
    assert name == [("Renamed",)]
    preview = plan(ListConnector([{"source_id": "1", "contact_email": "OLD7@example.com"}]),
                   workspace=ws, customer_id=customer(sandbox))
    assert preview.summary["predicted"]["updated"] == 1
    assert preview.summary["matched_by"] == {"email": 1, "phone": 0}


def test_record_deleted_at_source_is_skipped_with_its_reason(sandbox: Sandbox,
                                                              tmp_path: Path) -> None:
    records = [{"source_id": "1", "contact_email": "keep@example.com"},
               {"source_id": "2", "contact_email": "gone@example.com", "deleted": True}]
    result = sync(ListConnector(records), workspace=tmp_path / "ws.duckdb", sandbox=sandbox)
    gone = next(o for o in result.outcomes if o["source_id"] == "2")
    assert gone["status"] == "skipped" and gone["errors"] == ["deleted at source"]
    assert result.exit_code == 0
    assert [lead["contact_email"] for lead in sandbox.leads(customer(sandbox))] == ["keep@example.com"]


def test_a_stopped_dry_run_is_not_resumed_by_a_real_sync(tmp_path: Path) -> None:
    from leadbridge.pipeline import runs
    from leadbridge.sandbox import TokenGrant

    records = messy_records(5, seed=2)[:-1]
    ws = tmp_path / "ws.duckdb"
    broken = SandboxConfig.default(time_scale=FAST, fail_before=1.0)
    grant: TokenGrant = broken.tokens[0]
    with Sandbox(broken) as box:
        dry = sync(ListConnector(records), workspace=ws, sandbox=box, dry_run=True,
                   pull_first="never")
    assert dry.exit_code == 3
    with Sandbox(SandboxConfig(tokens=(grant,), time_scale=FAST)) as box:
        real = sync(ListConnector(records), workspace=ws, sandbox=box)
        assert len(box.leads(grant.customer_id)) == real.summary["golden_rows"]
    assert real.run_id != dry.run_id and not real.summary["dry_run"] and real.exit_code == 0
    with Workspace.open(ws) as w:
        assert runs.get(w.con, dry.run_id).status == "abandoned"


def test_a_request_too_large_is_halved_and_only_a_row_too_large_alone_fails(
        tmp_path: Path) -> None:
    """A 413 used to stop the run "to resume": every re-run sent the same bytes and got the same
    413, so the records stayed pending for ever. Now the chunk is halved until each part
    fits; a row too large on its own fails with MEGA's reason and a hint, and once it is
    shortened the next sync sends it."""
    records = [{"source_id": str(i), "contact_email": f"p{i}@example.com",
                "custom_fields": {"notes": "x" * 3000}} for i in range(5)]
    records[3]["custom_fields"] = {"notes": "y" * 9000}  # over the 8,000-byte limit alone
    ws = tmp_path / "ws.duckdb"
    with Sandbox(SandboxConfig.default(time_scale=FAST, max_body=8000)) as box, \
            _client(box) as client:
        result = sync(ListConnector(records), workspace=ws, client=client)
        status = {o["source_id"]: o for o in result.outcomes}
        assert result.exit_code == 1
        assert [sid for sid, o in sorted(status.items()) if o["status"] == "created"] == \
            ["0", "1", "2", "4"]
        assert status["3"]["status"] == "failed"
        assert "too large" in status["3"]["errors"][0]
        assert "shorten or drop" in status["3"]["errors"][0]
        assert len(box.leads(customer(box))) == 4
        records[3]["custom_fields"] = {"notes": "short"}
        again = sync(ListConnector(records), workspace=ws, client=client)
        assert again.exit_code == 0
        assert len(box.leads(customer(box))) == 5


def test_a_halved_chunk_resumed_after_a_failure_creates_no_duplicate(tmp_path: Path) -> None:
    """The halves are made from the stored body, so a run stopped between them sends the
    same halves under the same keys when resumed: MEGA replays the half it already wrote."""
    from leadbridge.mega import MegaTransportError

    records = [{"source_id": str(i), "contact_email": f"p{i}@example.com",
                "custom_fields": {"notes": "x" * 3000}} for i in range(4)]
    ws = tmp_path / "ws.duckdb"
    with Sandbox(SandboxConfig.default(time_scale=FAST, max_body=8000)) as box, \
            _client(box) as client:
        sent: list[str] = []
        real_send = client.send_chunk

        def flaky(chunk):  # the second half of the first split never gets an answer
            sent.append(chunk.idempotency_key)
            if len(sent) == 3:
                raise MegaTransportError("connection dropped", method="POST",
                                         path="/api/agents/crm/leads/bulk")
            return real_send(chunk)

        client.send_chunk = flaky  # type: ignore[method-assign]
        first = sync(ListConnector(records), workspace=ws, client=client)
        assert first.exit_code == 3  # stopped, resumable
        client.send_chunk = real_send  # type: ignore[method-assign]
        resumed = sync(ListConnector(records), workspace=ws, client=client)
        assert resumed.exit_code == 0
        assert resumed.summary["record_status"]["created"] == 4
        assert len(box.leads(customer(box))) == 4


def test_a_retried_row_keeps_one_answer_per_content(sandbox: Sandbox, tmp_path: Path) -> None:
    """--retry-failed sends a failed row again: its new answer replaces the old one in
    sync_state (one answer per content), which later plans read as the row's outcome."""
    import duckdb

    records = messy_records(30, seed=4, bad_stage=1)
    ws = tmp_path / "ws.duckdb"
    first = sync(ListConnector(records), workspace=ws, sandbox=sandbox)
    assert first.summary["row_status"]["failed"] == 1
    again = sync(ListConnector(records), workspace=ws, sandbox=sandbox, retry_failed=True)
    assert again.summary["rows_sent"] == 1 and again.summary["row_status"]["failed"] == 1
    con = duckdb.connect(str(ws), read_only=True)
    try:
        answers = con.execute("SELECT send_hash, count(*) FROM sync_state "
                              "GROUP BY send_hash HAVING count(*) > 1").fetchall()
        runs = con.execute("SELECT count(DISTINCT run_id) FROM sync_state WHERE status = "
                           "'failed'").fetchall()[0][0]
    finally:
        con.close()
    assert answers == []
    assert runs == 1  # the failed row's answer is the retry's, not both
