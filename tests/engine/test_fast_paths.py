"""The engine's fast paths give exactly what their general forms give.

- custom fields as a STRUCT (few keys) vs the general key/value list (forced here by
  lowering ``MAX_STRUCT_KEYS``): same golden rows, same chunk bytes, under every rule;
- a wide STRUCT merged (or, under `most_frequent`, packed) a slice of keys per aggregate vs
  all keys in one;
- ``lb_fstrip`` (regex skipped when no end is whitespace) equals ``lb_strip``;
- ``dedupe`` in memory (scratch build: no transaction, records dropped early) writes the
  same files as ``dedupe`` on a workspace file (transactional build).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadbridge.connector import Connector
from leadbridge.engine import EngineOptions, build, dedupe, golden_rows, sql_chunks, stage
from leadbridge.engine.normalize import _fast_strip
from leadbridge.mega_model import SURROUNDING_WHITESPACE
from leadbridge.workspace import Workspace

FEW = settings(max_examples=max(10, settings.default.max_examples // 6), deadline=None)

OPTIONS = {
    "default": EngineOptions(classify_phones=False),
    "separate_oldest": EngineOptions(classify_phones=False, household="separate",
                                     survivorship={"custom_fields": "oldest"}),
    "most_frequent": EngineOptions(classify_phones=False,
                                   survivorship={"custom_fields": "most_frequent"}),
    "priority": EngineOptions(classify_phones=False, source_priority=("t",),
                              survivorship={"custom_fields": "source_priority"}),
}


RAW_CUSTOM = ['{"city": "Oslo", "budget": 3}', "[1, 2]", '"text"', "7", "null", "not json",
              '{"city": {"zip": "0150"}}', '[{"city": "x"}]', "", "{bad"]


@st.composite
def lead(draw: Any, i: int) -> dict[str, Any]:
    return {
        "source_id": f"r{i}",
        "contact_name": draw(st.sampled_from([None, "Ann", "Bob"])),
        "contact_email": draw(st.sampled_from([None, "a@x.com", " A@x.com", "b@y.org"])),
        "contact_phone": draw(st.sampled_from([None, "2065550100", "(206) 555-0100 x7",
                                               "4155550199"])),
        "owner": draw(st.sampled_from([None, "alice", "  "])),
        "custom_fields": draw(st.one_of(st.none(), st.dictionaries(
            st.sampled_from(["budget", "city", "ünï", "source_owner", "household_phone"]),
            st.sampled_from(["1", "", "é\"q", "x"]), max_size=3),
            # raw texts a connector may pass through: not JSON, not an object, nested
            st.sampled_from(RAW_CUSTOM))),
        "updated_at": draw(st.sampled_from([None, "2024-01-01T00:00:00Z",
                                            "2024-01-02T00:00:00Z"])),
    }


@st.composite
def leads(draw: Any) -> list[dict[str, Any]]:
    return [draw(lead(i)) for i in range(draw(st.integers(1, 25)))]


def _run(recs: list[dict[str, Any]], options: EngineOptions) -> tuple[Any, ...]:
    with Workspace.open(None, threads=1) as ws:
        stage(ws, "t", recs)
        build(ws, options)
        rows = golden_rows(ws)
        chunks = [(c.idempotency_key, c.body) for c in sql_chunks(ws, "c")]
        lineage = ws.con.execute(
            "SELECT source_id, row_ref FROM lineage ORDER BY source_id").fetchall()
    return rows, chunks, lineage


@FEW
@given(recs=leads(), name=st.sampled_from(sorted(OPTIONS)))
def test_struct_custom_fields_equal_the_list_form(recs: list[dict[str, Any]], name: str) -> None:
    fast = _run(recs, OPTIONS[name])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("leadbridge.engine.custom.MAX_STRUCT_KEYS", 0)
        general = _run(recs, OPTIONS[name])
    assert fast == general


@FEW
@given(recs=leads(), name=st.sampled_from(sorted(OPTIONS)), per_pass=st.integers(1, 2))
def test_custom_fields_merged_a_few_keys_per_pass_equal_one_pass(
        recs: list[dict[str, Any]], name: str, per_pass: int) -> None:
    # wide exports (150 keys) merge their keys in slices: one aggregate of every key ran
    # out of memory at 1M records
    whole = _run(recs, OPTIONS[name])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("leadbridge.engine.merge.KEYS_PER_PASS", per_pass)
        sliced = _run(recs, OPTIONS[name])
    assert sliced == whole


@FEW
@given(recs=leads())
def test_one_source_groups_equal_the_general_form(recs: list[dict[str, Any]]) -> None:
    """One source takes a plain min of the id for each group's first record; a second source
    (one record sharing no key) forces the (source, id) form: the first source's rows must
    come out the same, in the same relative order."""
    options = EngineOptions(classify_phones=False)
    with Workspace.open(None, threads=1) as ws:
        stage(ws, "t", recs)
        build(ws, options)
        alone = golden_rows(ws)
        stage(ws, "u", [{"source_id": "zz", "contact_email": "nobody.else@example.org"}])
        build(ws, options)
        mixed = [r for r in golden_rows(ws) if r["contact_email"] != "nobody.else@example.org"]
    assert [{k: v for k, v in r.items() if k != "sort_key"} for r in alone] == \
        [{k: v for k, v in r.items() if k != "sort_key"} for r in mixed]


def test_custom_fields_text_that_is_not_a_json_object_gives_no_fields() -> None:
    recs = [{"source_id": str(i), "contact_email": f"p{i}@x.com", "custom_fields": text}
            for i, text in enumerate(RAW_CUSTOM)]
    rows, _, _ = _run(recs, EngineOptions(classify_phones=False))
    fields = {r["contact_email"]: r["custom_fields"] for r in rows}
    assert fields == {"p0@x.com": {"budget": "3", "city": "Oslo"},
                      "p6@x.com": {"city": '{"zip":"0150"}'},
                      **{f"p{i}@x.com": None for i in (1, 2, 3, 4, 5, 7, 8, 9)}}


def test_keys_differing_only_by_case_take_the_list_form() -> None:
    recs = [
        {"source_id": "1", "contact_email": "a@x.com", "updated_at": "2024-01-01T00:00:00Z",
         "custom_fields": {"City": "Oslo", "city": "old"}},
        {"source_id": "2", "contact_email": "a@x.com", "updated_at": "2024-01-02T00:00:00Z",
         "custom_fields": {"city": "new"}},
    ]
    rows, _, _ = _run(recs, EngineOptions(classify_phones=False))
    assert [r["custom_fields"] for r in rows] == [{"City": "Oslo", "city": "new"}]


_STRIP_WS: list[Workspace] = []


@settings(deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from(
    list(SURROUNDING_WHITESPACE) + ["a", "é", "x"]), max_size=6)), max_size=20))
def test_fast_strip_equals_strip(texts: list[str | None]) -> None:
    if not _STRIP_WS:  # one workspace for every example: opening one costs more than the check
        _STRIP_WS.append(Workspace.open(None, threads=1))
        _fast_strip(_STRIP_WS[0])
    rows = _STRIP_WS[0].con.execute(
        "SELECT lb_fstrip(t), lb_strip(t) FROM (SELECT unnest(?::VARCHAR[]) AS t)",
        [texts]).fetchall()
    assert len(rows) == len(texts)
    assert all(fast == slow for fast, slow in rows)


class Leads(Connector):
    name: ClassVar[str] = "t"
    rows: ClassVar[list[dict[str, Any]]] = []

    def records(self, state: dict[str, Any]) -> Any:
        yield from self.rows


@settings(max_examples=5, deadline=None)
@given(recs=leads())
def test_in_memory_dedupe_writes_what_a_workspace_dedupe_writes(
        recs: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> None:
    Leads.rows = recs
    base = tmp_path_factory.mktemp("dd")
    mem = dedupe(Leads(), base / "mem")
    disk = dedupe(Leads(), base / "disk", workspace=base / "ws.duckdb")
    assert mem.summary() == disk.summary()
    assert _digest(base / "mem" / "chunks.jsonl") == _digest(base / "disk" / "chunks.jsonl")
    con = duckdb.connect()
    for name in ("golden", "lineage", "conflicts", "placeholders"):
        a, b = (con.execute(f"SELECT * FROM read_parquet('{d / name}.parquet') ORDER BY ALL")
                .fetchall() for d in (base / "mem", base / "disk"))
        assert a == b, name


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@FEW
@given(recs=leads(), size=st.integers(1, 4))
def test_chunks_without_refs_have_the_same_bodies_and_keys(
        recs: list[dict[str, Any]], size: int) -> None:
    with Workspace.open(None, threads=1) as ws:
        stage(ws, "t", recs)
        build(ws, OPTIONS["default"])
        full = list(sql_chunks(ws, "c", size=size))
        bare = list(sql_chunks(ws, "c", size=size, with_refs=False))
        rows = len(golden_rows(ws))
    assert [(c.index, c.idempotency_key, c.body) for c in bare] == \
        [(c.index, c.idempotency_key, c.body) for c in full]
    assert all(c.row_refs == () for c in bare)
    assert sum(len(c.row_refs) for c in full) == rows


@FEW
@given(recs=leads(), size=st.integers(1, 4), budget=st.integers(1, 3000))
def test_chunks_are_the_same_whatever_the_writers_window(
        recs: list[dict[str, Any]], size: int, budget: int) -> None:
    from leadbridge.engine import chunks as chunk_writer

    with Workspace.open(None, threads=1) as ws:
        stage(ws, "t", recs)
        build(ws, OPTIONS["default"])
        whole = list(sql_chunks(ws, "c", size=size))
        saved, chunk_writer.WINDOW_BYTES = chunk_writer.WINDOW_BYTES, budget
        try:  # windows of a few chunks, or of one
            parts = list(sql_chunks(ws, "c", size=size))
        finally:
            chunk_writer.WINDOW_BYTES = saved
    assert parts == whole


@FEW
@given(recs=leads(), slice_rows=st.integers(1, 4), pick=st.integers(0, 2**25))
def test_golden_rows_streamed_in_slices_are_the_whole_in_order(
        recs: list[dict[str, Any]], slice_rows: int, pick: int) -> None:
    # fetched whole, the golden rows of a 5M-record plan held 1.1 GB of Arrow
    from leadbridge.engine import chunks as chunk_module

    def stream(ws: Workspace, **kw: Any) -> list[dict[str, Any]]:
        return list(chunk_module.iter_golden_rows(ws, batch_rows=3, **kw))

    with Workspace.open(None, threads=1) as ws:
        stage(ws, "t", recs)
        build(ws, OPTIONS["default"])
        refs = [r for (r,) in ws.con.execute("SELECT row_ref FROM golden").fetchall()]
        chosen = [r for i, r in enumerate(refs) if pick >> (i % 25) & 1]
        ws.con.execute("CREATE TEMP TABLE done AS SELECT row_ref FROM golden "
                       "WHERE hash(row_ref) % 3 = 0")
        whole = (stream(ws), stream(ws, row_refs=chosen), stream(ws, without="done"))
        saved, chunk_module.SLICE_ROWS = chunk_module.SLICE_ROWS, slice_rows
        try:
            sliced = (stream(ws), stream(ws, row_refs=chosen), stream(ws, without="done"))
        finally:
            chunk_module.SLICE_ROWS = saved
        done = {r for (r,) in ws.con.execute("SELECT row_ref FROM done").fetchall()}
        left = ws.con.execute("SELECT count(*) FROM duckdb_tables() "
                              "WHERE table_name = '_lb_golden_stream'").fetchall()[0][0]
    assert sliced == whole and left == 0
    everything, some, rest = sliced
    keys = [r["sort_key"] for r in everything]
    assert keys == sorted(keys) and len(everything) == len(refs)
    assert [r["row_ref"] for r in some] == [r["row_ref"] for r in everything
                                           if r["row_ref"] in set(chosen)]
    assert [(r["row_ref"], r["ord"]) for r in rest] == [
        (r["row_ref"], i) for i, r in enumerate(everything) if r["row_ref"] not in done]


def test_the_chunk_writers_window_holds_fewer_wide_rows() -> None:
    # counted in rows, a window of wide rows (150 custom fields) took 2.7 GB at 300k records
    from leadbridge.engine.chunks import MAX_WINDOW_ROWS, WINDOW_BYTES, _window_rows
    from leadbridge.engine.golden import row_json_sql

    def window(custom: dict[str, str] | None) -> int:
        recs = [{"source_id": f"r{i}", "contact_email": f"p{i}@x.com", "custom_fields": custom}
                for i in range(300)]
        with Workspace.open(None, threads=1) as ws:
            stage(ws, "t", recs)
            build(ws, OPTIONS["default"])
            return _window_rows(ws, "golden", row_json_sql(), 500)

    wide = {f"prop_{k:03d}": f"value number {k}" for k in range(150)}
    assert window(None) == MAX_WINDOW_ROWS
    assert window(wide) % 500 == 0
    assert window(wide) * 150 * len('"prop_001":"value number 1"') <= WINDOW_BYTES
