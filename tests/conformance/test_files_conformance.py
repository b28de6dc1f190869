"""The file connectors: not incremental (every read is the whole file), so the suite skips
its two incremental checks for them and still checks that the state stays plain JSON."""

import json

import pytest

from leadbridge.connectors.files import CsvConnector, JsonlConnector
from leadbridge.testing import ConformanceSource, ConnectorConformance

ROWS = [
    {"id": "a1", "First Name": "Ann", "Last Name": "Lee", "E-mail": "ann@example.com",
     "Mobile": "(555) 555-0100", "Stage": "new", "Last Modified": "2026-03-01T10:00:00Z",
     "Favourite colour": "blue"},
    {"id": "b2", "First Name": "Bo", "Last Name": "Chen", "E-mail": "bo@example.com",
     "Mobile": "", "Stage": "contacted", "Last Modified": "2026-03-02T10:00:00Z",
     "Favourite colour": ""},
    {"id": "c3", "First Name": "Cy", "Last Name": "", "E-mail": "",
     "Mobile": "555.555.0102", "Stage": "", "Last Modified": "2026-03-03T10:00:00Z",
     "Favourite colour": "red, with a comma"},
]


def _csv(rows):
    def cell(v):
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v
    lines = [",".join(rows[0])] + [",".join(cell(r[k]) for k in rows[0]) for r in rows]
    return "\n".join(lines) + "\n"


class TestCsvConformance(ConnectorConformance):
    connector_class = CsvConnector
    incremental = False

    @pytest.fixture
    def conformance_source(self, tmp_path):
        path = tmp_path / "leads.csv"
        path.write_text(_csv(ROWS), encoding="utf-8")
        return ConformanceSource(options={"path": str(path)},
                                 refused_options={"path": str(tmp_path / "missing.csv")})


class TestJsonlConformance(ConnectorConformance):
    connector_class = JsonlConnector
    incremental = False

    @pytest.fixture
    def conformance_source(self, tmp_path):
        path = tmp_path / "leads.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
        return ConformanceSource(options={"path": str(path), "batch_size": 2},
                                 refused_options={"path": str(tmp_path)})  # a directory
