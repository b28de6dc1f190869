"""Check every value a run would send against what is known of the customer's MEGA setup.

Why before any request: a stage slug, owner id or enum value MEGA does not know fails the
row, and an unknown custom-field slug is silently ignored. Finding them offline, with counts
and examples, lets the user fix the mapping instead of learning it from thousands of failed
rows. What is known comes from the job file (``[target] stages/owners/custom_fields``), the
sandbox's configuration, a ``leadbridge pull`` snapshot (values in use) or a ``dry_run``
probe (``probe``), and each kind is checked only when something is known about it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .mega_model import BULK_MAX_ROWS, LEAD_LINES, SOURCE_PLATFORMS, SOURCE_TYPES

#: Kinds checked, in display order: bulk-row field -> what a problem is called.
KINDS: dict[str, str] = {
    "stage_slug": "stage_slug not in the customer's pipeline",
    "owner_id": "owner_id not on the customer's team",
    "source_platform": "source_platform not in MEGA's enum",
    "source_type": "source_type not in MEGA's enum",
    "lead_line": "lead_line not buyer/seller",
    "custom_fields": "custom-field slug MEGA does not define (it would be ignored)",
}
#: MEGA reserves this custom field for every customer (reference section 6).
RESERVED_CUSTOM_FIELDS: frozenset[str] = frozenset({"lead_line"})
EXAMPLES = 3
#: Custom fields the engine writes itself, and what to do about them.
ENGINE_FIELDS: dict[str, str] = {
    "source_owner": "owners without a MEGA owner_id land here: map them in [mapping.owners]",
    "phone_extension": "phone extensions land here: define the field in MEGA or accept "
                       "that MEGA ignores it",
    "household_phone": "household=separate writes it: define the field in MEGA",
}


@dataclass(frozen=True)
class MegaKnown:
    """What is known of one customer's MEGA side; ``None`` means unknown (not checked)."""

    stages: frozenset[str] | None = None
    owners: frozenset[str] | None = None
    custom_fields: frozenset[str] | None = None
    #: kind -> where the knowledge came from (shown to the user)
    origin: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, stages: Collection[str] | None = None, owners: Collection[str] | None = None,
           custom_fields: Collection[str] | None = None, origin: str = "given") -> MegaKnown:
        sets = {"stages": stages, "owners": owners, "custom_fields": custom_fields}
        return cls(**{k: (None if v is None else frozenset(v)) for k, v in sets.items()},
                   origin={k: origin for k, v in sets.items() if v is not None})

    def merged(self, other: MegaKnown) -> MegaKnown:
        """Union per kind; a kind unknown on both sides stays unknown."""
        out: dict[str, Any] = {}
        origin = dict(self.origin)
        for kind in ("stages", "owners", "custom_fields"):
            a, b = getattr(self, kind), getattr(other, kind)
            out[kind] = a if b is None else (b if a is None else a | b)
            if b is not None:
                origin[kind] = " + ".join(x for x in (self.origin.get(kind),
                                                      other.origin.get(kind)) if x)
        return MegaKnown(**out, origin=origin)


    def extended(self, extra: MegaKnown) -> MegaKnown:
        """Add ``extra``'s values to the kinds already known (a snapshot only lists values in
        use, so it may widen a list but never makes a kind checked on its own)."""
        out: dict[str, Any] = {}
        for kind in ("stages", "owners", "custom_fields"):
            a, b = getattr(self, kind), getattr(extra, kind)
            out[kind] = a if a is None or b is None else a | b
        return MegaKnown(**out, origin=dict(self.origin))


@dataclass
class Problem:
    """One value that would be sent but is not known, with how many rows carry it."""

    kind: str
    value: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Validation:
    """The outcome of ``validate``: problems per kind, and which kinds were checked."""

    rows: int = 0
    checked: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def rows_affected(self, kind: str) -> int:
        return sum(p.count for p in self.problems if p.kind == kind)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "checked": self.checked, "not_checked": self.not_checked,
                "problems": [{"kind": p.kind, "value": p.value, "rows": p.count,
                              "examples": p.examples} for p in self.problems]}

    def lines(self, limit: int = 10) -> list[str]:
        """Human lines: one per kind with problems, its values with counts and examples."""
        out: list[str] = []
        for kind, title in KINDS.items():
            mine = [p for p in self.problems if p.kind == kind]
            if not mine:
                continue
            out.append(f"{title}: {len(mine)} value(s) in {self.rows_affected(kind)} row(s)")
            for p in mine[:limit]:
                hint = ENGINE_FIELDS.get(p.value) if kind == "custom_fields" else None
                out.append(f"  {p.value!r}: {p.count} row(s), e.g. {', '.join(p.examples)}"
                           + (f" ({hint})" if hint else ""))
            if len(mine) > limit:
                out.append(f"  ... and {len(mine) - limit} more value(s)")
        if self.not_checked:
            out.append("not checked (nothing known of MEGA's side): "
                       + ", ".join(self.not_checked))
        return out


def validate(rows: Iterable[Mapping[str, Any]], known: MegaKnown) -> Validation:
    """Check the bulk rows a run would send (``stage_slug``, ``owner_id``, enums, custom-field
    slugs). Rows are bulk-row dicts as the planner builds them (custom_fields a dict)."""
    allowed: dict[str, frozenset[str] | None] = {
        "stage_slug": known.stages,
        "owner_id": known.owners,
        "source_platform": frozenset(SOURCE_PLATFORMS),
        "source_type": frozenset(SOURCE_TYPES),
        "lead_line": frozenset(LEAD_LINES),
        "custom_fields": (None if known.custom_fields is None
                          else known.custom_fields | RESERVED_CUSTOM_FIELDS),
    }
    result = Validation(checked=[k for k, v in allowed.items() if v is not None],
                        not_checked=[k for k, v in allowed.items() if v is None])
    found: dict[tuple[str, str], Problem] = {}

    def note(kind: str, value: str, ref: str) -> None:
        problem = found.get((kind, value))
        if problem is None:
            problem = found[(kind, value)] = Problem(kind, value)
        problem.count += 1
        if len(problem.examples) < EXAMPLES:
            problem.examples.append(ref)

    for i, row in enumerate(rows):
        result.rows += 1
        ref = str(row.get("row_ref") or f"row {i + 1}")
        for kind, ok in allowed.items():
            if ok is None:
                continue
            if kind == "custom_fields":
                for slug in (row.get("custom_fields") or {}):
                    if slug not in ok:
                        note(kind, str(slug), ref)
                continue
            value = row.get(kind)
            if value is not None and value != "" and value not in ok:
                note(kind, str(value), ref)
    kinds = list(KINDS)
    result.problems = sorted(found.values(),
                             key=lambda p: (kinds.index(p.kind), -p.count, p.value))
    return result


def known_from_snapshot(con: Any, customer_id: str) -> MegaKnown:
    """Stage slugs, owner ids and custom-field slugs in use on the customer's pulled leads.

    Only what is in use: a stage no lead sits in is not listed, so a snapshot adds to what is
    known but never alone proves a value wrong (``validate`` callers merge it into lists).
    """
    from .pipeline import pull

    pull.ensure(con)
    stages = {r[0] for r in con.execute(
        "SELECT DISTINCT stage_slug FROM mega_leads WHERE customer_id = ? AND stage_slug "
        "IS NOT NULL", [customer_id]).fetchall()}
    owners = {r[0] for r in con.execute(
        "SELECT DISTINCT owner_id FROM mega_leads WHERE customer_id = ? AND owner_id "
        "IS NOT NULL", [customer_id]).fetchall()}
    slugs = {r[0] for r in con.execute(
        "SELECT DISTINCT unnest(json_keys(custom_fields)) FROM mega_leads WHERE customer_id = ? "
        "AND json_valid(custom_fields) AND json_type(custom_fields) = 'OBJECT'",
        [customer_id]).fetchall()}
    return MegaKnown.of(stages, owners, slugs, origin="pull snapshot")


PROBE_NAME = "leadbridge mapping probe"


@dataclass(frozen=True)
class ProbeResult:
    """Which candidates MEGA knows (``known``) and which it refused (``unknown``), per kind."""

    known: MegaKnown
    unknown: Mapping[str, frozenset[str]]


def probe(client: Any, *, stages: Iterable[str] = (), owners: Iterable[str] = (),
          custom_fields: Iterable[str] = ()) -> ProbeResult:
    """Ask MEGA which candidate values it knows, with one ``dry_run`` bulk request.

    Nothing is written (dry_run). One row per candidate stage and owner (a row fails when
    the value is unknown) and one row carrying every candidate custom-field slug (MEGA lists
    the ones it ignores in ``unknown_custom_fields``). The answer covers only the candidates
    asked about, so ``known`` lists a kind only when candidates of it were sent.
    """
    stage_list, owner_list = sorted(set(stages)), sorted(set(owners))
    slugs = sorted(set(custom_fields) - RESERVED_CUSTOM_FIELDS)
    rows: list[dict[str, Any]] = []
    if slugs:
        rows.append({"row_ref": "probe:fields", "contact_name": PROBE_NAME,
                     "custom_fields": {s: "probe" for s in slugs}})
    rows += [{"row_ref": f"probe:stage:{i}", "contact_name": PROBE_NAME, "stage_slug": s}
             for i, s in enumerate(stage_list)]
    rows += [{"row_ref": f"probe:owner:{i}", "contact_name": PROBE_NAME, "owner_id": o}
             for i, o in enumerate(owner_list)]
    if not rows:
        return ProbeResult(MegaKnown(), {})
    if len(rows) > BULK_MAX_ROWS:
        from .errors import ConfigError

        raise ConfigError(f"the probe would need {len(rows)} rows (more than "
                          f"{BULK_MAX_ROWS}): name fewer candidate stages and owners")
    answer = client.bulk_import(rows, dry_run=True)
    failed = {r.get("row_ref") for r in answer.get("results") or []
              if r.get("status") == "failed"}
    ignored = set(answer.get("unknown_custom_fields") or [])
    bad_stages = {s for i, s in enumerate(stage_list) if f"probe:stage:{i}" in failed}
    bad_owners = {o for i, o in enumerate(owner_list) if f"probe:owner:{i}" in failed}
    known = MegaKnown.of(
        (set(stage_list) - bad_stages) if stage_list else None,
        (set(owner_list) - bad_owners) if owner_list else None,
        (set(slugs) - ignored) if slugs else None, origin="dry_run probe")
    return ProbeResult(known, {"stages": frozenset(bad_stages), "owners": frozenset(bad_owners),
                               "custom_fields": frozenset(ignored & set(slugs))})
