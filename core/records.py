"""The canonical record every connector yields, and its Arrow schema.

A connector yields plain dicts or ``pyarrow.RecordBatch``es with these fields. Only
``source_id`` is required; everything else may be missing or null. The host adds ``source``
(the connector's name, or the label the user gave the run).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pyarrow as pa

#: Canonical field -> Arrow type. Timestamps travel as ISO-8601 text and are parsed once,
#: in SQL, at staging; custom fields travel as a JSON object text so any source fits.
CANONICAL_FIELDS: dict[str, pa.DataType] = {
    "source_id": pa.string(),
    "contact_name": pa.string(),
    "first_name": pa.string(),
    "last_name": pa.string(),
    "contact_email": pa.string(),
    "contact_phone": pa.string(),
    "emails": pa.list_(pa.string()),
    "phones": pa.list_(pa.string()),
    "source_platform": pa.string(),
    "source_type": pa.string(),
    "stage": pa.string(),
    "owner": pa.string(),
    "lead_line": pa.string(),
    "custom_fields": pa.string(),
    "created_at": pa.string(),
    "updated_at": pa.string(),
    # Set by a connector for a record it read but cannot use (malformed line, bad bytes):
    # the record is staged, never clustered, and ends as `rejected` with this reason.
    "reject_reason": pa.string(),
    # Set by a connector when the source reports the record deleted or archived.
    "deleted": pa.bool_(),
}

CANONICAL_SCHEMA = pa.schema([pa.field(name, typ) for name, typ in CANONICAL_FIELDS.items()])

REQUIRED_FIELDS = ("source_id",)


def _cell(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "custom_fields":
        if isinstance(value, str):
            return value
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if name in ("emails", "phones"):
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value if v is not None]
    if name == "deleted":
        return bool(value)
    return value if isinstance(value, str) else str(value)


def dicts_to_batch(records: Iterable[Mapping[str, Any]]) -> pa.RecordBatch:
    """Convert canonical dicts to one RecordBatch with CANONICAL_SCHEMA (unknown keys dropped)."""
    rows = list(records)
    columns = [
        pa.array([_cell(name, r.get(name)) for r in rows], type=typ)
        for name, typ in CANONICAL_FIELDS.items()
    ]
    return pa.RecordBatch.from_arrays(columns, schema=CANONICAL_SCHEMA)


def conform_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Give a connector's RecordBatch exactly CANONICAL_SCHEMA: add missing columns as
    nulls, cast the rest, drop unknown ones."""
    columns = []
    for name, typ in CANONICAL_FIELDS.items():
        idx = batch.schema.get_field_index(name)
        if idx < 0:
            columns.append(pa.nulls(batch.num_rows, type=typ))
        else:
            col = batch.column(idx)
            columns.append(col if col.type == typ else col.cast(typ))
    return pa.RecordBatch.from_arrays(columns, schema=CANONICAL_SCHEMA)


def to_batches(
    items: Iterable[Mapping[str, Any] | pa.RecordBatch], batch_size: int = 10_000
) -> Iterator[pa.RecordBatch]:
    """Turn a connector's mixed stream of dicts and batches into canonical RecordBatches."""
    pending: list[Mapping[str, Any]] = []
    for item in items:
        if isinstance(item, pa.RecordBatch):
            if pending:
                yield dicts_to_batch(pending)
                pending = []
            yield conform_batch(item)
        else:
            pending.append(item)
            if len(pending) >= batch_size:
                yield dicts_to_batch(pending)
                pending = []
    if pending:
        yield dicts_to_batch(pending)
