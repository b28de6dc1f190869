"""The job file's [mapping]: load-time errors listed all at once, and what apply does with
stages, owners, lead lines, fields and policies (every record kept, rejects with reasons)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leadbridge.errors import ConfigError
from leadbridge.mapping_apply import apply_mapping
from leadbridge.mapping_model import Mapping
from leadbridge.mapping_report import MappingReport
from leadbridge.pipeline.job import load

from .conftest import OWNER_ANA, OWNER_TOM


def _run(records: list[dict[str, Any]], mapping: dict[str, Any]
         ) -> tuple[list[dict[str, Any]], MappingReport]:
    report = MappingReport()
    out = [r for b in apply_mapping(records, Mapping.from_dict(mapping), report=report)
           for r in b.to_pylist()]
    return out, report


def _custom(rec: dict[str, Any]) -> dict[str, Any]:
    return json.loads(rec["custom_fields"]) if rec["custom_fields"] else {}


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        Mapping.from_dict({
            "fields": {"Budget": "budgett", "Notes": "TODO"},
            "stages": {"Lead": "TODO", "Won": ""},
            "stages_policy": {"unmapped": "default"},
            "source_types": {"Web": "website"},
            "lead_line": {"from": "tags"},
            "transforms": [{"op": "join", "to": "contact_name"}, {"op": "upper"}],
            "colours": {},
        })
    text = str(err.value)
    for needle in ("'budgett' is not a target", "mapping.stages['Won'] must be a non-empty",
                   "uses the default policy but gives no default", "'website' is not one of",
                   "from must be one of field, tag, stage", "join needs fields",
                   "op must be one of", "unknown section [mapping.colours]",
                   "2 entries are still TODO", "mapping.fields['Notes']",
                   "mapping.stages['Lead']"):
        assert needle in text, needle


def test_job_file_carries_the_mapping_and_refuses_todo(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text('[source]\nconnector = "csv"\n[source.options]\npath = "x.csv"\n'
                   '[policies]\nsend_anyway = true\n[target]\ncustom_fields = ["budget"]\n'
                   '[mapping.stages]\n"Hot Lead" = "qualified"\n'
                   '[mapping.fields]\n"API Token Notes" = "custom:notes"\n')
    spec = load(job)
    assert spec.mapping is not None and spec.mapping.stages.values == {"Hot Lead": "qualified"}
    assert spec.send_anyway and spec.custom_fields == ("budget",)
    job.write_text(job.read_text().replace('"qualified"', '"TODO"'))
    with pytest.raises(ConfigError, match=r"(?s)job\.toml.*still TODO.*Hot Lead"):
        load(job)


STAGES = {"salesqualifiedlead": "qualified", "lead": "new", "junk": "-"}


@pytest.mark.parametrize("policy, stage, reason", [
    ("omit", None, None),
    ("default", "contacted", None),
    ("reject", None, "unmapped stage 'Appointment Set' (mapping.stages_policy: reject)"),
])
def test_stage_policies(policy: str, stage: str | None, reason: str | None) -> None:
    records = [{"source_id": "a", "stage": "salesqualifiedlead"},
               {"source_id": "b", "stage": " Appointment Set "},
               {"source_id": "c", "stage": "junk"},
               {"source_id": "d", "stage": "Appointment Set"},
               {"source_id": "e"}]
    out, report = _run(records, {"stages": STAGES, "stages_policy": {
        "unmapped": policy, "default": "contacted"}})
    assert [r["source_id"] for r in out] == ["a", "b", "c", "d", "e"]
    assert out[0]["stage"] == "qualified"
    assert out[2]["stage"] is None and out[4]["stage"] is None
    assert [out[1]["stage"], out[3]["stage"]] == [stage, stage]
    assert [out[1]["reject_reason"], out[3]["reject_reason"]] == [reason, reason]
    unmapped = report.unmapped["stage"]["Appointment Set"]
    assert (unmapped.count, unmapped.example) == (2, "b")
    status = {"omit": "omitted", "default": "defaulted", "reject": "rejected"}[policy]
    assert report.count("stage", status) == 2
    assert report.count("stage", "dropped") == 1 and report.count("stage", "empty") == 1
    assert report.rejected == (2 if policy == "reject" else 0)
    assert any("unmapped 'Appointment Set': 2 record(s)" in line for line in report.lines())


def test_owner_by_email_ignores_case_and_spaces() -> None:
    out, report = _run(
        [{"source_id": "1", "owner": " Ana@Agency.COM"}, {"source_id": "2", "owner": "tom"},
         {"source_id": "3", "owner": "zed@agency.com"}],
        {"owners": {"ana@agency.com": OWNER_ANA, "tom": OWNER_TOM}})
    assert [r["owner"] for r in out] == [OWNER_ANA, OWNER_TOM, None]
    assert report.unmapped["owner"]["zed@agency.com"].count == 1


def test_lead_line_from_tags_field_and_stage() -> None:
    records = [{"source_id": "1", "custom_fields": {"tags": ["VIP", "Buyer"]}},
               {"source_id": "2", "custom_fields": {"tags": "seller, hot"}},
               {"source_id": "3", "custom_fields": {"tags": ["Buyer", "Seller"]}},
               {"source_id": "4", "custom_fields": {"tags": ["Buyers club"]}},
               {"source_id": "5", "lead_line": "Seller"}]
    out, report = _run(records, {"lead_line": {"from": "tag", "buyer": ["buyer"],
                                               "seller": ["Seller"], "unmapped": "reject"}})
    assert [r["lead_line"] for r in out] == ["buyer", "seller", None, None, "seller"]
    # both tags, or a tag that only contains the word, decide nothing: rejected, with reason
    assert [bool(r["reject_reason"]) for r in out] == [False, False, True, True, False]
    assert _custom(out[0])["tags"] == ["VIP", "Buyer"]  # the rule reads tags, keeps them
    assert report.count("lead_line", "passed") == 1

    out, _ = _run([{"source_id": "1", "custom_fields": {"Type": "Home Buyer"}},
                   {"source_id": "2", "custom_fields": {"Type": "listing"}}],
                  {"lead_line": {"field": "Type", "buyer": ["home buyer"],
                                 "seller": ["Listing"]}})
    assert [r["lead_line"] for r in out] == ["buyer", "seller"]

    out, _ = _run([{"source_id": "1", "stage": "Listing Signed"},
                   {"source_id": "2", "stage": "Buyer Tour"}],
                  {"stages": {"Listing Signed": "won", "Buyer Tour": "contacted"},
                   "lead_line": {"from": "stage", "seller": ["listing signed"],
                                 "buyer": ["Buyer Tour"]}})
    assert [(r["stage"], r["lead_line"]) for r in out] == [("won", "seller"),
                                                          ("contacted", "buyer")]


def test_fields_transforms_defaults_and_unmapped_fields() -> None:
    records = [{"source_id": "1", "source_platform": "hubspot",
                "custom_fields": {"Budget ($)": " 500000 ", "First": "Ana", "Last": "Lee",
                                  "Mobile": "", "Work Phone": "206 555 0101", "Notes": "n"}},
               {"source_id": "2", "contact_name": "Kept Name",
                "custom_fields": {"Mobile": "206 555 0102", "Work Phone": "206 555 0199",
                                  "budget": "7"}}]
    mapping = {"fields": {"Budget ($)": "custom:budget", "Notes": "-"},
               "fields_policy": {"unmapped": "keep"},
               "defaults": {"source_platform": "direct", "source_type": "import"},
               "transforms": [{"op": "trim", "fields": ["Budget ($)"]},
                              {"op": "join", "fields": ["First", "Last"], "to": "contact_name"},
                              {"op": "first_non_empty", "fields": ["Mobile", "Work Phone"],
                               "to": "contact_phone"},
                              {"op": "constant", "value": "import-2026", "to": "custom:batch"}]}
    out, report = _run(records, mapping)
    assert out[0]["contact_name"] == "Ana Lee" and out[1]["contact_name"] == "Kept Name"
    assert [r["contact_phone"] for r in out] == ["206 555 0101", "206 555 0102"]
    assert _custom(out[0]) == {"budget": "500000", "batch": "import-2026"}
    assert _custom(out[1]) == {"budget": "7", "batch": "import-2026"}
    assert [r["source_platform"] for r in out] == ["hubspot", "direct"]
    assert [r["source_type"] for r in out] == ["import", "import"]
    assert report.defaults_filled == {"source_platform": 1, "source_type": 2}
    assert report.unmapped_fields == {}  # every source field is accounted for

    # an empty source value never overwrites the value the target already holds
    out, _ = _run([{"source_id": "1", "custom_fields": {"Budget ($)": None, "budget": "7"}},
                   {"source_id": "2", "custom_fields": {"Budget ($)": " ", "budget": 8}},
                   {"source_id": "3", "custom_fields": {"Budget ($)": 9, "budget": 8}}],
                  {"fields": {"Budget ($)": "custom:budget"}})
    assert [_custom(r) for r in out] == [{"budget": "7"}, {"budget": 8}, {"budget": 9}]

    out, report = _run([{"source_id": "1", "custom_fields": {"Budget ($)": "1", "Pet": "cat"}}],
                       {"fields": {"Budget ($)": "custom:budget"},
                        "fields_policy": {"unmapped": "omit"}})
    assert _custom(out[0]) == {"budget": "1"}
    assert report.unmapped_fields["Pet"].count == 1
    assert any("omitted: 'Pet' (1)" in line for line in report.lines())


def test_enum_values_are_mapped_or_reported() -> None:
    out, report = _run([{"source_id": "1", "source_platform": "Facebook Ads"},
                        {"source_id": "2", "source_platform": "HubSpot"},
                        {"source_id": "3", "source_platform": "Carrier pigeon"}],
                       {"source_platforms": {"Facebook Ads": "meta_ads"}})
    assert [r["source_platform"] for r in out] == ["meta_ads", "hubspot", None]
    assert report.unmapped["source_platform"]["Carrier pigeon"].count == 1


def test_two_fields_into_one_target_are_refused() -> None:
    """Both values cannot be sent: one silently replaced the other on every record holding
    both. first_non_empty says which one wins; "-" targets may repeat."""
    with pytest.raises(ConfigError) as err:
        Mapping.from_dict({"fields": {"Mobile": "contact_phone", "Work": "contact_phone",
                                      "Budget": "custom:budget", "Budget ($)": "custom:budget",
                                      "A": "-", "B": "-"}})
    text = str(err.value)
    assert "'Mobile', 'Work' all map to 'contact_phone'" in text
    assert "'Budget', 'Budget ($)' all map to 'custom:budget'" in text
    assert "first_non_empty" in text and "'A'" not in text


@pytest.mark.parametrize("mapping, fragment", [
    ({"stages_policy": {"unmaped": "reject"}}, "mapping.stages_policy: unknown key 'unmaped'"),
    ({"fields_policy": {"unmaped": "omit"}}, "mapping.fields_policy: unknown key 'unmaped'"),
    ({"lead_line": {"field": "Type", "buyer": ["B"], "sellers": ["S"]}},
     "mapping.lead_line: unknown key 'sellers'"),
    ({"transforms": [{"op": "join", "fields": ["A", "B"], "to": "contact_name",
                      "separator": ", "}]}, "mapping.transforms #1: unknown key 'separator'"),
])
def test_misspelt_keys_in_policies_lead_line_and_transforms_are_refused(
        mapping: dict[str, Any], fragment: str) -> None:
    """`unmaped = "reject"` was ignored: the records it meant to reject were sent."""
    with pytest.raises(ConfigError) as err:
        Mapping.from_dict(mapping)
    assert fragment in str(err.value)


def test_value_map_entries_matching_the_same_value_must_agree() -> None:
    """Keys match trimmed, owner emails whatever their case: `"New"` and `" New"` (or
    `"a@x.com"` and `"A@x.com"`) with different targets let one silently win."""
    with pytest.raises(ConfigError) as err:
        Mapping.from_dict({"stages": {"New": "new", " New": "won"},
                           "owners": {"ana@agency.com": OWNER_ANA, "Ana@Agency.com": OWNER_TOM}})
    text = str(err.value)
    assert "' New' and 'New' are the same value" in text
    assert "'Ana@Agency.com' and 'ana@agency.com' are the same value" in text
    same = Mapping.from_dict({"stages": {"New": "new", "New ": "new", "new": "won"}})
    assert same.stages.values == {"New": "new", "new": "won"}  # stage values keep their case
    # an empty key never matches (values are trimmed, empty is "missing"): it did nothing
    with pytest.raises(ConfigError, match=r"an empty value never matches; use \[mapping"):
        Mapping.from_dict({"stages": {" ": "new"}})


def test_source_fields_the_mapping_reads_but_no_record_holds_are_reported() -> None:
    """A misspelt `"Budgte" = "custom:budget"` (or a join of "email", which the connector
    yields as contact_email) mapped nothing and said nothing, while the real field went on
    unmapped."""
    records = [{"source_id": "1", "contact_email": "a@x.com",
                "custom_fields": {"Budget": "5", "First": "Ana"}},
               {"source_id": "2", "custom_fields": {"Budget": "6"}}]
    _, report = _run(records, {"fields": {"Budgte": "custom:budget", "First": "contact_name"},
                               "transforms": [{"op": "join", "fields": ["First", "email"],
                                               "to": "custom:x"}]})
    assert report.fields_missing == ["Budgte", "email"]  # "First" is in record 1
    assert any("no record read holds" in line and "'Budgte', 'email'" in line
               for line in report.lines())
    assert report.as_dict()["fields_missing"] == ["Budgte", "email"]
    _, clean = _run(records, {"fields": {"Budget": "custom:budget"}})
    assert clean.fields_missing == [] and not any("no record" in x for x in clean.lines())


@pytest.mark.parametrize("name", ["source_id", "reject_reason", "deleted", "custom_fields"])
def test_bookkeeping_columns_are_not_mapping_sources(name: str) -> None:
    """A [mapping.fields] source is moved away: `source_id = "custom:old_id"` emptied every id
    (then "name the id column with --id-column"), `reject_reason = "-"` replaced a located
    connector reason, `deleted = "-"` would send records deleted at the source."""
    with pytest.raises(ConfigError, match=f"{name} is leadbridge's bookkeeping"):
        Mapping.from_dict({"fields": {name: "custom:x"}})
    # the documented way to keep the id as a custom field as well
    out, _ = _run([{"source_id": "7", "contact_email": "a@x.com"}],
                  {"transforms": [{"op": "first_non_empty", "fields": ["source_id"],
                                   "to": "custom:old_id"}]})
    assert out[0]["source_id"] == "7" and _custom(out[0]) == {"old_id": "7"}
