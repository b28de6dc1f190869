"""Predictions need no index entry for the leads a run creates.

Why it is tested apart: ``LeadIndex.apply`` used to index every lead a run creates, which
was most of a first sync's memory at millions of records. It no longer does, on the
argument in its docstring: given the engine's guarantee (no two golden rows share an email
key or a phone key), no later row of a run can match a lead the run created. Here the index
predicts, row by row, what MEGA's matching written plainly gives (every lead, the run's new
ones included, in a list), over snapshots that may hold duplicates and rows that share keys
with the snapshot but not with each other.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from leadbridge.mega_model import email_key, mega_phone_key
from leadbridge.pipeline.planner import Known, LeadIndex, predict

EMAILS = [f"p{i}@example.com" for i in range(8)]
PHONES = [f"206555{i:04d}" for i in range(8)]


def reference(snapshot: list[tuple[str, str | None, str | None]], rows: list[dict[str, Any]],
              on_duplicate: str) -> list[tuple[Any, ...]]:
    """MEGA's matching written plainly: every lead in a list, the run's new ones included;
    a row merges into the oldest lead holding its email key, else its phone key."""
    leads = [[lead_id, ek, pk] for lead_id, ek, pk in snapshot]
    out: list[tuple[Any, ...]] = []
    for n, row in enumerate(rows):
        ek, pk = email_key(row.get("contact_email")), mega_phone_key(row.get("contact_phone"))
        hit = next(((lead, "email") for lead in leads if ek and lead[1] == ek), None) or \
            next(((lead, "phone") for lead in leads if pk and lead[2] == pk), None)
        if hit is None:
            leads.append([f"new:{n}", ek, pk])
            out.append(("created", None, None, None))
            continue
        lead, by = hit
        if on_duplicate == "update":
            lead[1], lead[2] = ek or lead[1], pk or lead[2]
        out.append(("updated" if on_duplicate == "update" else "skipped", lead[0], by, None))
    return out


@st.composite
def run(draw: Any) -> tuple[list[tuple[str, str | None, str | None]], list[dict[str, Any]]]:
    key = st.one_of(st.none(), st.sampled_from(EMAILS))
    phone = st.one_of(st.none(), st.sampled_from(PHONES))
    snapshot = [(f"lead{i}", draw(key), draw(phone)) for i in range(draw(st.integers(0, 8)))]
    # rows: each email and each phone on one row at most (the engine's guarantee), written
    # the ways sources write them
    emails = draw(st.permutations([*EMAILS, *[None] * 4]))
    phones = draw(st.permutations([*PHONES, *[None] * 4]))
    rows = []
    for i in range(draw(st.integers(1, 12))):
        email, digits = emails[i], phones[i]
        rows.append({
            "contact_name": f"Row {i}",
            "contact_email": None if email is None else draw(st.sampled_from(
                [email, email.upper(), f"  {email} "])),
            "contact_phone": None if digits is None else draw(st.sampled_from(
                [digits, f"+1 ({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                 f"{digits[:3]}.{digits[3:6]}.{digits[6:]} x12"])),
        })
    return snapshot, rows


def _predictions(index: LeadIndex, rows: list[dict[str, Any]],
                 on_duplicate: str) -> list[tuple[Any, ...]]:
    out = []
    for row in rows:
        status, lead_id, matched_by, errors = predict(row, index.by_email, index.by_phone,
                                                      on_duplicate, Known())
        index.apply(row, status, lead_id if status == "updated" else None)
        out.append((status, lead_id, matched_by, errors))
    return out


@settings(max_examples=300, deadline=None)
@given(case=run(), on_duplicate=st.sampled_from(["update", "skip"]))
def test_leads_a_run_creates_need_no_index_entry(
        case: tuple[list[tuple[str, str | None, str | None]], list[dict[str, Any]]],
        on_duplicate: str) -> None:
    snapshot, rows = case
    index = LeadIndex(snapshot)
    expected = reference(snapshot, rows, on_duplicate)
    assert _predictions(index, rows, on_duplicate) == expected
    assert len(index.keys) == len(snapshot)  # nothing added for the leads created
    # the argument, on the plain model: no row ever merges into a lead the run created
    assert not any(lead_id and lead_id.startswith("new:") for _, lead_id, _, _ in expected)


def test_a_lead_merged_into_loses_its_old_phone_for_later_rows() -> None:
    """The index follows MEGA's updates: a row merged by email replaces the lead's phone, so
    a later row with the old phone is a new lead, and one with the new email merges."""
    snapshot = [("lead0", "p0@example.com", "2065550000"), ("lead1", None, "2065550001")]
    rows = [{"contact_email": "P0@example.com", "contact_phone": "206-555-0005"},
            {"contact_name": "B", "contact_phone": "(206) 555-0000"},
            {"contact_email": "p1@example.com", "contact_phone": "+1 206 555 0001"}]
    index = LeadIndex(snapshot)
    assert _predictions(index, rows, "update") == [
        ("updated", "lead0", "email", None), ("created", None, None, None),
        ("updated", "lead1", "phone", None)] == reference(snapshot, rows, "update")
    assert index.keys == {"lead0": ["p0@example.com", "2065550005"],
                          "lead1": ["p1@example.com", "2065550001"]}
