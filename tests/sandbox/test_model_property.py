"""Property: whatever rows arrive, the sandbox obeys the MEGA model.

The model is re-implemented here in the plainest way (a list of leads in creation order and
linear scans), independent of core/mega_model.py and the sandbox's indexes, and the two must
agree on every row's status, matched_by and lead, on the summary, and on the final leads.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_support import MODEL_GRANTS, Api

EMAILS = ["ann@example.com", "bob@example.com", "cy@example.org"]
PHONES = ["(206) 555-0123", "+1 206 555 0123", "2065550123", "555-0199", "1-425-555-0100",
          "4255550100", "+44 20 5555 0100"]


def _variants(values: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(values).flatmap(lambda v: st.sampled_from(
        [v, v.upper(), f"  {v} ", v.title()]))


emails = st.one_of(st.none(), st.just(""), st.just("not-an-email"), _variants(EMAILS))
phones = st.one_of(st.none(), st.just(" "), st.sampled_from(PHONES))
names = st.sampled_from([None, "", "Ann", "Bob", "Cy"])
customs = st.dictionaries(st.sampled_from(["budget", "timeline"]),
                          st.sampled_from([None, "", "10", "20", 5]), max_size=2)
rows = st.fixed_dictionaries({}, optional={"contact_email": emails, "contact_phone": phones,
                                           "contact_name": names,
                                           "stage_slug": st.sampled_from(["new", "won", ""]),
                                           "custom_fields": customs})
CONTACT = ("contact_name", "contact_phone", "contact_email")
operations = st.lists(st.one_of(
    st.tuples(st.just("bulk"), st.lists(rows, min_size=1, max_size=8),
              st.sampled_from(["update", "skip"])),
    st.tuples(st.just("create"), rows, st.just("update"))), min_size=1, max_size=4)


class Reference:
    """The model in its simplest form."""

    def __init__(self) -> None:
        self.leads: list[dict[str, Any]] = []

    @staticmethod
    def email_key(value: str | None) -> str | None:
        return (value or "").strip().lower() or None

    @staticmethod
    def phone_key(value: str | None) -> str | None:
        return re.sub(r"\D", "", value or "")[-10:] or None

    @staticmethod
    def present(value: str | None) -> bool:
        return bool((value or "").strip())

    def valid(self, row: dict[str, Any]) -> bool:
        if not any(self.present(row.get(f)) for f in ("contact_name", "contact_phone",
                                                      "contact_email")):
            return False
        email = row.get("contact_email")
        return not self.present(email) or re.fullmatch(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+",
                                                       email.strip()) is not None

    def apply(self, row: dict[str, Any], on_duplicate: str) -> tuple[str, int | None, str | None]:
        """(status, index of the lead, matched_by)."""
        if not self.valid(row):
            return "failed", None, None
        ek, pk = self.email_key(row.get("contact_email")), self.phone_key(row.get("contact_phone"))
        target, matched_by = None, None
        for index, lead in enumerate(self.leads):  # creation order: the oldest wins
            if ek and self.email_key(lead["contact_email"]) == ek:
                target, matched_by = index, "email"
                break
        if target is None:
            for index, lead in enumerate(self.leads):
                if pk and self.phone_key(lead["contact_phone"]) == pk:
                    target, matched_by = index, "phone"
                    break
        if target is None:
            lead = {f: (row.get(f) if self.present(row.get(f)) else None) for f in CONTACT}
            lead["stage"] = row.get("stage_slug") or None
            lead["custom"] = {k: v for k, v in (row.get("custom_fields") or {}).items()
                              if v is not None and v != ""}
            self.leads.append(lead)
            return "created", len(self.leads) - 1, None
        if on_duplicate == "skip":
            return "skipped", target, matched_by
        lead = self.leads[target]
        for field in CONTACT:
            if self.present(row.get(field)):
                lead[field] = row[field]
        if lead["stage"] is None and row.get("stage_slug"):
            lead["stage"] = row["stage_slug"]  # an existing stage is kept
        for key, value in (row.get("custom_fields") or {}).items():
            if value is not None and value != "":  # key by key; empty never deletes
                lead["custom"][key] = value
        return "updated", target, matched_by


_next = itertools.count()


def _state(lead: dict[str, Any]) -> dict[str, Any]:
    """A pulled lead in the reference's terms."""
    return {**{f: lead[f] for f in CONTACT},
            "stage": (lead["current_stage"] or {}).get("slug"),
            "custom": dict(lead["custom_fields"])}


@settings(suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations)
def test_sandbox_obeys_the_model(model_sandbox, ops) -> None:
    sandbox, make_api = model_sandbox
    api: Api = make_api(MODEL_GRANTS[next(_next) % len(MODEL_GRANTS)])
    customer = api.grant.customer_id
    offset = len(sandbox.leads(customer))  # a reused customer (long runs) keeps its leads
    reference = Reference()
    reference.leads = [_state(x) for x in sandbox.leads(customer)]
    ids: list[str] = [x["id"] for x in sandbox.leads(customer)]
    created_total = 0
    for kind, payload, on_duplicate in ops:
        if kind == "create":
            expected = reference.apply(payload, "update")
            answer = api.create(payload)
            if expected[0] == "failed":
                assert answer.status_code == 400
                continue
            assert answer.status_code == 201
            lead_id = answer.json()["lead"]["id"]
            if expected[0] == "created":
                ids.append(lead_id)
                created_total += 1
            assert ids[expected[1]] == lead_id
            continue
        answer = api.bulk(payload, on_duplicate=on_duplicate)
        assert answer.status_code == 200
        body = answer.json()
        summary = body["summary"]
        assert summary["total"] == len(payload) == sum(
            summary[k] for k in ("created", "updated", "skipped", "failed"))
        for row, result in zip(payload, body["results"], strict=True):
            status, index, matched_by = reference.apply(row, on_duplicate)
            assert (result["status"], result["matched_by"]) == (status, matched_by), row
            if status == "created":
                ids.append(result["lead_id"])
                created_total += 1
            if status == "failed":
                assert result["lead_id"] is None and result["errors"]
            else:
                assert result["lead_id"] == ids[index] and result["errors"] is None
        counts = {s: sum(r["status"] == s for r in body["results"])
                  for s in ("created", "updated", "skipped", "failed")}
        assert counts == {k: summary[k] for k in counts}
    stored = sandbox.leads(customer)
    assert [x["id"] for x in stored] == ids
    assert [_state(x) for x in stored] == reference.leads
    # a lead exists for each "created" answer and for nothing else
    assert len(stored) - offset == created_total
