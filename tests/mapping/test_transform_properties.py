"""Properties of the transforms and of apply: each agrees with a plain-Python reference, and
no record is ever lost, duplicated or reordered, whatever the mapping does to it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from leadbridge.mapping_apply import apply_mapping
from leadbridge.mapping_model import Mapping
from leadbridge.mapping_report import MappingReport
from leadbridge.mega_model import strip_surrounding

# text with the awkward parts: surrounding whitespace of several kinds, blanks, non-ASCII
_WS = st.sampled_from([" ", "\t", "\u00a0", "\u3000", "\n"])
_word = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
value = st.one_of(st.none(), st.just(""), st.builds(lambda a, w, b: a + w + b,
                                                   st.text(_WS, max_size=2), _word,
                                                   st.text(_WS, max_size=2)))
FIELDS = ["F1", "F2", "F3"]


def _records(rows: list[list[str | None]]) -> list[dict[str, Any]]:
    return [{"source_id": f"r{i}", "contact_name": "n",
             "custom_fields": {k: v for k, v in zip(FIELDS, row)}}
            for i, row in enumerate(rows)]


def _apply(records: list[dict[str, Any]], mapping: dict[str, Any],
           report: MappingReport | None = None, batch_size: int = 10_000
           ) -> list[dict[str, Any]]:
    out = []
    for batch in apply_mapping(records, Mapping.from_dict(mapping), report=report,
                               batch_size=batch_size):
        out.extend(batch.to_pylist())
    return out


def _clean(v: str | None) -> str | None:
    if v is None:
        return None
    v = strip_surrounding(v)
    return v or None


rows = st.lists(st.lists(value, min_size=3, max_size=3), min_size=1, max_size=20)


@given(rows, st.sampled_from([" ", "", ", ", "-"]))
def test_join_agrees_with_python(data: list[list[str | None]], sep: str) -> None:
    out = _apply(_records(data), {"transforms": [
        {"op": "join", "fields": FIELDS, "to": "custom:joined", "sep": sep}]})
    for row, rec in zip(data, out):
        parts = [c for c in (_clean(v) for v in row) if c is not None]
        expected = sep.join(parts) if parts else None
        custom = json.loads(rec["custom_fields"]) if rec["custom_fields"] else {}
        assert custom.get("joined") == (expected or None)
        assert not set(FIELDS) & set(custom)  # joined fields are consumed


@given(rows)
def test_first_non_empty_agrees_with_python(data: list[list[str | None]]) -> None:
    out = _apply(_records(data), {"transforms": [
        {"op": "first_non_empty", "fields": FIELDS, "to": "contact_phone"}]})
    for row, rec in zip(data, out):
        expected = next((c for c in (_clean(v) for v in row) if c is not None), None)
        assert rec["contact_phone"] == expected


@given(st.lists(value, min_size=1, max_size=10))
def test_trim_is_idempotent_and_strips(names: list[str | None]) -> None:
    records = [{"source_id": f"r{i}", "contact_name": n, "custom_fields": {"F1": n}}
               for i, n in enumerate(names)]
    mapping = {"transforms": [{"op": "trim"}]}
    once = _apply(records, mapping)
    twice = _apply(once, mapping)
    assert [r["contact_name"] for r in once] == [r["contact_name"] for r in twice]
    assert [r["contact_name"] for r in once] == [
        None if n is None else strip_surrounding(n) for n in names]
    for n, rec in zip(names, once):
        if n is not None:
            assert json.loads(rec["custom_fields"])["F1"] == strip_surrounding(n)


@given(st.lists(value, min_size=1, max_size=20), st.text(min_size=1, max_size=5))
def test_constant_fills_every_record(names: list[str | None], const: str) -> None:
    records = [{"source_id": f"r{i}", "contact_name": n} for i, n in enumerate(names)]
    out = _apply(records, {"transforms": [{"op": "constant", "value": const,
                                           "to": "custom:origin"}]})
    expected = strip_surrounding(const) and const  # a blank constant writes nothing
    for rec in out:
        custom = json.loads(rec["custom_fields"]) if rec["custom_fields"] else {}
        assert custom.get("origin") == (expected or None)


stage_values = st.sampled_from(["Lead", "lead ", "MQL", "Customer", "", None, "Other"])


@given(st.lists(st.tuples(stage_values, stage_values), min_size=1, max_size=40),
       st.sampled_from(["omit", "default", "reject"]))
def test_apply_never_loses_duplicates_or_reorders(pairs: list[tuple[Any, Any]],
                                                  policy: str) -> None:
    records = [{"source_id": f"r{i}", "contact_name": "x", "stage": s,
                "owner": o, "custom_fields": {"Stage2": o}} for i, (s, o) in enumerate(pairs)]
    mapping: dict[str, Any] = {"stages": {"Lead": "new", "MQL": "qualified", "Other": "-"},
                               "stages_policy": {"unmapped": policy, "default": "new"},
                               "fields": {"Stage2": "custom:stage2"}}
    report = MappingReport()
    out = _apply(records, mapping, report, batch_size=7)  # several batches
    assert [r["source_id"] for r in out] == [r["source_id"] for r in records]
    known = {"Lead": "new", "MQL": "qualified", "Other": None}
    unmapped = [i for i, (s, _) in enumerate(pairs)
                if s is not None and s.strip() and s.strip() not in known]
    rejected = [i for i, r in enumerate(out) if r["reject_reason"]]
    assert rejected == (unmapped if policy == "reject" else [])
    assert report.rejected == len(rejected)
    assert report.records == len(records)
    for i, ((s, _), rec) in enumerate(zip(pairs, out)):
        if i in unmapped:
            assert rec["stage"] == ("new" if policy == "default" else None)
        else:
            assert rec["stage"] == (known[s.strip()] if s and s.strip() else None)
    counted = sum(report.counts["stage"].values())
    assert counted == len(records)  # every record has exactly one outcome per column
