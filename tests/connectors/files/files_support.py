"""Helpers for the file-connector tests: read a file through a connector into plain rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from leadbridge.connectors.files import CsvConnector, JsonlConnector
from leadbridge.records import to_batches


def read(path: Path, kind: str = "csv", **options: Any) -> tuple[list[dict[str, Any]], Any]:
    """(canonical rows with custom_fields decoded, the connector) for one file."""
    cls = CsvConnector if kind == "csv" else JsonlConnector
    conn = cls(path=str(path), **options)
    table = pa.Table.from_batches(list(to_batches(conn.records({}))))
    rows = table.to_pylist()
    for row in rows:
        row["custom"] = json.loads(row["custom_fields"]) if row["custom_fields"] else {}
    return rows, conn


def good(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((r for r in rows if r["reject_reason"] is None), key=lambda r: r["source_id"])


def rejected(rows: list[dict[str, Any]]) -> dict[str, str]:
    """source_id -> reason of every rejected record."""
    return {r["source_id"]: r["reject_reason"] for r in rows if r["reject_reason"] is not None}


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["source_id"]: r for r in rows}
