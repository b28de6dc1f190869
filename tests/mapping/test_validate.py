"""Validation before any request: unknown values listed with counts and examples; the probe
asks a real sandbox (dry_run) which candidates it knows and writes nothing."""

from __future__ import annotations

from leadbridge.mapping_validate import MegaKnown, probe, validate
from leadbridge.mega import MegaClient
from leadbridge.sandbox import Sandbox

from .conftest import OWNER_ANA, customer


def test_unknown_values_are_counted_with_examples() -> None:
    rows = [{"row_ref": f"r{i}", "contact_name": "x", "stage_slug": s, "owner_id": o,
             "source_type": t, "custom_fields": c}
            for i, (s, o, t, c) in enumerate([
                ("qualified", OWNER_ANA, "import", {"budget": "1"}),
                ("Hot Lead", OWNER_ANA, "import", {"budgett": "1", "lead_line": "buyer"}),
                ("Hot Lead", "ana@agency.com", "web", None),
                ("Hot Lead", None, None, {"budgett": "2"}),
                ("appointment", None, None, None)])]
    known = MegaKnown.of(["new", "qualified"], [OWNER_ANA], ["budget"])
    result = validate(rows, known)
    got = {(p.kind, p.value): (p.count, p.examples) for p in result.problems}
    assert got == {
        ("stage_slug", "Hot Lead"): (3, ["r1", "r2", "r3"]),
        ("stage_slug", "appointment"): (1, ["r4"]),
        ("owner_id", "ana@agency.com"): (1, ["r2"]),
        ("source_type", "web"): (1, ["r2"]),
        ("custom_fields", "budgett"): (2, ["r1", "r3"]),
    }
    assert result.rows_affected("stage_slug") == 4
    text = "\n".join(result.lines())
    assert "stage_slug not in the customer's pipeline: 2 value(s) in 4 row(s)" in text
    assert "'Hot Lead': 3 row(s), e.g. r1, r2, r3" in text

    # unknown kinds are not checked (and say so); a snapshot never makes a kind checked
    loose = validate(rows, MegaKnown().extended(MegaKnown.of(["qualified"], None, None)))
    assert {p.kind for p in loose.problems} == {"source_type"}
    assert set(loose.not_checked) == {"stage_slug", "owner_id", "custom_fields"}
    widened = MegaKnown.of(["qualified"]).extended(MegaKnown.of(["Hot Lead", "appointment"]))
    assert not [p for p in validate(rows, widened).problems if p.kind == "stage_slug"]


def test_probe_asks_the_sandbox_and_writes_nothing(sandbox: Sandbox) -> None:
    cust = customer(sandbox)
    with MegaClient(sandbox.base_url, sandbox.config.tokens[0].token, cust,
                    time_scale=sandbox.config.time_scale, env={}) as client:
        result = probe(client, stages=["qualified", "sql", "won"],
                       owners=[OWNER_ANA, "00000000-0000-4000-8000-000000000000"],
                       custom_fields=["budget", "budgett", "lead_line"])
    assert result.known.stages == {"qualified", "won"}
    assert result.unknown["stages"] == {"sql"}
    assert result.known.owners == {OWNER_ANA}
    assert result.known.custom_fields == {"budget"}
    assert result.unknown["custom_fields"] == {"budgett"}
    assert sandbox.leads(cust) == []  # a dry run: nothing stored
