"""Engine examples: staging, guard, households, survivorship, rejects, outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadbridge import mega_model as mm
from leadbridge.chunking import canonical_json, idempotency_key
from leadbridge.engine import (
    OFFLINE_CUSTOMER_ID,
    EngineOptions,
    build,
    dedupe,
    golden_rows,
    stage,
)
from leadbridge.engine.phones import classify_python
from leadbridge.errors import ConfigError, SourceDataError
from leadbridge.records import CANONICAL_FIELDS
from leadbridge.workspace import Workspace

from .conftest import ListConnector

FAST = EngineOptions(classify_phones=False)


def lineage(ws: Workspace) -> dict[str, tuple[str | None, str | None]]:
    return {sid: (ref, reason) for sid, ref, reason in ws.con.execute(
        "SELECT source_id, row_ref, reject_reason FROM lineage").fetchall()}


def test_stage_replaces_same_source_id_and_keeps_last_duplicate(ws: Workspace) -> None:
    stage(ws, "crm", [{"source_id": "1", "contact_name": "Old"}, {"source_id": "2"}])
    stats = stage(ws, "crm", [{"source_id": "1", "contact_name": "First"},
                              {"source_id": "1", "contact_name": "Newest"}])
    assert (stats.received, stats.staged, stats.replaced, stats.duplicates) == (2, 1, 1, 1)
    assert ws.con.execute("SELECT source_id, contact_name FROM records ORDER BY 1").fetchall() == [
        ("1", "Newest"), ("2", None)]
    stage(ws, "other", [{"source_id": "1"}])  # another source never replaces
    assert ws.con.execute("SELECT count(*) FROM records").fetchone() == (3,)


def test_the_last_duplicate_in_the_stream_wins_across_batches_and_threads() -> None:
    # 20 batches of 10,000 (two DuckDB row groups): every id appears in several batches;
    # the INSERT is not asked to keep the stream's order, the stream position decides
    batches = [pa.RecordBatch.from_pydict({
        "source_id": [str((b * 7919 + i) % 90_000) for i in range(10_000)],
        "contact_name": [f"b{b}" for _ in range(10_000)]}) for b in range(20)]
    last = {}
    for b, batch in enumerate(batches):
        for sid in batch.column("source_id").to_pylist():
            last[sid] = f"b{b}"
    with Workspace.open(None, threads=2) as ws:
        stats = stage(ws, "crm", batches)
        assert (stats.received, stats.staged) == (200_000, len(last))
        assert dict(ws.con.execute("SELECT source_id, contact_name FROM records").fetchall()) \
            == last


def test_stage_upgrades_a_records_table_made_before_stream_positions(ws: Workspace) -> None:
    types = {"emails": "VARCHAR[]", "phones": "VARCHAR[]", "deleted": "BOOLEAN"}
    old = ", ".join(f"{c} {types.get(c, 'VARCHAR')}" for c in ("source", *CANONICAL_FIELDS))
    ws.con.execute(f"CREATE TABLE records ({old}, stage_seq BIGINT)")  # no stage_pos
    ws.con.execute("INSERT INTO records (source, source_id, contact_name, stage_seq) "
                   "VALUES ('crm', '1', 'Old', 1)")
    stats = stage(ws, "crm", [{"source_id": "1", "contact_name": "A"},
                              {"source_id": "1", "contact_name": "B"}])
    assert (stats.replaced, stats.duplicates) == (1, 1)
    assert ws.con.execute("SELECT source_id, contact_name FROM records").fetchall() == [("1", "B")]


def test_stage_accepts_arrow_batches_and_rejects_missing_ids(ws: Workspace) -> None:
    batch = pa.RecordBatch.from_pydict({"source_id": ["a", "b"], "contact_email": ["x@y.io", None]})
    assert stage(ws, "f", [batch]).staged == 2
    with pytest.raises(SourceDataError, match="no source_id"):
        stage(ws, "f", [{"source_id": None, "contact_name": "x"}])
    assert ws.con.execute("SELECT count(*) FROM records").fetchone() == (2,)  # rolled back


def test_keys_variants_merge_and_sent_values_are_clean(ws: Workspace) -> None:
    stage(ws, "crm", [
        {"source_id": "1", "contact_email": " Ana@Example.COM\u00a0", "updated_at": "2024-01-01"},
        {"source_id": "2", "contact_email": "ana@example.com", "contact_phone": "+1 (206) 555-0123 x 45",
         "updated_at": "2024-02-01"},
        {"source_id": "3", "contact_phone": "206.555.0123", "contact_name": "Ana",
         "updated_at": "2023-01-01"},
    ])
    result = build(ws, FAST)
    assert (result.clusters, result.largest_cluster) == (1, 3)
    [row] = golden_rows(ws)
    assert row["contact_email"] == "ana@example.com"          # newest non-empty
    assert row["contact_phone"] == "+1 (206) 555-0123"         # extension removed
    assert row["custom_fields"]["phone_extension"] == "45"
    assert mm.mega_phone_key(row["contact_phone"]) == row["phone_key"] == "2065550123"
    assert row["contact_name"] == "Ana"


def test_placeholder_guard_reports_and_leaves_key_out(ws: Workspace) -> None:
    rows = [{"source_id": str(i), "contact_name": f"Person {i}", "contact_phone": "000-000-0000",
             "contact_email": f"p{i}@mail.com"} for i in range(12)]
    stage(ws, "crm", rows)
    result = build(ws, FAST)
    assert result.placeholder_keys == 1 and result.clusters == 12
    assert ws.con.execute("SELECT kind, key, records FROM placeholders").fetchall() == [
        ("phone", "0000000000", 12)]
    assert all(r["contact_phone"] is None for r in golden_rows(ws))
    off = build(ws, EngineOptions(placeholder_guard=False, classify_phones=False))
    assert (off.clusters, off.placeholder_keys) == (1, 0)  # what MEGA would do unguarded


def test_placeholder_guard_holds_when_names_repeat_at_scale(ws: Workspace) -> None:
    # 400 strangers behind one office phone and one shared inbox, their names drawn from 25
    # common ones: 25 distinct names is far below half of 400 (the guard's old reading),
    # yet no name covers even 5% of them. Unguarded, MEGA would make them one lead.
    names = [f"{first} {last}" for first in ("Ana", "Bo", "Cy", "Di", "Ed")
             for last in ("Lee", "Kim", "Roe", "Poe", "Ng")]
    rows = [{"source_id": f"o{i}", "contact_name": names[i % 25],
             "contact_phone": "(206) 555-0199", "contact_email": f"p{i}@mail.com"}
            for i in range(400)]
    rows += [{"source_id": f"i{i}", "contact_name": names[(i * 7) % 25],
              "contact_email": "Info@Agency.com", "contact_phone": f"3105550{i:03d}"}
             for i in range(400)]
    stage(ws, "crm", rows)
    result = build(ws, FAST)
    assert ws.con.execute("SELECT kind, key, records, distinct_names FROM placeholders "
                          "ORDER BY kind").fetchall() == [
        ("email", "info@agency.com", 400, 25), ("phone", "2065550199", 400, 25)]
    assert (result.clusters, result.largest_cluster) == (800, 1)


def test_one_busy_person_is_not_a_placeholder(ws: Workspace) -> None:
    # 300 submissions of one person: a dozen spellings of the name, but one email and two
    # phones. Other keys that agree keep the guard off however many names there are.
    spellings = [f"Robert {'J ' * (i % 3)}Smith{'.' * (i // 3)}" for i in range(12)]
    rows = [{"source_id": str(i), "contact_name": spellings[i % 12],
             "contact_email": "rob@smith.com",
             "contact_phone": ("2065550123", "4255550123")[i % 2]} for i in range(300)]
    stage(ws, "crm", rows)
    result = build(ws, FAST)
    assert (result.placeholder_keys, result.clusters, result.largest_cluster) == (0, 1, 300)


def test_household_separate_puts_shared_phone_on_newest(ws: Workspace) -> None:
    stage(ws, "crm", [
        {"source_id": "1", "contact_email": "ann@x.com", "contact_phone": "2065550123",
         "updated_at": "2024-01-01"},
        {"source_id": "2", "contact_email": "b@x.com", "contact_phone": "(206) 555-0123",
         "updated_at": "2024-03-01"},
    ])
    assert build(ws, FAST).clusters == 1  # merge: what MEGA does
    assert ws.con.execute("SELECT kind, kept, lost FROM conflicts").fetchall() == [
        ("email", "b@x.com", ["ann@x.com"])]
    build(ws, EngineOptions(household="separate", classify_phones=False))
    rows = {r["email_key"]: r for r in golden_rows(ws)}
    assert rows["b@x.com"]["contact_phone"] == "(206) 555-0123"
    assert rows["ann@x.com"]["contact_phone"] is None
    assert rows["ann@x.com"]["custom_fields"]["household_phone"] == "2065550123"


@pytest.mark.parametrize(("rule", "expected"), [
    ("newest", "Newest"), ("oldest", "Oldest"), ("most_frequent", "Common"),
    ("source_priority", "Oldest"),
])
def test_survivorship_rules(ws: Workspace, rule: str, expected: str) -> None:
    stage(ws, "b", [{"source_id": "1", "contact_email": "ann@x.com", "contact_name": "Oldest",
                     "updated_at": "2020-01-01"}])
    stage(ws, "a", [
        {"source_id": "2", "contact_email": "ann@x.com", "contact_name": "Common", "updated_at": "2021-01-01"},
        {"source_id": "3", "contact_email": "ann@x.com", "contact_name": "Common", "updated_at": "2022-01-01"},
        {"source_id": "4", "contact_email": "ann@x.com", "contact_name": "Newest", "updated_at": "2023-01-01"},
    ])
    options = EngineOptions(survivorship={"contact_name": rule}, source_priority=("b", "a"),
                            classify_phones=False)
    build(ws, options)
    assert golden_rows(ws)[0]["contact_name"] == expected



@pytest.mark.parametrize(("rule", "email", "phone"), [
    ("newest", "New@X.com", "206 555 0003"),
    ("oldest", "Old@X.com", "(206) 555-0001"),
    ("most_frequent", "common@x.com", "2065550002"),
    ("source_priority", "Old@X.com", "(206) 555-0001"),
])
def test_survivorship_of_email_and_phone_keeps_value_and_key_together(
        ws: Workspace, rule: str, email: str, phone: str) -> None:
    """The merged email or phone and its key come from the same record under every rule
    (the key decides what MEGA matches on, the value is what it stores)."""
    stage(ws, "b", [
        {"source_id": "e1", "contact_email": "Old@X.com", "contact_phone": "2065550123",
         "updated_at": "2020-01-01"},
        {"source_id": "p1", "contact_email": "bo@x.com", "contact_phone": "(206) 555-0001",
         "updated_at": "2020-01-01"}])
    stage(ws, "a", [
        {"source_id": "e2", "contact_email": "Common@X.com", "contact_phone": "2065550123",
         "updated_at": "2021-01-01"},
        {"source_id": "e3", "contact_email": "common@x.com", "contact_phone": "2065550123",
         "updated_at": "2022-01-01"},
        {"source_id": "e4", "contact_email": "New@X.com", "contact_phone": "2065550123",
         "updated_at": "2023-01-01"},
        {"source_id": "p2", "contact_email": "bo@x.com", "contact_phone": "206-555-0002",
         "updated_at": "2021-01-01"},
        {"source_id": "p3", "contact_email": "bo@x.com", "contact_phone": "2065550002",
         "updated_at": "2022-01-01"},
        {"source_id": "p4", "contact_email": "bo@x.com", "contact_phone": "206 555 0003",
         "updated_at": "2023-01-01"}])
    build(ws, EngineOptions(survivorship={"contact_email": rule, "contact_phone": rule},
                            source_priority=("b", "a"), classify_phones=False))
    rows = {r["contact_phone"] == "2065550123": r for r in golden_rows(ws)}
    assert len(rows) == 2
    by_email, by_phone = rows[True], rows[False]
    assert (by_email["contact_email"], by_email["email_key"]) == (email, email.lower())
    digits = "".join(c for c in phone if c.isdigit())
    assert (by_phone["contact_phone"], by_phone["phone_key"]) == (phone, digits)

def test_rejected_deleted_and_invalid_emails(ws: Workspace) -> None:
    stage(ws, "crm", [
        {"source_id": "1", "contact_email": "not-an-email"},
        {"source_id": "2", "contact_name": "Bo", "contact_email": "bo@@x.com"},
        {"source_id": "3", "contact_name": "Cy", "deleted": True},
        {"source_id": "4", "contact_name": "Di", "reject_reason": "bad line 7"},
    ])
    result = build(ws, FAST)
    assert (result.rejected, result.deleted, result.invalid_emails) == (2, 1, 1)
    lin = lineage(ws)
    assert lin["1"] == (None, "no usable name, email or phone (the email is not a valid address)")
    assert lin["3"] == (None, "deleted at source")
    assert lin["4"] == (None, "bad line 7")
    [row] = golden_rows(ws)
    assert lin["2"][0] == row["row_ref"] and row["contact_email"] is None


def test_phone_classification_once_per_distinct_value(ws: Workspace) -> None:
    phones = {"1": "(206) 555-0123", "2": "+1 650 253 0000", "3": "+44 20 7946 0958",
              "4": "12", "5": "(123) 456-7891", "6": "206.555.0123"}
    stage(ws, "crm", [{"source_id": k, "contact_phone": v} for k, v in phones.items()])
    build(ws)
    status = dict(ws.con.execute("SELECT source_id, phone_status FROM lineage").fetchall())
    # SQL fast path (NANP) and the Python path (others) both answer what phonenumbers says
    assert status == {k: classify_python([v], "US")[0][0] for k, v in phones.items()}
    assert {"valid", "invalid", "possible"} <= set(status.values())
    # one classification per distinct cleaned value, not per record
    assert ws.con.execute("SELECT count(*) FROM lb_phone_class").fetchone() == (len(phones),)


def test_row_refs_stable_under_reordering_and_rebuild(ws: Workspace) -> None:
    rows = [{"source_id": str(i), "contact_email": f"u{i % 3}@x.com"} for i in range(9)]
    stage(ws, "crm", rows)
    build(ws, FAST)
    first = sorted(r["row_ref"] for r in golden_rows(ws))
    with Workspace.open(None, threads=1) as other:
        stage(other, "crm", list(reversed(rows)))
        build(other, FAST)
        assert sorted(r["row_ref"] for r in golden_rows(other)) == first


def test_engine_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="household"):
        EngineOptions(household="maybe")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown field"):
        EngineOptions.from_pairs({"survivorship.colour": "newest"})
    assert EngineOptions.from_pairs({"placeholder_threshold": "5"}).placeholder_threshold == 5


def test_engine_flags_and_tables_take_only_what_they_mean() -> None:
    # a misspelt flag word used to read as false: "ture" switched the guard off
    with pytest.raises(ConfigError, match="placeholder_guard must be true or false"):
        EngineOptions.from_pairs({"placeholder_guard": "ture"})
    assert EngineOptions.from_pairs({"placeholder_guard": " Off "}).placeholder_guard is False
    # a job file's [engine] table, or engine_options={...} from Python: typed values only
    for table, message in (({"placeholder_guard": "false"}, "true or false"),
                           ({"source_priority": "a,b"}, "a list of source names"),
                           ({"stage_map": 5}, "a table of strings"),
                           ({"placeholder_threshold": 2.5}, "a whole number"),
                           ({"colour": "blue"}, "unknown key in \\[engine\\]: colour")):
        with pytest.raises(ConfigError, match=message):
            EngineOptions.from_table(table)
    options = EngineOptions.from_table({"source_priority": ["crm", "csv"],
                                        "placeholder_guard": False})
    assert options is not None
    assert (options.source_priority, options.placeholder_guard) == (("crm", "csv"), False)


def test_a_customer_id_that_is_not_a_uuid_is_refused_before_anything_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the chunks' idempotency keys hash the customer id: "acme" would make keys that match
    # no real customer's
    ListConnector.rows = [{"source_id": "1", "contact_email": "a@x.com"}]
    with pytest.raises(ConfigError, match="--customer-id must be a UUID"):
        dedupe(ListConnector(), tmp_path / "out", customer_id="acme")
    monkeypatch.setenv("MEGA_CUSTOMER_ID", "not-a-uuid")
    with pytest.raises(ConfigError, match="MEGA_CUSTOMER_ID must be a UUID"):
        dedupe(ListConnector(), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_dedupe_writes_every_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEGA_CUSTOMER_ID", raising=False)
    ListConnector.rows = [
        {"source_id": str(i), "contact_name": f"N{i}", "contact_email": f"e{i // 2}@x.com",
         "custom_fields": {"budget": str(i)}} for i in range(1003)
    ]
    result = dedupe(ListConnector(), tmp_path / "out")
    assert result.customer_id == OFFLINE_CUSTOMER_ID
    assert result.summary()["clusters"] == 502 and result.chunks == 2
    golden = pq.read_table(tmp_path / "out" / "golden.parquet")
    assert golden.num_rows == 502
    assert pq.read_table(tmp_path / "out" / "lineage.parquet").num_rows == 1003
    for name in ("conflicts", "placeholders"):
        assert (tmp_path / "out" / f"{name}.parquet").exists()
    lines = (tmp_path / "out" / "chunks.jsonl").read_bytes().splitlines()
    refs: list[str] = []
    for line in lines:
        entry: dict[str, Any] = json.loads(line)
        body = canonical_json(entry["body"])
        assert entry["idempotency_key"] == idempotency_key(OFFLINE_CUSTOMER_ID, mm.BULK_ENDPOINT, body)
        assert line.endswith(body + b"}")  # the body exactly as POSTed
        assert len(entry["body"]["leads"]) <= mm.BULK_MAX_ROWS
        refs += [lead["row_ref"] for lead in entry["body"]["leads"]]
    assert sorted(refs) == sorted(golden.column("row_ref").to_pylist())


def test_connector_failure_mid_stream_surfaces_itself_and_stages_nothing(ws: Workspace) -> None:
    def broken() -> Any:
        yield {"source_id": "1", "contact_name": "A"}
        raise SourceDataError("page 2 unreadable", connector="x")

    with pytest.raises(SourceDataError, match="page 2"):
        stage(ws, "x", broken())
    assert ws.con.execute("SELECT count(*) FROM records").fetchone() == (0,)
