"""`leadbridge map` proposals on realistic sources: exact matches, rapidfuzz suggestions with
their scores, TODO for the rest, and a job file that loads once the TODOs are decided."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from leadbridge.errors import ConfigError
from leadbridge.mapping_inspect import profile
from leadbridge.mapping_model import Mapping
from leadbridge.mapping_suggest import MegaSide, Owner, parse_owners, propose, render

from .conftest import OWNER_ANA, OWNER_TOM

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fakes.hubspot import FakeHubSpot  # noqa: E402

STAGES = ["new", "contacted", "qualified", "proposal", "won", "lost"]
MEGA = MegaSide(stages=STAGES, custom_fields=["budget", "timeline", "phone_extension"],
                owners=[Owner(OWNER_ANA, "ana@agency.com"), Owner(OWNER_TOM, "Tom Ray")],
                origin={"stages": "--stages", "owners": "--owners",
                        "custom_fields": "--custom-fields"})


def test_hubspot_lifecycle_stages_owners_and_custom_property() -> None:
    from leadbridge.connectors.hubspot import HubSpotConnector

    with FakeHubSpot(owners={"7": "Ana@Agency.com", "9": "tom.ray@agency.com",
                             "11": "zed@agency.com"}, custom_props=("budget",)) as fake:
        base = 1_700_000_000_000
        rows = [("salesqualifiedlead", "7"), ("salesqualifiedlead", "9"),
                ("marketingqualifiedlead", "7"), ("customer", "11"), ("lead", "7")]
        for i, (stage, owner) in enumerate(rows):
            fake.add(str(i + 1), base + i, email=f"p{i}@x.com", lifecyclestage=stage,
                     hubspot_owner_id=owner, budget=str(1000 * i))
        conn = HubSpotConnector(token="pat-secret-token", base_url=fake.base_url,
                                search_per_second=1000, custom_properties="budget")
        prof = profile(conn.records({}))
    assert prof.records == 5
    assert prof.values["stage"][0] == ("salesqualifiedlead", 2)
    proposal = propose(prof, MEGA, source_platform="hubspot")
    stages = {e.key: e for e in proposal.stages}
    sql = stages["salesqualifiedlead"]
    assert (sql.value, sql.how, sql.count) == ("qualified", "fuzzy", 2)
    assert "score 9" in sql.note  # the score is shown for review
    assert stages["customer"].value == "TODO" and stages["lead"].value == "TODO"
    owners = {e.key: e for e in proposal.owners}
    assert (owners["Ana@Agency.com"].value, owners["Ana@Agency.com"].how) == (OWNER_ANA, "exact")
    assert (owners["tom.ray@agency.com"].value, owners["tom.ray@agency.com"].how) == (
        OWNER_TOM, "fuzzy")
    assert owners["zed@agency.com"].value == "TODO"
    fields = {e.key: e for e in proposal.fields}
    assert (fields["budget"].value, fields["budget"].how) == ("custom:budget", "exact")
    assert proposal.defaults == {"source_platform": "hubspot", "source_type": "import"}


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "export.csv"
    path.write_text(
        "id,Name,Email,Budget ($),Purchase Timeline,Shoe Size,Lifecycle Stage,Owner,Tags\n"
        "1,Ana,ana@x.com,500000,3 months,9,salesqualifiedlead,ana@agency.com,\"Buyer, VIP\"\n"
        "2,Bob,bob@x.com,,6 months,,Attempted to Contact,bob@agency.com,Seller\n"
        "3,Cy,cy@x.com,12,,,salesqualifiedlead,ana@agency.com,\n", encoding="utf-8")
    return path


def test_csv_export_budget_timeline_tags_and_todo(tmp_path: Path) -> None:
    from leadbridge.plugins import load_registry

    conn = load_registry().get("csv").cls(path=str(_csv(tmp_path)))
    prof = profile(conn.records({}))
    proposal = propose(prof, MEGA)
    fields = {e.key: e for e in proposal.fields}
    assert (fields["Budget ($)"].value, fields["Budget ($)"].how) == ("custom:budget", "exact")
    assert fields["Budget ($)"].count == 2  # records with a value, not rows
    assert (fields["Purchase Timeline"].value, fields["Purchase Timeline"].how) == (
        "custom:timeline", "fuzzy")
    assert fields["Shoe Size"].value == "TODO"
    stages = {e.key: e for e in proposal.stages}
    assert stages["Attempted to Contact"].value == "TODO"
    assert "closest 'contacted'" in stages["Attempted to Contact"].note
    assert proposal.lead_line == {"from": "tag", "field": "Tags", "buyer": ["Buyer"],
                                  "seller": ["Seller"]}

    text = render(proposal, connector="csv", options={"path": "export.csv"}, mega=MEGA,
                  records=prof.records, limited=False)
    data = tomllib.loads(text)  # valid TOML, with the scores as comments
    assert "score" in text and data["target"]["stages"] == STAGES
    with pytest.raises(ConfigError, match="still TODO"):
        Mapping.from_dict(data["mapping"])
    decided = tomllib.loads(text.replace('"TODO"', '"-"'))
    mapping = Mapping.from_dict(decided["mapping"])
    assert mapping.stages.values["salesqualifiedlead"] == "qualified"
    assert mapping.owners.values["ana@agency.com"] == OWNER_ANA


def test_nothing_known_of_mega_means_todo_everywhere(tmp_path: Path) -> None:
    from leadbridge.plugins import load_registry

    conn = load_registry().get("csv").cls(path=str(_csv(tmp_path)))
    proposal = propose(profile(conn.records({})), MegaSide())
    assert {e.value for _, e in proposal.entries() if e.key != "Tags"} == {"TODO"}
    assert all("give --" in e.note or "custom:" in e.note for _, e in proposal.todo())


def test_owner_list_parsing() -> None:
    assert parse_owners([f"ana@agency.com={OWNER_ANA}", OWNER_TOM]) == [
        Owner(OWNER_ANA, "ana@agency.com"), Owner(OWNER_TOM, None)]
    with pytest.raises(ConfigError, match="not a MEGA owner id"):
        parse_owners(["ana@agency.com=42"])


def test_a_column_that_is_always_empty_gets_no_todo() -> None:
    proposal = propose(profile([{"source_id": "1", "contact_email": "a@example.com",
                                 "custom_fields": '{"Budget ($)": "100", "Never filled": ""}'},
                                {"source_id": "2", "contact_email": "b@example.com",
                                 "custom_fields": '{"Budget ($)": null, "Never filled": null}'}]),
                       MEGA)
    keys = {e.key for e in proposal.fields}
    assert "Budget ($)" in keys and "Never filled" not in keys


def test_two_columns_matching_one_slug_leave_a_todo_not_a_refused_job() -> None:
    """`Budget` and `Budget ($)` both match `budget`: proposing both as exact wrote a job the
    loader refuses (one value would overwrite the other) while `map` said "no TODO left"."""
    proposal = propose(profile([
        {"source_id": "1", "contact_email": "a@example.com",
         "custom_fields": '{"Budget": "5", "Budget ($)": "6"}'},
        {"source_id": "2", "contact_email": "b@example.com", "custom_fields": '{"Budget": "7"}'}]),
        MEGA)
    fields = {e.key: e for e in proposal.fields}
    assert (fields["Budget"].value, fields["Budget"].how) == ("custom:budget", "exact")
    assert (fields["Budget ($)"].value, fields["Budget ($)"].how) == ("TODO", "todo")
    assert "already holds 'Budget'" in fields["Budget ($)"].note
    with pytest.raises(ConfigError, match="TODO"):
        Mapping.from_dict({"fields": {e.key: e.value for e in proposal.fields}})


def test_one_owner_email_given_two_ids_is_refused() -> None:
    """Emails match whatever their case: `a@x.com=ID1,A@x.com=ID2` silently sent ID1 for
    every record of that owner. The same pair twice is harmless."""
    with pytest.raises(ConfigError, match="'Ana@agency.com' is given two different owner ids"):
        parse_owners([f"ana@agency.com={OWNER_ANA}", f"Ana@agency.com={OWNER_TOM}"])
    assert len(parse_owners([f"ana@agency.com={OWNER_ANA}", f"ana@agency.com={OWNER_ANA}"])) == 2
