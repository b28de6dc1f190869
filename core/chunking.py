"""Bulk chunks: canonical bodies and idempotency keys derived from them.

The key is a hash of customer, endpoint and the exact body bytes, so a retry or a re-run of
the same chunk always reuses its key (MEGA replays the stored answer) and a chunk whose
content changed always gets a new key (MEGA can never answer 409 for it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .mega_model import BULK_ENDPOINT, BULK_MAX_ROWS, BULK_ROW_FIELDS, ON_DUPLICATE


def canonical_json(value: Any) -> bytes:
    """The one serialization used for bodies: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def idempotency_key(customer_id: str, endpoint: str, body: bytes,
                    row_ref: str | None = None) -> str:
    """``lb1-`` + sha256(customer, endpoint, body[, row_ref]): stable across retries and
    re-runs.

    ``row_ref``: the one golden row a single create is for. Two different rows can have the
    same create body (a name only, no email or phone: MEGA creates a lead for each), and
    a key made of the body alone would make MEGA replay the first answer for the second."""
    digest = hashlib.sha256()
    parts = (customer_id.encode(), endpoint.encode(), body)
    for part in parts + ((row_ref.encode(),) if row_ref is not None else ()):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return "lb1-" + digest.hexdigest()


def bulk_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the fields a BulkLeadRow may carry, dropping nulls and empty custom fields."""
    out: dict[str, Any] = {}
    for name in BULK_ROW_FIELDS:
        value = row.get(name)
        if value is None or value == "" or (name == "custom_fields" and not value):
            continue
        out[name] = value
    return out


@dataclass(frozen=True)
class Chunk:
    """One bulk request: its position, body bytes exactly as POSTed, and its key."""

    index: int
    body: bytes
    idempotency_key: str
    row_refs: tuple[str, ...]

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


def make_chunks(
    rows: Iterable[Mapping[str, Any]],
    *,
    customer_id: str,
    on_duplicate: str = "update",
    dry_run: bool = False,
    size: int = BULK_MAX_ROWS,
    first_index: int = 0,
) -> list[Chunk]:
    """Split rows (already in their deterministic order) into bulk chunks of ``size``,
    numbered from ``first_index`` (a caller cutting a long stream part by part)."""
    if on_duplicate not in ON_DUPLICATE:
        raise ValueError(f"on_duplicate must be one of {ON_DUPLICATE}")
    if not 1 <= size <= BULK_MAX_ROWS:
        raise ValueError(f"chunk size must be 1..{BULK_MAX_ROWS}")
    chunks: list[Chunk] = []
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        body: dict[str, Any] = {"leads": batch, "on_duplicate": on_duplicate}
        if dry_run:
            body["dry_run"] = True
        data = canonical_json(body)
        chunks.append(Chunk(
            index=first_index + len(chunks), body=data,
            idempotency_key=idempotency_key(customer_id, BULK_ENDPOINT, data),
            row_refs=tuple(r.get("row_ref", "") for r in batch),
        ))

    for row in rows:
        batch.append(bulk_row(row))
        if len(batch) == size:
            flush()
            batch = []
    if batch:
        flush()
    return chunks
