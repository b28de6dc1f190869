"""A CSV file is read twice (a narrow first read, then every column streamed in batches):
each row must get its own values, line and id across batches, and a second read that does
not match the first (the file changed, or rows came in another order) must stop the read
before a row of the mismatched batch is given."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from files_support import rejected

from leadbridge.connectors import files
from leadbridge.errors import SourceDataError
from leadbridge.records import to_batches

ROWS = 5000  # with batch_size=1024: five batches in the second read
HEADER = "id,email,lead source,color,shoe"


def _lines(n: int = ROWS) -> list[str]:
    """Row i on line i + 1: its own email and properties; 'lead source' (a MEGA value list,
    so a column of the narrow first read) is Facebook or a value MEGA does not know."""
    return [HEADER] + [f"{i},u{i}@example.com,{'Facebook' if i % 3 else 'bogus'},c{i % 7},{i}"
                       for i in range(1, n + 1)]


def _expected(row: dict, i: int) -> None:
    """``row`` holds exactly row i's values."""
    custom = json.loads(row["custom_fields"])
    custom.pop("ref", None)
    assert row["contact_email"] == f"u{i}@example.com"
    assert row["source_platform"] == ("meta_ads" if i % 3 else None)
    assert custom == {"color": f"c{i % 7}", "shoe": str(i),
                      "lead source": None if i % 3 else "bogus"}


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _spy_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the size of every batch of the second read."""
    sizes: list[int] = []
    real = files.stream_csv

    def counting(*args, **kwargs):
        for batch in real(*args, **kwargs):
            sizes.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(files, "stream_csv", counting)
    return sizes


def _rows(items: list) -> list[dict]:
    """Canonical rows (reject_reason included) of what the connector gave."""
    batches = list(to_batches(items))
    return pa.Table.from_batches(batches).to_pylist() if batches else []


@pytest.mark.parametrize("id_column", ["id", "ref"])
def test_every_row_keeps_its_own_values_line_and_id_across_batches(tmp_path, monkeypatch,
                                                                   id_column):
    lines = _lines()
    lines[0] = lines[0].replace("id", id_column, 1)  # "ref" is no id: lines are the ids
    lines[11] = "10,dup@example.com,Facebook,c0,dup"  # line 12: id 10 again (no row 11)
    lines[2000] = ",empty@example.com,Facebook,c0,empty"  # line 2001: an empty id
    lines.insert(3000, "")  # line 3001 is blank: rows from 3000 on sit two lines down
    sizes = _spy_batches(monkeypatch)
    conn = files.CsvConnector(path=str(_write(tmp_path / "l.csv", lines)), batch_size=1024)
    rows = _rows(list(conn.records({})))

    assert len(sizes) >= 4 and sum(sizes) == ROWS  # several batches, every data row streamed
    good = {r["source_id"]: r for r in rows if r.get("reject_reason") is None}
    odd = {"dup", "empty"}  # the edited lines' rows: checked on their own below
    if id_column == "id":
        assert rejected(rows) == {
            "line:11": 'line 11: duplicate id "10": line 12 has the same id and is kept',
            "line:2001": "line 2001: empty id (column 'id')"}
        assert len(good) == ROWS - 2
        assert good["10"]["contact_email"] == "dup@example.com"
        for source_id, row in good.items():
            if json.loads(row["custom_fields"])["shoe"] not in odd:
                _expected(row, int(source_id))
    else:
        assert rejected(rows) == {}
        assert len(good) == ROWS
        assert good["12"]["contact_email"] == "dup@example.com"
        assert good["2001"]["contact_email"] == "empty@example.com"
        for source_id, row in good.items():
            line = int(source_id)
            if json.loads(row["custom_fields"])["shoe"] not in odd:
                _expected(row, line - 1 if line < 3001 else line - 2)


def _changing(monkeypatch: pytest.MonkeyPatch, change) -> None:
    """The second read sees what ``change(batch)`` makes of each batch (or of the file)."""
    real = files.stream_csv

    def second_read(con, read, rows):
        for batch in real(con, read, rows):
            yield change(batch)

    monkeypatch.setattr(files, "stream_csv", second_read)


def _given_before_the_stop(path: Path) -> tuple[list[dict], str]:
    """(the rows given before the read stopped, each checked to be right; why it stopped)."""
    given: list = []
    with pytest.raises(SourceDataError) as err:
        for item in files.CsvConnector(path=str(path), batch_size=1024).records({}):
            given.append(item)
    rows = _rows(given)
    for row in rows:
        _expected(row, int(row["source_id"]))
    return rows, str(err.value)


def test_a_value_changed_between_the_reads_stops_before_its_batch(tmp_path, monkeypatch):
    path = _write(tmp_path / "l.csv", _lines())
    seen = {"n": 0}

    def edit_third(batch: pa.RecordBatch) -> pa.RecordBatch:
        seen["n"] += 1
        if seen["n"] != 3:
            return batch
        shoes = batch.column(4).to_pylist()
        shoes[5] = "edited"
        return batch.set_column(4, batch.schema.field(4), pa.array(shoes))

    _changing(monkeypatch, edit_third)
    given, why = _given_before_the_stop(path)
    assert len(given) == 2048  # the first two batches, not a row of the third
    assert "read differently the second time (records 2049-3072)" in why


def test_rows_in_another_order_in_the_second_read_are_caught(tmp_path, monkeypatch):
    path = _write(tmp_path / "l.csv", _lines())

    def swap(batch: pa.RecordBatch) -> pa.RecordBatch:
        order = list(range(batch.num_rows))
        order[0], order[1] = order[1], order[0]
        return batch.take(pa.array(order))

    _changing(monkeypatch, swap)
    given, why = _given_before_the_stop(path)
    assert given == [] and "records 1-1024" in why


@pytest.mark.parametrize("extra", [7, -7])
def test_a_file_that_grew_or_shrank_between_the_reads_stops(tmp_path, monkeypatch, extra):
    path = _write(tmp_path / "l.csv", _lines())
    real = files.stream_csv

    def rewritten(con, read, rows):
        _write(path, _lines(ROWS + extra))  # same rows, more or fewer of them
        yield from real(con, read, rows)

    monkeypatch.setattr(files, "stream_csv", rewritten)
    given, why = _given_before_the_stop(path)
    if extra > 0:  # the last batch goes past the first read's rows: none of it is given
        assert len(given) == 4096 and "records 4097-5007" in why
    else:  # every row given is right, and the read still stops: the file is short of rows
        assert len(given) == ROWS + extra and "4993 records instead of the first read's" in why


def test_a_read_left_half_way_closes_its_second_read_while_the_connection_is_open(
        tmp_path, monkeypatch):
    """Staging may stop after a batch (an error, a stop): the second read's cursor is closed
    first, while the connector's connection and temp folder still exist."""
    path = _write(tmp_path / "l.csv", _lines())
    real = files.stream_csv
    seen: dict[str, object] = {}

    def watched(con, read, rows):
        try:
            yield from real(con, read, rows)
        finally:
            try:
                seen["connection open"] = con.execute("SELECT 42").fetchall() == [(42,)]
            except Exception as exc:  # noqa: BLE001 - a closed connection says so
                seen["connection open"] = repr(exc)

    monkeypatch.setattr(files, "stream_csv", watched)
    records = files.CsvConnector(path=str(path), batch_size=1024).records({})
    first = next(records)
    assert first.num_rows == 1024
    records.close()
    assert seen == {"connection open": True}
