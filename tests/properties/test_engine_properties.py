"""Engine properties: exact partition, order independence, unique keys, lineage, chunks."""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any

from engine_strategies import record, records
from hypothesis import given, settings
from hypothesis import strategies as st

from leadbridge import mega_model as mm
from leadbridge.chunking import canonical_json, make_chunks
from leadbridge.engine import EngineOptions, build, golden_rows, sql_chunks, stage
from leadbridge.engine.placeholders import KNOWN_EMAIL, KNOWN_PHONE
from leadbridge.workspace import Workspace

# A build is ~40 SQL statements (~0.1 s): fewer examples than the suite default keeps this
# folder well under a minute on 2 cores; HYPOTHESIS_PROFILE=thorough still runs 1000.
FEW = settings(max_examples=max(12, settings.default.max_examples // 5))
NO_GUARD = EngineOptions(placeholder_guard=False, classify_phones=False)
_WS: list[Workspace] = []


def _workspace() -> Workspace:
    if not _WS:
        _WS.append(Workspace.open(None, threads=1))
    ws = _WS[0]
    ws.con.execute("DROP TABLE IF EXISTS records")
    return ws


def run(recs: list[dict[str, Any]], options: EngineOptions | None = None) -> dict[str, Any]:
    ws = _workspace()
    if True:
        stage(ws, "t", recs)
        result = build(ws, options or EngineOptions(classify_phones=False))
        lineage = ws.con.execute(
            "SELECT source_id, row_ref, reject_reason FROM lineage ORDER BY source_id").fetchall()
        golden = golden_rows(ws)
        chunks = [(c.body, c.idempotency_key, c.row_refs) for c in sql_chunks(ws, "cust", size=7)]
        conflicts = ws.con.execute(
            "SELECT row_ref, kind, kept, lost, records FROM conflicts").fetchall()
        placeholders = ws.con.execute(
            "SELECT kind, key, records, distinct_names, distinct_other_keys FROM placeholders"
        ).fetchall()
    return {"result": result, "lineage": lineage, "golden": golden, "chunks": chunks,
            "conflicts": conflicts, "placeholders": placeholders}


def reference_partition(recs: list[dict[str, Any]]) -> set[frozenset[str]]:
    """Plain union-find over MEGA's Python key rules (no placeholder guard)."""
    parent: dict[Any, Any] = {}

    def find(x: Any) -> Any:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    members = []
    for r in recs:
        if r.get("deleted"):
            continue
        ek = mm.email_key(r["contact_email"]) if mm.is_valid_email(r["contact_email"]) else None
        pk = mm.phone_key(r["contact_phone"])
        name = mm.strip_surrounding(r["contact_name"] or "")
        if ek is None and pk is None and not name:
            continue  # rejected: nothing usable
        node = ("r", r["source_id"])
        find(node)
        for key in (("e", ek), ("p", pk)):
            if key[1] is not None:
                parent[find(node)] = find(key)
        members.append(node)
    groups: dict[Any, set[str]] = {}
    for node in members:
        groups.setdefault(find(node), set()).add(node[1])
    return {frozenset(g) for g in groups.values()}


@FEW
@given(records())
def test_partition_equals_reference_union_find(recs: list[dict[str, Any]]) -> None:
    out = run(recs, NO_GUARD)
    groups: dict[str, set[str]] = {}
    for source_id, row_ref, _ in out["lineage"]:
        if row_ref is not None:
            groups.setdefault(row_ref, set()).add(source_id)
    assert {frozenset(g) for g in groups.values()} == reference_partition(recs)
    # the summary's distinct keys are those of the records that were clustered
    kept = {sid for sid, ref, _ in out["lineage"] if ref is not None}
    emails = {mm.email_key(r["contact_email"]) for r in recs if r["source_id"] in kept
              and mm.is_valid_email(r["contact_email"])}
    phones = {mm.phone_key(r["contact_phone"]) for r in recs if r["source_id"] in kept}
    assert out["result"].distinct_email_keys == len(emails - {None})
    assert out["result"].distinct_phone_keys == len(phones - {None})


@FEW
@given(records(), st.randoms(use_true_random=False), st.sampled_from(["merge", "separate"]))
def test_output_independent_of_input_order(recs: list[dict[str, Any]], rnd: random.Random,
                                           household: str) -> None:
    options = EngineOptions(household=household, classify_phones=False)
    shuffled = list(recs)
    rnd.shuffle(shuffled)
    a, b = run(recs, options), run(shuffled, options)
    assert a["golden"] == b["golden"]
    assert a["lineage"] == b["lineage"]
    assert a["chunks"] == b["chunks"]


@FEW
@given(records(), st.sampled_from(["merge", "separate"]), st.booleans())
def test_no_two_golden_rows_share_a_key_and_megas_key_equals_ours(
        recs: list[dict[str, Any]], household: str, guard: bool) -> None:
    out = run(recs, EngineOptions(household=household, placeholder_guard=guard,
                                   classify_phones=False))
    emails, phones = [], []
    for row in out["golden"]:
        # what MEGA computes from the values we send equals the keys we clustered on
        assert mm.email_key(row["contact_email"]) == row["email_key"]
        assert mm.mega_phone_key(row["contact_phone"]) == row["phone_key"]
        if row["contact_email"] is not None:
            assert mm.is_valid_email(row["contact_email"])
            emails.append(row["email_key"])
        if row["phone_key"] is not None:
            phones.append(row["phone_key"])
    assert len(emails) == len(set(emails))
    assert len(phones) == len(set(phones))


@FEW
@given(records())
def test_conflicts_list_every_cluster_with_several_keys_and_what_lost(
        recs: list[dict[str, Any]]) -> None:
    """A cluster whose records hold several distinct email (or phone) keys has one conflict
    row per kind: the golden row's key kept, the others lost, and how many records had one."""
    out = run(recs, NO_GUARD)
    by_id = {r["source_id"]: r for r in recs}
    golden = {row["row_ref"]: row for row in out["golden"]}
    keys: dict[tuple[str, str], list[str]] = {}
    for source_id, row_ref, _ in out["lineage"]:
        if row_ref is None:
            continue
        r = by_id[source_id]
        email = (mm.email_key(r["contact_email"]) if mm.is_valid_email(r["contact_email"])
                 else None)
        for kind, key in (("email", email), ("phone", mm.phone_key(r["contact_phone"]))):
            if key is not None:
                keys.setdefault((row_ref, kind), []).append(key)
    expected = set()
    for (row_ref, kind), found in keys.items():
        if len(set(found)) > 1:
            kept = golden[row_ref][f"{kind}_key"]
            assert kept in found
            expected.add((row_ref, kind, kept, tuple(sorted(set(found) - {kept})), len(found)))
    assert {(ref, kind, kept, tuple(lost), n) for ref, kind, kept, lost, n
            in out["conflicts"]} == expected
    assert len(out["conflicts"]) == len(expected)


@FEW
@given(records())
def test_every_record_in_lineage_exactly_once(recs: list[dict[str, Any]]) -> None:
    out = run(recs)
    ids = [source_id for source_id, _, _ in out["lineage"]]
    assert sorted(ids) == sorted(r["source_id"] for r in recs)
    refs = {row["row_ref"] for row in out["golden"]}
    for _, row_ref, reason in out["lineage"]:
        assert (row_ref is None) == (reason is not None)
        assert row_ref is None or row_ref in refs
    assert {ref for _, ref, _ in out["lineage"] if ref} == refs


@FEW
@given(records())
def test_chunks_cover_every_golden_row_once_and_match_make_chunks(
        recs: list[dict[str, Any]]) -> None:
    out = run(recs)
    again = run(recs)
    assert out["chunks"] == again["chunks"]  # byte-identical across runs
    refs = [ref for _, _, chunk_refs in out["chunks"] for ref in chunk_refs]
    assert refs == [row["row_ref"] for row in out["golden"]]
    assert all(len(chunk_refs) <= 7 for _, _, chunk_refs in out["chunks"])
    reference = make_chunks(out["golden"], customer_id="cust", size=7)
    assert [(c.body, c.idempotency_key, c.row_refs) for c in reference] == out["chunks"]
    for row in out["golden"]:
        body = {k: v for k, v in make_chunks([row], customer_id="c")[0].payload["leads"][0].items()
                if k != "row_ref"}
        assert row["content_hash"] == hashlib.sha256(canonical_json(body)).hexdigest()


def reference_placeholders(recs: list[dict[str, Any]], threshold: int,
                           ratio: float) -> set[tuple[str, str, int, int, int]]:
    """The guard's rule in Python: a key held by ``threshold`` records (2 if it looks like a
    placeholder) whose names and other keys differ: distinct values at least ``ratio`` of
    the non-empty ones, or at least ``threshold`` of them."""
    live = []
    for r in recs:
        if r.get("deleted"):
            continue
        email = (mm.email_key(r["contact_email"]) if mm.is_valid_email(r["contact_email"])
                 else None)
        name = mm.strip_surrounding(r["contact_name"] or "") or None
        live.append({"email": email, "phone": mm.phone_key(r["contact_phone"]),
                     "name": name.lower() if name else None})
    found = set()
    for kind, other, known in (("email", "phone", KNOWN_EMAIL), ("phone", "email", KNOWN_PHONE)):
        for key in {r[kind] for r in live} - {None}:
            held = [r for r in live if r[kind] == key]
            if len(held) < (2 if re.search(known, key) else threshold):
                continue
            names = [r["name"] for r in held if r["name"] is not None]
            others = [r[other] for r in held if r[other] is not None]
            differ = all(not values or len(set(values)) >= min(ratio * len(values), threshold)
                         for values in (names, others))
            if differ:
                found.add((kind, key, len(held), len(set(names)), len(set(others))))
    return found


@st.composite
def crowded(draw: Any) -> list[dict[str, Any]]:
    """Records crowding onto a few shared keys, each also with a key of its own at times:
    shared keys held by more records than there are names (seven) are common, so both
    readings of "their names differ" (a ratio of them, or threshold distinct names) decide
    examples, and so do other keys that agree or differ."""
    out = []
    for i in range(draw(st.integers(0, 40))):
        rec = draw(record(i))
        rec["contact_email"] = draw(st.sampled_from(
            [None, "a@x.io", " A@X.io", "none@none.com", f"own{i}@x.io"]))
        rec["contact_phone"] = draw(st.sampled_from(
            [None, "2065550123", "(206) 555-0123", "000-000-0000", f"415555{i:04d}"]))
        out.append(rec)
    return out


@FEW
@given(crowded(), st.integers(2, 6), st.sampled_from([0.0, 0.3, 0.5, 0.8, 1.0]))
def test_placeholders_follow_the_guard_rule(recs: list[dict[str, Any]], threshold: int,
                                            ratio: float) -> None:
    out = run(recs, EngineOptions(placeholder_threshold=threshold,
                                  placeholder_distinct_ratio=ratio, classify_phones=False))
    assert set(out["placeholders"]) == reference_placeholders(recs, threshold, ratio)
    assert out["result"].placeholder_keys == len(out["placeholders"])
