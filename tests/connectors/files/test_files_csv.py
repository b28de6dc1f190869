"""The csv connector on real files: delimiters, BOM, encodings, embedded newlines, malformed
lines with their line numbers, id rules, and every data line accounted for."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from files_support import by_id, good, read, rejected
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leadbridge.errors import ConfigError, SourceDataError, SourceError

HEADER = ["id", "Full Name", "E-mail", "Phone Number", "Budget"]
ROWS = [["1", "José Müller", "jose@example.com", "(206) 555-0100", "500000"],
        ["2", "Zoë Lee", "zoe@example.com", "+1 206 555 0101", ""],
        ["3", "Ana Silva", "ana@example.com", "", "12"]]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def table(delim: str = ",", rows=ROWS, header=HEADER) -> str:
    return "".join(delim.join(r) + "\n" for r in [header, *rows])


@pytest.mark.parametrize("delim", [",", "\t", ";", "|"])
def test_delimiter_is_sniffed_and_columns_map(tmp_path, delim):
    rows, conn = read(write(tmp_path / "l.csv", table(delim)))
    assert len(rows) == 3 and not rejected(rows)
    one = by_id(rows)["1"]
    assert (one["contact_name"], one["contact_email"], one["contact_phone"]) == (
        "José Müller", "jose@example.com", "(206) 555-0100")
    assert one["custom"] == {"Budget": "500000"}
    assert ("E-mail", "contact_email", "synonym") in conn.header_mapping
    assert conn.describe_mapping() == conn.header_mapping


def test_utf8_bom_does_not_stick_to_the_first_header(tmp_path):
    rows, conn = read(write(tmp_path / "l.csv", table(), "utf-8-sig"))
    assert sorted(r["source_id"] for r in rows) == ["1", "2", "3"]  # 'id' was recognized
    assert by_id(rows)["2"]["contact_name"] == "Zoë Lee"


@pytest.mark.parametrize("encoding, expected", [
    ("cp1252", "cp1252"), ("utf-16", "utf-16"), ("utf-16-le", "utf-16-le"),
])
def test_other_encodings_are_detected_and_decoded(tmp_path, encoding, expected):
    rows_in = [*ROWS, ["4", "Chloé “Quotes” €", "c@example.com", "", ""]]
    path = write(tmp_path / "l.csv", table(rows=rows_in), encoding)
    if encoding == "utf-16-le":  # no BOM: told apart by its NUL bytes
        assert path.read_bytes()[:2] == b"i\x00"
    rows, conn = read(path)
    assert conn.encoding_used[0] == expected
    assert by_id(rows)["4"]["contact_name"] == "Chloé “Quotes” €"
    assert by_id(rows)["1"]["contact_name"] == "José Müller"


def test_given_encoding_wins_and_undecodable_lines_are_rejected_with_their_number(tmp_path):
    path = write(tmp_path / "l.csv", table(), "latin-1")
    rows, conn = read(path, encoding="latin-1")
    assert conn.encoding_used == (codecs.lookup("latin-1").name, "given")
    assert by_id(rows)["1"]["contact_name"] == "José Müller"
    # the same bytes declared ASCII: lines 2 and 3 hold bytes ASCII lacks, line 4 is fine
    rows, _ = read(path, encoding="ascii")
    assert [r["source_id"] for r in good(rows)] == ["3"]
    bad = rejected(rows)
    assert set(bad) == {"line:2", "line:3"}
    assert all("undecodable" in why for why in bad.values())
    with pytest.raises(ConfigError, match="unknown encoding"):
        read(path, encoding="klingon-8")


def test_mostly_utf8_file_with_a_bad_byte_rejects_only_that_line(tmp_path):
    data = table().encode() + b"4,Bad \xff Byte,b@example.com,,\n5,Ok,ok@example.com,,\n"
    path = tmp_path / "l.csv"
    path.write_bytes(data)
    rows, conn = read(path)
    assert conn.encoding_used[0] == "utf-8"
    assert [r["source_id"] for r in good(rows)] == ["1", "2", "3", "5"]
    assert list(rejected(rows)) == ["line:5"]


def test_quoted_fields_with_embedded_newlines_and_physical_line_numbers(tmp_path):
    text = ('Full Name,Email,Notes\n'
            'Ann,ann@example.com,"line one\nline two, with comma"\n'
            'Bob,bob@example.com,"say ""hi"""\n'
            'Cy,cy@example.com,too,many\n'
            'Di,di@example.com,"three\n\nlines"\n'
            'Ed,ed@example.com,plain\n')
    rows, conn = read(write(tmp_path / "l.csv", text))
    ids = {r["contact_name"]: r["source_id"] for r in good(rows)}
    # no id column: the line each record starts on (1 is the header)
    assert ids == {"Ann": "2", "Bob": "4", "Di": "6", "Ed": "9"}
    assert by_id(rows)["2"]["custom"]["Notes"] == "line one\nline two, with comma"
    assert by_id(rows)["4"]["custom"]["Notes"] == 'say "hi"'
    assert rejected(rows) == {"line:5": "line 5: too many fields: expected 3, found 4"}
    assert conn.rejected_count == 1


def test_malformed_lines_are_rejected_with_reasons_and_good_lines_kept(tmp_path):
    text = ("id,name,email\n"
            "a,Ann,ann@example.com\n"
            "b,Bob\n"                          # too few fields
            "c,Cy,cy@example.com,extra\n"      # too many
            'd,"Di"x,di@example.com\n'         # text after a closing quote
            "e,Ed,ed@example.com\n")
    rows, _ = read(write(tmp_path / "l.csv", text))
    assert [r["source_id"] for r in good(rows)] == ["a", "e"]
    bad = rejected(rows)
    assert set(bad) == {"line:3", "line:4", "line:5"}
    assert "too few fields" in bad["line:3"] and "too many fields" in bad["line:4"]
    assert "quot" in bad["line:5"]
    assert len(rows) == 5  # every data line has an outcome



def test_a_line_up_to_the_maximum_is_read_whole_and_a_longer_one_rejected(tmp_path):
    """Lines near DuckDB's limit (32 MiB) come through whole, and one over it is rejected
    with its number, never cut or lost. (With read buffers of twice the limit instead of
    DuckDB's default 16x, the over-long line here vanished without a reject.)"""
    from leadbridge.connectors._csv_read import MAX_LINE_BYTES

    near, over = MAX_LINE_BYTES - (1 << 20), MAX_LINE_BYTES + (1 << 20)
    lines = ["id,email,notes", "1,a@x.com,short", "2,b@x.com," + "n" * near,
             "3,c@x.com," + "o" * over, *(f"{i},u{i}@x.com,x" for i in range(4, 3000)),
             "3000,d@x.com," + "m" * near, "3001,e@x.com,end"]
    rows, _ = read(write(tmp_path / "l.csv", "\n".join(lines) + "\n"))
    assert len(rows) == 3001  # every data line has an outcome
    assert rejected(rows) == {"line:4": rejected(rows)["line:4"]}
    assert "line 4: line too long" in rejected(rows)["line:4"]
    kept = by_id(rows)
    assert kept["2"]["custom"] == {"notes": "n" * near}
    assert kept["3000"]["custom"] == {"notes": "m" * near}
    assert kept["3001"]["contact_email"] == "e@x.com"

@pytest.mark.parametrize("mib, before", [(2.5, 10), (31.5, 200_000), (33, 0), (33, 5000)])
def test_one_long_line_alone_is_read_whole_or_rejected_never_lost(tmp_path, mib, before):
    """The first read uses DuckDB's 2 MiB line limit; a single longer line crossing a read
    buffer's end (31.5 MiB after 200,000 lines) or longer than the buffer (33 MiB) vanished
    under it without a reject, so the file is checked for long lines before reading."""
    long = "z" * int(mib * (1 << 20))
    lines = ["id,email,notes", *(f"{i},u{i}@x.com,n" for i in range(1, before + 1)),
             f"{before + 1},long@x.com,{long}",
             *(f"{i},u{i}@x.com,n" for i in range(before + 2, before + 1000))]
    rows, _ = read(write(tmp_path / "l.csv", "\n".join(lines) + "\n"))
    assert len(rows) == before + 999  # every data line has an outcome
    line = f"line:{before + 2}"
    if mib > 32:
        assert list(rejected(rows)) == [line] and "line too long" in rejected(rows)[line]
    else:
        assert rejected(rows) == {}
        assert by_id(rows)[str(before + 1)]["custom"] == {"notes": long}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 200), min_size=1, max_size=40), st.booleans(),
       st.integers(1, 97))
@example([1, 70], False, 97)  # the long line is the last, with no newline after it
@example([5, 64], True, 97)  # one line exactly at the limit, past a short one
def test_long_lines_are_found_across_chunks(tmp_path_factory, lengths, last_newline, chunk):
    """``has_long_line`` says yes to any line of at least the limit and no when every line
    is shorter than half of it, wherever the chunks of its reads fall."""
    from leadbridge.connectors._csv_read import has_long_line

    limit = 64
    text = "\n".join("x" * n for n in lengths) + ("\n" if last_newline else "")
    path = tmp_path_factory.mktemp("long") / "f.csv"
    path.write_bytes(text.encode())
    found = has_long_line(path, limit, chunk=chunk)
    if max(lengths) >= limit:
        assert found
    elif max(lengths) < limit // 2:
        assert not found


def test_unterminated_quote_swallows_the_rest_as_one_rejected_record(tmp_path):
    text = 'id,name\n1,Ann\n2,"Bob\n3,Cy\n'
    rows, _ = read(write(tmp_path / "l.csv", text))
    assert [r["source_id"] for r in good(rows)] == ["1"]
    assert list(rejected(rows)) == ["line:3"]


def test_id_column_any_case_and_id_column_option(tmp_path):
    path = write(tmp_path / "l.csv", "Name,ID,Ref\nAnn,7,r1\nBob,8,r2\n")
    rows, _ = read(path)
    assert sorted(r["source_id"] for r in rows) == ["7", "8"]
    rows, _ = read(path, id_column="Ref")
    assert sorted(r["source_id"] for r in rows) == ["r1", "r2"]
    assert by_id(rows)["r1"]["custom"] == {"ID": "7"}


def test_duplicate_and_empty_ids_are_rejected_naming_the_kept_line(tmp_path):
    text = "id,name\n1,Ann\n2,Bob\n1,Ann again\n ,Nobody\n1,Ann third\n"
    rows, _ = read(write(tmp_path / "l.csv", text))
    assert {r["source_id"]: r["contact_name"] for r in good(rows)} == {"1": "Ann third",
                                                                       "2": "Bob"}
    bad = rejected(rows)
    assert bad == {
        "line:2": "line 2: duplicate id \"1\": line 6 has the same id and is kept",
        "line:4": "line 4: duplicate id \"1\": line 6 has the same id and is kept",
        "line:5": "line 5: empty id (column 'id')",
    }


def test_explicit_columns_option_and_source_platform(tmp_path):
    text = "Ref,Who,Lead Source,Stage\nr1,Ann,Facebook,New\nr2,Bob,Zillow,\nr3,Cy,,x\n"
    path = write(tmp_path / "l.csv", text)
    rows, conn = read(path, columns={"Ref": "source_id", "Who": "contact_name"},
                      source_platform="zenmaid")
    got = by_id(rows)
    assert got["r1"]["contact_name"] == "Ann"
    assert got["r1"]["source_platform"] == "meta_ads"
    # not a MEGA value: kept as a custom field, the default platform fills in
    assert got["r2"]["source_platform"] == "zenmaid"
    assert got["r2"]["custom"]["Lead Source"] == "Zillow"
    assert got["r3"]["source_platform"] == "zenmaid"
    rows, _ = read(path, columns="Ref:source_id,Stage:custom")
    assert by_id(rows)["r1"]["stage"] is None and by_id(rows)["r1"]["custom"]["Stage"] == "New"


def test_missing_directory_empty_and_header_only_files_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        read(tmp_path / "nope.csv")
    with pytest.raises(SourceError, match="is a directory"):
        read(tmp_path)
    with pytest.raises(SourceDataError, match="is empty"):
        read(write(tmp_path / "e.csv", ""))
    with pytest.raises(SourceDataError, match="header line but no data"):
        read(write(tmp_path / "h.csv", "id,name,email\n"))
    with pytest.raises(SourceDataError, match="empty"):
        read(write(tmp_path / "blank.csv", "\n\n  \n"))


def test_rows_come_as_arrow_batches(tmp_path):
    import pyarrow as pa

    from leadbridge.connectors.files import CsvConnector

    path = write(tmp_path / "l.csv", table(rows=[[str(i), f"P{i}", f"p{i}@x.com", "", ""]
                                                  for i in range(25)]))
    items = list(CsvConnector(path=str(path), batch_size=10).records({}))
    assert items and all(isinstance(b, pa.RecordBatch) for b in items)
    assert sum(b.num_rows for b in items) == 25


def test_bom_sniffing_matches_python_codecs(tmp_path):
    from leadbridge.connectors._csv_encoding import sniff

    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16")):
        path = tmp_path / f"{enc}.csv"
        path.write_bytes(bom + "id\n1\n".encode("utf-8" if enc == "utf-8-sig" else "utf-16-le"))
        assert sniff(path)[0] == enc


def test_crlf_mixed_and_old_mac_line_endings(tmp_path):
    path = tmp_path / "l.csv"
    path.write_bytes(b'id,name\r\n1,Ann\r\n2,Bob\n3,"Multi\r\nline"\r\n4,Cy\r')
    rows, _ = read(path)
    assert {r["source_id"]: r["contact_name"] for r in rows} == {
        "1": "Ann", "2": "Bob", "3": "Multi\nline", "4": "Cy"}
    path.write_bytes(b"name,email\rAnn,a@example.com\rBob,b@example.com,extra\rCy,c@x.com\r")
    rows, _ = read(path)
    assert {r["source_id"]: r["contact_name"] for r in good(rows)} == {"2": "Ann", "4": "Cy"}
    assert list(rejected(rows)) == ["line:3"]


def test_excel_sep_line_names_the_delimiter_and_is_skipped(tmp_path):
    path = write(tmp_path / "l.csv", "sep=;\nName;Home,Phone\nAnn;555-0100,x\nBob;b;c\n")
    rows, conn = read(path)
    assert [(r["source_id"], r["contact_name"]) for r in good(rows)] == [("3", "Ann")]
    assert list(rejected(rows)) == ["line:4"]
    assert conn.header_mapping[1] == ("Home,Phone", "contact_phone", "synonym")


@pytest.mark.parametrize("blank", [True, False])
@pytest.mark.parametrize("multiline", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_line_numbers_stay_exact_with_newlines_and_rejects_mixed(tmp_path, seed, multiline,
                                                                 blank):
    """Every record's id (no id column) and every reject's number is the line it starts on
    (without multi-line values the connector takes its no-window shortcut). Blank lines,
    which DuckDB skips without a word, count as lines; an empty line inside a quoted value
    belongs to its record; a line of spaces after a blank line is one rejected line."""
    import random

    rng = random.Random(seed)
    lines = ["Name,Email,Notes"]
    expected_good, expected_bad = {}, set()
    for n in range(rng.randrange(20, 60)):
        start = len(lines) + 1 + sum(x.count("\n") for x in lines)
        kind = rng.random()
        if kind < 0.2:
            lines.append(f"Bad{n},b{n}@example.com,x,extra")
            expected_bad.add(f"line:{start}")
        elif kind < 0.3 and blank:
            lines += [""] * rng.randrange(1, 3)
        elif kind < 0.35 and blank:
            lines.append("   ")
            expected_bad.add(f"line:{start}")
        elif kind < 0.55 and multiline:
            parts = [f"part {k}" for k in range(rng.randrange(1, 4))]
            if blank and rng.random() < 0.5:
                parts.insert(1, "")  # an empty line inside the quotes: not a blank line
            lines.append(f'P{n},p{n}@example.com,"{chr(10).join(parts)}"')
            expected_good[str(start)] = f"P{n}"
        else:
            lines.append(f"P{n},p{n}@example.com,plain")
            expected_good[str(start)] = f"P{n}"
    if blank:
        lines.append("")  # a blank last line
    prefix = b"\xef\xbb\xbf" if seed % 2 else b""
    path = tmp_path / "l.csv"
    path.write_bytes(prefix + ("\n".join(lines) + "\n").encode())
    rows, _ = read(path)
    assert {r["source_id"]: r["contact_name"] for r in good(rows)} == expected_good
    assert set(rejected(rows)) == expected_bad


@pytest.mark.parametrize("blanks", [0, 1, 2, 3])
def test_a_bad_line_after_blank_lines_is_reported_on_its_own_line(tmp_path, blanks):
    """DuckDB's offset of such a line is 1-based and its text starts with blank lines'
    newlines; the reported number is where the line itself is."""
    text = "id,email\n1,a@example.com\n" + "\n" * blanks + "b\n2,c@example.com\nc\n"
    rows, _ = read(write(tmp_path / "l.csv", text))
    assert set(rejected(rows)) == {f"line:{3 + blanks}", f"line:{5 + blanks}"}


def test_an_empty_id_after_blank_lines_is_reported_on_its_own_line(tmp_path):
    text = "id,email\n1,a@example.com\n\n\n,b@example.com\n2,c@example.com\n"
    rows, _ = read(write(tmp_path / "l.csv", text))
    assert [r["source_id"] for r in good(rows)] == ["1", "2"]
    assert rejected(rows) == {"line:5": "line 5: empty id (column 'id')"}


def test_a_one_column_file_reads_blank_lines_as_records_on_their_own_lines(tmp_path):
    """With one column DuckDB does not skip a blank line: it is a record (with nothing to
    send, so rejected as such), and it is not counted a second time as a skipped line."""
    text = 'Email\na@example.com\n\n"b@example.com\n"\nc@example.com\n'
    rows, _ = read(write(tmp_path / "l.csv", text))
    assert {r["source_id"]: r["contact_email"] for r in rows} == {
        "2": "a@example.com", "3": None, "4": "b@example.com\n", "6": "c@example.com"}


def test_a_line_the_reader_drops_without_a_reject_stops_the_read(tmp_path, monkeypatch):
    """If DuckDB ever loses a line silently (it did with a smaller read buffer), the line
    count does not add up: the read stops with a clear error before any record is given."""
    from leadbridge.connectors import files

    real = files.load_csv

    def losing(con, *args, **kwargs):
        read = real(con, *args, **kwargs)
        con.execute("DELETE FROM t WHERE rowid = 1")  # as if the reader had skipped it
        return read

    monkeypatch.setattr(files, "load_csv", losing)
    path = write(tmp_path / "l.csv", table())
    conn = files.CsvConnector(path=str(path))
    records = conn.records({})
    with pytest.raises(SourceDataError, match=r"1 line\(s\) were neither read nor rejected"):
        next(records)
    # with a blank line in the file the count takes the slower path, and still adds up
    path.write_text(table().replace("\n2,", "\n\n2,", 1))
    with pytest.raises(SourceDataError, match=r"1 line\(s\) were neither read nor rejected"):
        list(files.CsvConnector(path=str(path)).records({}))
    # after broken quoting (where DuckDB's recovery is the likely culprit) it says where
    path.write_text(table().replace("\n2,", '\n"x" y,z\n2,', 1))
    with pytest.raises(SourceDataError, match="follow the broken quoting at line 3"):
        list(files.CsvConnector(path=str(path)).records({}))
    monkeypatch.setattr(files, "load_csv", real)
    rows, _ = read(path)
    assert [r["source_id"] for r in good(rows)] == ["1", "2", "3"]
    assert set(rejected(rows)) == {"line:3"}


_PIECES = ["a", ",", ",", '"', '""', "\n", "\n", "\r\n", "\r", " ", "x@y.com", "é", "\t"]


# derandomized: the suite runs the same 150 files every time (raise max_examples locally
# for a deeper run); a new failure is then a change in the code, not a new draw
@settings(max_examples=150, deadline=None, derandomize=True)
@given(body=st.lists(st.sampled_from(_PIECES), max_size=60).map("".join))
@example(body='""a,""aa')  # DuckDB rejected this one line twice (two offsets)
@example(body='""a,""a,,')  # ... and this one both rejected and read as a record
def test_any_mangled_file_reads_or_fails_cleanly_and_never_loses_a_line(tmp_path_factory,
                                                                      body):
    """Random quotes, delimiters and line ends: either a clean SourceError (never another
    exception) or every record with its own, real start line (no id column)."""
    path = tmp_path_factory.mktemp("m") / "m.csv"
    path.write_bytes(("Name,Email,Notes\n" + body).encode())
    try:
        rows, _ = read(path)
    except SourceError:
        return
    physical = len(body.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")) + 1
    starts = [int(r["source_id"].removeprefix("line:")) for r in rows]
    assert len(starts) == len(set(starts))
    assert all(2 <= line <= physical for line in starts)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=60).map(lambda b: bytes(b"a\n\",x"[c % 4] for c in b)),
       after=st.integers(0, 3), chunk=st.sampled_from([1, 2, 3, 7, 1 << 20]))
def test_empty_lines_are_found_with_the_quotes_before_them(tmp_path_factory, data, after,
                                                           chunk):
    from leadbridge.connectors._csv_read import empty_lines

    lines = data.split(b"\n") if data else []
    if data.endswith(b"\n"):
        lines.pop()
    expected, quotes = [], 0
    for number, line in enumerate(lines, 1):
        if number > after:
            if line == b"":
                expected.append((number, quotes % 2 == 1))
            quotes += line.count(b'"')
    path = tmp_path_factory.mktemp("e") / "x"
    path.write_bytes(data)
    assert empty_lines(path, after, chunk) == expected


def test_byte_offsets_become_line_numbers_across_chunk_borders(tmp_path):
    from leadbridge.connectors._csv_read import _lines_at

    data = b"a\nbb\n\nccc\nd\n" * 7
    path = tmp_path / "x"
    path.write_bytes(data)
    offsets = sorted({0, 1, 2, 5, 6, 17, 30, len(data) - 1, len(data)})
    expected = [data[:o].count(b"\n") + 1 for o in offsets]
    for chunk in (1, 3, 7, 1 << 20):
        assert _lines_at(path, offsets, chunk) == expected


def test_a_second_phone_or_email_column_fills_in_where_the_first_is_empty(tmp_path):
    text = ("id,Phone,Mobile,Email,Work Email\n"
            "1,555-0100,555-0199,a@example.com,\n"
            "2,,555-0200,,b@work.example.com\n"
            "3,  ,,,\n")
    rows, conn = read(write(tmp_path / "l.csv", text))
    got = by_id(rows)
    assert (got["1"]["contact_phone"], got["1"]["contact_email"]) == ("555-0100", "a@example.com")
    assert (got["2"]["contact_phone"], got["2"]["contact_email"]) == (
        "555-0200", "b@work.example.com")
    assert got["3"]["contact_phone"] is None and got["3"]["contact_email"] is None
    assert got["1"]["custom"]["Mobile"] == "555-0199"  # still kept as it was
    assert "used where that one is empty" in dict((h, how) for h, _, how in
                                                  conn.header_mapping)["Mobile"]


def test_raw_source_value_never_collides_with_a_custom_column(tmp_path):
    text = "id,Lead Source,Lead Source\n1,Zillow,second\n"
    rows, _ = read(write(tmp_path / "l.csv", text))
    assert rows[0]["custom"] == {"Lead Source": "second", "Lead Source (raw)": "Zillow"}
