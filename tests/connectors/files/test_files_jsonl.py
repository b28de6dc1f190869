"""The jsonl connector: keys mapped like CSV headers, nested values kept as JSON custom fields,
bad lines rejected with their line numbers, blank lines skipped but counted."""

from __future__ import annotations

import json

import pytest
from files_support import by_id, good, read, rejected
from hypothesis import given, settings
from hypothesis import strategies as st

from leadbridge.errors import SourceDataError, SourceError


def test_keys_map_like_headers_and_nested_values_stay_json(tmp_path):
    lines = [
        {"id": 1, "First Name": "Ana", "Last Name": "Silva", "E-mail": "ana@example.com",
         "Mobile": "555-0100", "address": {"city": "Lisbon", "zip": "1000"}, "vip": True},
        {"id": 2, "Full Name": "Bo", "E-mail": ["bo@example.com", "b2@example.com"],
         "tags": ["a", "b"], "score": 7.5},
    ]
    path = tmp_path / "l.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    rows, conn = read(path, "jsonl")
    got = by_id(rows)
    assert (got["1"]["first_name"], got["1"]["last_name"], got["1"]["contact_email"],
            got["1"]["contact_phone"]) == ("Ana", "Silva", "ana@example.com", "555-0100")
    assert got["1"]["custom"]["address"] == {"city": "Lisbon", "zip": "1000"}
    assert got["1"]["custom"]["vip"] is True
    # a list under a mapped key: its first element is the value
    assert got["2"]["contact_email"] == "bo@example.com" and got["2"]["contact_name"] == "Bo"
    assert got["2"]["custom"]["tags"] == ["a", "b"] and got["2"]["custom"]["score"] == 7.5
    assert ("E-mail", "contact_email", "synonym") in conn.header_mapping


def test_bad_lines_rejected_with_line_numbers_blank_lines_counted(tmp_path):
    text = ('{"name": "A", "email": "a@example.com"}\n'
            "\n"
            '{"name": "B", broken\n'
            '[1, 2]\n'
            '{"name": "C", "email": "c@example.com"}\n'
            '"just a string"\n')
    path = tmp_path / "l.jsonl"
    path.write_text(text, encoding="utf-8")
    rows, _ = read(path, "jsonl")
    # no id key: the line number is the id
    assert {r["source_id"]: r["contact_name"] for r in good(rows)} == {"1": "A", "5": "C"}
    assert rejected(rows) == {"line:3": "line 3: invalid JSON",
                              "line:4": "line 4: not a JSON object",
                              "line:6": "line 6: not a JSON object"}


def test_id_key_duplicates_and_errors(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_text('{"ID": "x", "name": "A"}\n{"ID": "x", "name": "B"}\n', encoding="utf-8")
    rows, _ = read(path, "jsonl")
    assert [r["contact_name"] for r in good(rows)] == ["B"]
    assert list(rejected(rows)) == ["line:1"]
    empty = tmp_path / "blank.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(SourceDataError, match="no JSON lines"):
        read(empty, "jsonl")


_PIECES = ['{', '}', '"id"', '"email"', ':', '1', ',', '\n', '\n', '\r\n', '[', ']', 'null',
           '"x@y.com"', 'é', ' ', '"', '\\', '{"id":"7","email":"a@b.co"}']


@settings(max_examples=100, deadline=None)
@given(body=st.lists(st.sampled_from(_PIECES), max_size=50).map("".join))
def test_any_mangled_jsonl_file_reads_or_fails_cleanly(tmp_path_factory, body):
    """Random JSON fragments and line ends: a clean SourceError (never another exception),
    or one outcome per line, each rejected line under its own number."""
    path = tmp_path_factory.mktemp("j") / "m.jsonl"
    path.write_bytes(body.encode())
    try:
        rows, _ = read(path, "jsonl")
    except SourceError:
        return
    lines = body.replace("\r\n", "\n").split("\n")
    bad = [r["source_id"] for r in rows if r["reject_reason"] is not None]
    assert len(bad) == len(set(bad))
    assert all(1 <= int(b.removeprefix("line:")) <= len(lines) for b in bad)
    assert len(rows) <= sum(1 for line in lines if line.strip())
