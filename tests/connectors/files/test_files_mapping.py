"""Header mapping: exact names, synonyms, suffixes, fuzzy matches, explicit mapping, custom."""

from __future__ import annotations

import pytest

from leadbridge.connectors._headers import map_headers, parse_explicit
from leadbridge.errors import ConfigError


def fields(headers, **kw):
    m = map_headers(headers, **kw)
    return {m.headers[i]: f for f, i in m.fields.items()}, m


@pytest.mark.parametrize("header, target", [
    ("E-mail", "contact_email"), ("Email Address", "contact_email"), ("EMAIL", "contact_email"),
    ("Mobile", "contact_phone"), ("Cell Phone", "contact_phone"),
    ("Phone Number", "contact_phone"), ("Full Name", "contact_name"),
    ("Lead Source", "source_platform"), ("Owner", "owner"), ("Stage", "stage"),
    ("Last Modified", "updated_at"), ("Date Created", "created_at"),
    ("stage_slug", "stage"), ("owner_id", "owner"), ("contact_email", "contact_email"),
    ("Customer Email", "contact_email"), ("Home Phone", "contact_phone"),
    ("Emial Address", "contact_email"), ("Phone Numbr", "contact_phone"),
    ("Assigned To", "owner"), ("Lead Status", "stage"), ("Buyer/Seller", "lead_line"),
])
def test_real_world_headers_map(header, target):
    got, m = fields(["id", header])
    assert got == {header: target}, m.rows


def test_first_and_last_name_both_map_for_the_engine_to_join():
    got, _ = fields(["First Name", "Last Name", "Email"])
    assert got == {"First Name": "first_name", "Last Name": "last_name",
                   "Email": "contact_email"}


def test_unmapped_columns_become_custom_fields_under_their_header():
    got, m = fields(["Email", "Budget", "Favorite Color", "", "Email", "Notes", "notes"])
    assert got == {"Email": "contact_email"}
    # the second "Email", the blank header and duplicated headers are kept under unique keys
    assert m.custom == {1: "Budget", 2: "Favorite Color", 3: "column_4", 4: "Email",
                        5: "Notes", 6: "notes (2)"}
    assert "already from 'Email'" in m.rows[4][2]


def test_a_better_method_wins_a_field_over_an_earlier_column():
    # "Customer Email" (suffix) comes first, "E-mail" (synonym) is the better evidence
    got, m = fields(["Customer Email", "E-mail"])
    assert got == {"E-mail": "contact_email"}
    assert m.custom == {0: "Customer Email"}


def test_explicit_mapping_always_wins():
    explicit = parse_explicit("Notes:contact_name,email:custom,Budget:skip")
    got, m = fields(["Full Name", "Notes", "email", "Budget"], explicit=explicit)
    assert got == {"Notes": "contact_name"}
    assert m.custom == {0: "Full Name", 2: "email"}
    assert ("Budget", "skip", "explicit") in m.rows


def test_explicit_mapping_as_dict_or_json_and_its_errors():
    assert parse_explicit({"A": "contact_email"}) == {"A": "contact_email"}
    assert parse_explicit('{"Tel": "phone"}') == {"Tel": "contact_phone"}
    assert parse_explicit("Name:With:Colons:contact_name") == {"Name:With:Colons": "contact_name"}
    with pytest.raises(ConfigError, match="unknown target"):
        parse_explicit("A:nonsense")
    with pytest.raises(ConfigError, match="Header:field"):
        parse_explicit("justaheader")
    with pytest.raises(ConfigError, match="not in the file"):
        map_headers(["a", "b"], explicit={"zzz": "contact_email"})


def test_id_rules():
    m = map_headers(["Name", "ID"])
    assert m.id_column == 1 and m.id_rule == "column 'ID'"
    m = map_headers(["id", "Lead Ref"], id_column="lead ref")
    assert m.id_column == 1 and 0 in m.custom  # --id-column wins over a column named id
    m = map_headers(["Name", "Email"])
    assert m.id_column is None and m.id_rule == "line number"
    m = map_headers(["id", "Name"], explicit={"id": "custom"})  # explicit wins over "id"
    assert m.id_column is None and m.custom == {0: "id"}
    with pytest.raises(ConfigError, match="not in the file"):
        map_headers(["Name"], id_column="nope")
