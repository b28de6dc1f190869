"""MEGA's assumed key rules, as examples a reader can check against docs/mega-model.md."""

from __future__ import annotations

import duckdb
import pytest

from leadbridge import mega_model as mm


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("(206) 555-0123", "2065550123"),
        ("+1 206-555-0123", "2065550123"),
        ("206.555.0123 x222", "2065550123"),
        ("206-555-0123 ext. 45", "2065550123"),
        ("206 555 0123 extension 7", "2065550123"),
        ("2065550123#9", "2065550123"),
        ("206.555.0123;ext=9", "2065550123"),
        ("555-0123", "5550123"),  # short: keys on what it has
        ("no digits", None),
        ("", None),
        (None, None),
    ],
)
def test_phone_key(raw: str | None, key: str | None) -> None:
    assert mm.phone_key(raw) == key


def test_sent_phone_has_no_extension_so_megas_key_equals_ours() -> None:
    raw = "+1 (206) 555-0123 x 2222"
    sent = mm.clean_phone(raw)
    assert sent == "+1 (206) 555-0123"
    # MEGA takes the last 10 digits of what it receives; with the extension it would key
    # on 5550123222 and miss the merge.
    assert mm.mega_phone_key(sent) == mm.phone_key(raw) == "2065550123"
    assert mm.mega_phone_key(raw) != mm.phone_key(raw)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("  Ana@Example.COM ", "ana@example.com"),
        ("\u00a0ana@example.com\t\n", "ana@example.com"),
        ("\ufeffana@example.com\u200b", "ana@example.com"),
        ("a.n.a+x@gmail.com", "a.n.a+x@gmail.com"),  # no Gmail folding: MEGA does not fold
        ("   ", None),
        (None, None),
    ],
)
def test_email_key(raw: str | None, key: str | None) -> None:
    assert mm.email_key(raw) == key


@pytest.mark.parametrize(
    ("raw", "valid"),
    [("ana@example.com", True), (" ana@example.co.uk ", True), ("ana@example", False),
     ("ana example@x.com", False), ("@x.com", False), ("ana@@x.com", False), (None, False)],
)
def test_email_validity(raw: str | None, valid: bool) -> None:
    assert mm.is_valid_email(raw) is valid


@pytest.mark.parametrize(
    "raw",
    ["(206) 555-0123 x222", " 206.555.0123;ext=9 ", "#12", "\u00a0Foo@Bar.COM\u200b",
     "555-0123 #7", "+44 20 7946 0958", "x", "", "ext 5"],
)
def test_sql_macros_agree_with_python(raw: str) -> None:
    con = duckdb.connect()
    for statement in mm.duckdb_macros():
        con.execute(statement)
    sql = con.execute(
        "SELECT lb_phone_key(?), lb_phone_clean(?), lb_email_key(?), lb_email_valid(?)",
        [raw, raw, raw, raw],
    ).fetchone()
    assert sql == (mm.phone_key(raw), mm.clean_phone(raw), mm.email_key(raw),
                   mm.is_valid_email(raw))


def test_find_match_prefers_email_then_phone() -> None:
    by_email = {"ana@example.com": "lead-1"}
    by_phone = {"2065550123": "lead-2"}
    assert mm.find_match("ANA@example.com", "206-555-0123", by_email, by_phone) == ("lead-1", "email")
    assert mm.find_match("bob@example.com", "+1 206 555 0123", by_email, by_phone) == ("lead-2", "phone")
    assert mm.find_match(None, None, by_email, by_phone) == (None, None)


def test_merge_keeps_stage_and_ignores_empty_values() -> None:
    stored = {"contact_name": "Ana", "contact_phone": "1", "stage_slug": "contacted",
              "custom_fields": {"budget": "10", "timeline": "soon"}}
    merged = mm.merge_fields(stored, {"contact_name": "", "contact_phone": "2", "stage_slug": "won",
                                      "custom_fields": {"budget": "20", "timeline": None}})
    assert merged["contact_name"] == "Ana"
    assert merged["contact_phone"] == "2"
    assert merged["stage_slug"] == "contacted"
    assert merged["custom_fields"] == {"budget": "20", "timeline": "soon"}
    assert mm.merge_fields({"stage_slug": None}, {"stage_slug": "new"})["stage_slug"] == "new"
