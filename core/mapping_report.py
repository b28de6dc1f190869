"""What applying a mapping did: counts per outcome and the values it could not map.

Why: nothing may be guessed silently. Every value that had no mapping is counted here, with
an example record, whatever the policy did with it (omit, default, reject), so the user can
see it and decide in the job file.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: Outcome of one column of one record. Per column they add up to ``records``.
STATUSES: tuple[str, ...] = ("mapped", "passed", "dropped", "defaulted", "omitted",
                             "rejected", "empty")
#: Columns the report follows, in display order.
KINDS: tuple[str, ...] = ("stage", "owner", "lead_line", "source_platform", "source_type")
#: Distinct unmapped values remembered per column (the rest are only counted).
MAX_VALUES = 200


@dataclass
class Unmapped:
    """One value with no mapping: how many records held it, and one of their source_ids."""

    count: int
    example: str | None


@dataclass
class MappingReport:
    """Filled while ``apply_mapping`` runs; read it after the stream is consumed."""

    records: int = 0
    rejected: int = 0
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    unmapped: dict[str, dict[str, Unmapped]] = field(default_factory=dict)
    unmapped_more: Counter[str] = field(default_factory=Counter)
    unmapped_fields: dict[str, Unmapped] = field(default_factory=dict)
    unmapped_fields_action: str = "keep"
    defaults_filled: Counter[str] = field(default_factory=Counter)
    #: source fields the mapping reads (fields, transforms, lead-line rule), and those seen
    #: in at least one record: a misspelt name (`"Budgte"`) would otherwise map nothing,
    #: silently, while the real field is kept unmapped
    fields_read: set[str] = field(default_factory=set)
    fields_seen: set[str] = field(default_factory=set)

    # -- filled by mapping_apply ---------------------------------------------------------
    def add_counts(self, kind: str, counts: dict[str, int]) -> None:
        bucket = self.counts.setdefault(kind, Counter())
        for status, n in counts.items():
            if n:
                bucket[status] += n

    def add_unmapped(self, kind: str, rows: list[tuple[str, int, str | None]]) -> None:
        bucket = self.unmapped.setdefault(kind, {})
        for value, count, example in rows:
            seen = bucket.get(value)
            if seen is not None:
                seen.count += count
            elif len(bucket) < MAX_VALUES:
                bucket[value] = Unmapped(count, example)
            else:
                self.unmapped_more[kind] += count

    def add_unmapped_fields(self, rows: list[tuple[str, int, str | None]]) -> None:
        for key, count, example in rows:
            seen = self.unmapped_fields.get(key)
            if seen is not None:
                seen.count += count
            else:
                self.unmapped_fields[key] = Unmapped(count, example)

    # -- reading -------------------------------------------------------------------------
    @property
    def fields_missing(self) -> list[str]:
        """Source fields the mapping reads that no record of the source holds."""
        return sorted(self.fields_read - self.fields_seen) if self.records else []

    def count(self, kind: str, status: str) -> int:
        return self.counts.get(kind, Counter())[status]

    @property
    def clean(self) -> bool:
        """True when no value went unmapped and no record was rejected by the mapping."""
        return not self.rejected and not any(self.unmapped.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "rejected": self.rejected,
            "counts": {k: dict(sorted(v.items())) for k, v in self.counts.items()},
            "unmapped": {k: {val: {"count": u.count, "example_source_id": u.example}
                             for val, u in sorted(v.items(), key=lambda i: -i[1].count)}
                         for k, v in self.unmapped.items() if v},
            "unmapped_more": dict(self.unmapped_more),
            "unmapped_fields": {k: {"count": u.count, "example_source_id": u.example}
                                for k, u in sorted(self.unmapped_fields.items())},
            "unmapped_fields_action": self.unmapped_fields_action,
            "defaults_filled": dict(self.defaults_filled),
            "fields_missing": self.fields_missing,
        }

    def lines(self, examples: int = 5) -> list[str]:
        """A short human summary (what the CLI prints)."""
        out = [f"mapping: {self.records} records, {self.rejected} rejected by the mapping"]
        for kind in KINDS:
            counts = self.counts.get(kind)
            if not counts:
                continue
            shown = ", ".join(f"{s} {counts[s]}" for s in STATUSES if counts[s])
            out.append(f"  {kind}: {shown}")
            values = sorted(self.unmapped.get(kind, {}).items(), key=lambda i: -i[1].count)
            for value, u in values[:examples]:
                out.append(f"    unmapped {value!r}: {u.count} record(s), e.g. source_id "
                           f"{u.example}")
            if len(values) > examples:
                out.append(f"    ... and {len(values) - examples} more value(s)")
            if self.unmapped_more[kind]:
                out.append(f"    ... and {self.unmapped_more[kind]} record(s) with values past "
                           f"the first {MAX_VALUES} (counted, not listed)")
        if self.unmapped_fields:
            verb = "kept as custom fields" if self.unmapped_fields_action == "keep" else "omitted"
            keys = sorted(self.unmapped_fields.items(), key=lambda i: -i[1].count)
            shown = ", ".join(f"{k!r} ({u.count})" for k, u in keys[:examples])
            more = f" and {len(keys) - examples} more" if len(keys) > examples else ""
            out.append(f"  source fields not in [mapping.fields], {verb}: {shown}{more}")
        for name, n in sorted(self.defaults_filled.items()):
            out.append(f"  {name}: default filled on {n} record(s)")
        if self.fields_missing:
            out.append("  source fields the mapping reads that no record read holds (misspelt, "
                       "or yielded as a canonical field such as contact_email?): "
                       + ", ".join(map(repr, self.fields_missing)))
        return out
