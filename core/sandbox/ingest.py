"""Create-or-merge of incoming rows, exactly per core/mega_model.py.

Used by both write endpoints: the bulk import applies up to 500 rows in array order inside
one transaction, the single create applies one. A later row sees the leads created or changed
by earlier rows of the same request; a dry run runs the same code and throws the result away.
Callers hold ``Store.lock`` for the whole of ``Transaction``'s life.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..mega_model import (
    CONTACT_FIELDS,
    DEFAULT_SOURCE_PLATFORM,
    DEFAULT_SOURCE_TYPE_BULK,
    LEAD_LINES,
    NEW_LEAD_STATUS,
    NO_CONTACT_MESSAGE,
    SOURCE_PLATFORMS,
    SOURCE_TYPES,
    email_key,
    find_match,
    is_empty,
    is_valid_email,
    mega_phone_key,
    merge_fields,
)
from .config import SandboxConfig
from .store import Lead, Store

#: Fields compared to decide whether a merge changed anything (timestamps excluded).
_CONTENT = ("contact_name", "contact_phone", "contact_email", "source_platform", "source_type",
            "stage_slug", "owner_id", "custom_fields")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Row:
    """One validated incoming row: the lead fields it carries, or why it fails."""

    row_ref: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool, int, float))


def validate_row(raw: Any, config: SandboxConfig, *, bulk: bool) -> Row:
    """Check one row against the customer's pipeline, team and custom-field definitions.

    Every problem is collected (a row may fail for several reasons at once). Unknown
    custom-field slugs never fail a row: they are ignored and reported.
    """
    if not isinstance(raw, dict):
        return Row(None, errors=["row must be a JSON object"])
    row_ref = raw.get("row_ref") if bulk else None
    row = Row(row_ref if isinstance(row_ref, str) else None)
    if bulk and row_ref is not None and not isinstance(row_ref, str):
        row.errors.append("row_ref must be a string")
    out = row.fields
    for name in (*CONTACT_FIELDS, "source_platform", "source_type", "stage_slug",
                 *(("owner_id", "lead_line") if bulk else ())):
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            row.errors.append(f"{name} must be a string")
        elif not is_empty(value):
            out[name] = value
    if not any(name in out for name in CONTACT_FIELDS):
        row.errors.append(NO_CONTACT_MESSAGE)
    if "contact_email" in out and not is_valid_email(out["contact_email"]):
        row.errors.append(f"contact_email is not a valid email address: {out['contact_email']!r}")
    if "source_platform" in out and out["source_platform"] not in SOURCE_PLATFORMS:
        row.errors.append(f"source_platform {out['source_platform']!r} is not one of "
                          f"{', '.join(SOURCE_PLATFORMS)}")
    if "source_type" in out and out["source_type"] not in SOURCE_TYPES:
        row.errors.append(f"source_type {out['source_type']!r} is not one of "
                          f"{', '.join(SOURCE_TYPES)}")
    if "stage_slug" in out and out["stage_slug"] not in config.stages:
        row.errors.append(f"Stage not found: {out['stage_slug']}")
    if "owner_id" in out and out["owner_id"] not in config.owners:
        row.errors.append(f"owner_id {out['owner_id']} is not a member of this customer's team")
    custom = raw.get("custom_fields")
    fields: dict[str, Any] = {}
    if custom is not None:
        if not isinstance(custom, dict) or not all(_scalar(v) for v in custom.values()):
            row.errors.append("custom_fields must be an object of scalar values")
        else:
            defined = config.defined_custom_fields
            for slug, value in custom.items():
                if slug in defined:
                    fields[slug] = value
                elif slug not in row.ignored:
                    row.ignored.append(slug)
    line = out.pop("lead_line", None)
    if line is not None:  # the top-level field wins over custom_fields.lead_line
        fields["lead_line"] = line
    if fields.get("lead_line") is not None and fields["lead_line"] not in LEAD_LINES:
        row.errors.append(f"lead_line {fields['lead_line']!r} is not one of "
                          f"{', '.join(LEAD_LINES)}")
    if fields:
        out["custom_fields"] = fields
    return row


@dataclass
class Outcome:
    status: str
    lead_id: str | None
    matched_by: str | None
    lead: Lead | None = None


class _Index(Mapping[str, str]):
    """A match-key index over committed leads overlaid with this transaction's changes."""

    def __init__(self, txn: Transaction, kind: str) -> None:
        self._txn, self._kind = txn, kind

    def __getitem__(self, key: str) -> str:
        ids = self._txn.holders(self._kind, key)
        if not ids:
            raise KeyError(key)
        return min(ids, key=self._txn.seq_of)

    def __contains__(self, key: object) -> bool:
        return bool(self._txn.holders(self._kind, key))  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[str]:  # not needed by find_match
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class Transaction:
    """Rows applied in order against committed state plus earlier rows' changes."""

    def __init__(self, store: Store, config: SandboxConfig, customer_id: str,
                 *, source_type: str) -> None:
        self.store, self.config, self.customer_id = store, config, customer_id
        self.default_source_type = source_type
        self.now = now_ms()
        self.working: dict[str, Lead] = {}
        self.created: set[str] = set()
        self._seq: dict[str, int] = {}
        self._keys: dict[str, tuple[str | None, str | None]] = {}
        # key -> ids of working leads holding it, per kind (email, phone)
        self._holding: tuple[dict[str, set[str]], dict[str, set[str]]] = ({}, {})

    # --- overlay index ---------------------------------------------------------------

    def seq_of(self, lead_id: str) -> int:
        return self._seq.get(lead_id) or self.store.seq_of(lead_id)

    def holders(self, kind: str, key: str) -> set[str]:
        slot = 0 if kind == "email" else 1
        ids = {i for i in self.store.holders(self.customer_id, kind, key)
               if i not in self.working}
        ids.update(self._holding[slot].get(key, ()))
        return ids

    def _stage(self, lead: Lead) -> None:
        lead_id = lead["id"]
        self.working[lead_id] = lead
        self._seq[lead_id] = lead["seq"]
        old = self._keys.get(lead_id, (None, None))
        new = (email_key(lead.get("contact_email")), mega_phone_key(lead.get("contact_phone")))
        self._keys[lead_id] = new
        for slot in (0, 1):
            if old[slot] is not None:
                self._holding[slot][old[slot]].discard(lead_id)
            if new[slot] is not None:
                self._holding[slot].setdefault(new[slot], set()).add(lead_id)

    def _lead(self, lead_id: str) -> Lead:
        lead = self.working.get(lead_id)
        if lead is None:
            lead = self.store.get(self.customer_id, lead_id)
            assert lead is not None
        return lead

    # --- applying rows -----------------------------------------------------------------

    def apply(self, row: Row, on_duplicate: str = "update") -> Outcome:
        incoming = row.fields
        lead_id, matched_by = find_match(
            incoming.get("contact_email"), incoming.get("contact_phone"),
            _Index(self, "email"), _Index(self, "phone"))
        if lead_id is None:
            lead = self._new_lead(incoming)
            self._stage(lead)
            self.created.add(lead["id"])
            return Outcome("created", lead["id"], None, lead)
        stored = self._lead(lead_id)
        if on_duplicate == "skip":
            return Outcome("skipped", lead_id, matched_by, stored)
        merged = merge_fields(stored, incoming)
        if any(merged.get(f) != stored.get(f) for f in _CONTENT):
            merged["updated_ms"] = max(self.now, stored["updated_ms"])
            self._stage(merged)
        return Outcome("updated", lead_id, matched_by, merged)

    def _new_lead(self, incoming: Mapping[str, Any]) -> Lead:
        custom = {k: v for k, v in (incoming.get("custom_fields") or {}).items()
                  if not is_empty(v)}
        return {
            "id": str(uuid.uuid4()),
            "customer_id": self.customer_id,
            "seq": self.store.next_seq(),
            "contact_name": incoming.get("contact_name"),
            "contact_phone": incoming.get("contact_phone"),
            "contact_email": incoming.get("contact_email"),
            "source_platform": incoming.get("source_platform", DEFAULT_SOURCE_PLATFORM),
            "source_type": incoming.get("source_type", self.default_source_type),
            "status": NEW_LEAD_STATUS,
            "stage_slug": incoming.get("stage_slug"),
            "owner_id": incoming.get("owner_id"),
            "custom_fields": custom,
            "score": None,
            "qualified": None,
            "last_interaction_ms": None,
            "interaction_count": 0,
            "created_ms": self.now,
            "updated_ms": self.now,
        }

    def changes(self) -> list[Lead]:
        return list(self.working.values())


def apply_bulk(store: Store, config: SandboxConfig, customer_id: str, rows: Sequence[Any],
               on_duplicate: str, dry_run: bool) -> tuple[dict[str, Any], list[Lead]]:
    """Run a bulk import; returns (BulkImportResponse body, leads to commit)."""
    txn = Transaction(store, config, customer_id, source_type=DEFAULT_SOURCE_TYPE_BULK)
    results: list[dict[str, Any]] = []
    unknown: list[str] = []
    summary = {"total": len(rows), "created": 0, "updated": 0, "skipped": 0, "failed": 0}
    for raw in rows:
        row = validate_row(raw, config, bulk=True)
        if row.errors:
            result: dict[str, Any] = {"row_ref": row.row_ref, "status": "failed",
                                      "lead_id": None, "matched_by": None,
                                      "errors": row.errors}
        else:
            outcome = txn.apply(row, on_duplicate)
            lead_id = outcome.lead_id
            if dry_run and lead_id in txn.created:
                lead_id = None  # a lead that would be created has no id yet
            result = {"row_ref": row.row_ref, "status": outcome.status, "lead_id": lead_id,
                      "matched_by": outcome.matched_by, "errors": None}
        if row.ignored:
            result["ignored_custom_fields"] = row.ignored
            unknown.extend(s for s in row.ignored if s not in unknown)
        summary[result["status"]] += 1
        results.append(result)
    body = {"dry_run": dry_run, "summary": summary, "results": results,
            "unknown_custom_fields": unknown}
    return body, ([] if dry_run else txn.changes())
