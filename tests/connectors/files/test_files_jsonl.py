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


_KEYS = ["x1", "a/b~c", "Ünï", "k with space", "it's", "~0"]
_SCALARS = (st.none() | st.booleans() | st.integers(-10**6, 10**6)
            | st.sampled_from([0.5, 3.25, -2.0])
            | st.sampled_from(["", "a@b.co", " spaced@x.io ", 'q"uote', "ünï", "back\\slash"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.sampled_from(["n", "m/k"]), inner, max_size=2),
                       max_leaves=6)


def _same_field(got, value) -> bool:
    """Whether a mapped field holds the JSON ``value``: a list's first element; a string as
    is; anything else as its JSON text."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or isinstance(value, str):
        return got == value
    return got is not None and json.loads(got) == value


@settings(max_examples=60, deadline=None)
@given(objects=st.lists(st.dictionaries(st.sampled_from(["email", *_KEYS]), _VALUES),
                        min_size=1, max_size=12),
       broken=st.sets(st.integers(0, 12), max_size=3))
def test_every_key_of_every_line_lands_in_its_own_field(tmp_path_factory, objects, broken):
    """Each line is parsed once for all its keys: every key's value still lands in its own
    field or custom field (keys with '/', '~', quotes, non-ASCII; lists, objects, nulls),
    however many keys a line has or lacks; invalid and non-object lines are rejected."""
    lines, expected, bad = [], {}, {}
    for n, obj in enumerate(objects):
        if n in broken:
            lines.append('{"email": broken' if n % 2 else "[1, 2]")
            bad[f"line:{len(lines)}"] = "invalid JSON" if n % 2 else "not a JSON object"
        lines.append(json.dumps({"id": f"r{n}", **obj}))
        expected[f"r{n}"] = obj
    path = tmp_path_factory.mktemp("j") / "k.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows, conn = read(path, "jsonl", id_column="id")
    assert {k: v.split(": ", 1)[1] for k, v in rejected(rows).items()} == bad
    custom_keys = {h for h, target, _ in conn.header_mapping if target.startswith("custom")}
    assert custom_keys == {k for obj in objects for k in obj} - {"email"}
    got = by_id(good(rows))
    assert set(got) == set(expected)
    for rid, obj in expected.items():
        assert _same_field(got[rid]["contact_email"], obj.get("email")), rid
        assert {k: got[rid]["custom"].get(k) for k in custom_keys} == \
            {k: obj.get(k) for k in custom_keys}, rid


def test_a_line_over_duckdbs_default_limit_is_read_whole(tmp_path):
    """Lines are read with DuckDB's default 2 MiB limit (small read buffers) unless the file
    holds a longer one: a 3 MiB line among short ones is read whole, not rejected or lost."""
    note = "n" * (3 << 20)
    lines = [{"id": f"s{i}", "email": f"p{i}@example.com"} for i in range(2000)]
    lines.insert(1500, {"id": "long", "email": "long@example.com", "note": note})
    path = tmp_path / "long.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    rows, _ = read(path, "jsonl", id_column="id")
    assert rejected(rows) == {}
    got = by_id(rows)
    assert len(got) == 2001 and got["long"]["custom"]["note"] == note
    assert got["s1999"]["contact_email"] == "p1999@example.com"
