"""The mapping a job file declares: what each source field, stage, owner and line becomes.

Why a model of its own: the job file is written by people (or proposed by ``leadbridge map``
and then edited), so every mistake must be found at load time, all at once, before a record
is read. Nothing here touches data; ``mapping_apply`` does that.

Job-file shape (``[mapping.*]`` sections; see docs/mapping.md)::

    [mapping.fields]            # source field -> canonical field, "custom:slug", or "-" (drop)
    "Budget ($)" = "custom:budget"
    [mapping.fields_policy]     # source custom fields not listed above: keep as-is, or omit
    unmapped = "keep"
    [mapping.stages]            # source stage value -> MEGA stage slug ("-" = send no stage)
    salesqualifiedlead = "qualified"
    [mapping.stages_policy]     # unmapped = omit | default | reject; missing = omit | default
    unmapped = "default"
    default = "new"
    [mapping.owners]            # source owner id or email -> MEGA owner_id
    "ana@agency.com" = "3f1c...uuid"
    [mapping.lead_line]         # from = field | tag | stage
    from = "field"
    field = "Type"
    buyer = ["Buyer"]
    seller = ["Seller", "Listing"]
    [mapping.defaults]          # fill when empty after mapping
    source_platform = "hubspot"
    source_type = "import"
    [[mapping.transforms]]      # join | first_non_empty | trim | constant
    op = "join"
    fields = ["First Name", "Last Name"]
    to = "contact_name"
"""

from __future__ import annotations

import sys
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .mega_model import LEAD_LINES, SOURCE_PLATFORMS, SOURCE_TYPES
from .records import CANONICAL_FIELDS

POLICIES: tuple[str, ...] = ("omit", "default", "reject")
MISSING_POLICIES: tuple[str, ...] = ("omit", "default")
FIELD_POLICIES: tuple[str, ...] = ("keep", "omit")
LEAD_LINE_SOURCES: tuple[str, ...] = ("field", "tag", "stage")
TRANSFORM_OPS: tuple[str, ...] = ("join", "first_non_empty", "trim", "constant")

#: A target written as this value means "drop it" (fields) or "send nothing" (values).
DROP = "-"
#: What ``leadbridge map`` writes where it cannot decide; loading refuses it.
TODO = "TODO"
CUSTOM_PREFIX = "custom:"

#: Canonical fields a mapping may write (identity and bookkeeping fields are not targets).
TARGET_FIELDS: tuple[str, ...] = tuple(
    name for name, typ in CANONICAL_FIELDS.items()
    if name not in ("source_id", "custom_fields", "reject_reason", "deleted", "emails", "phones")
)
#: leadbridge's own bookkeeping columns: never a [mapping.fields] source, since a field listed
#: there is moved away (emptied): no source_id, lost reject reasons, deleted records sent.
BOOKKEEPING_FIELDS: tuple[str, ...] = ("source_id", "custom_fields", "reject_reason", "deleted")
#: Value maps: section name -> (canonical column it rewrites, values allowed if fixed enum).
VALUE_MAPS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "stages": ("stage", None),
    "owners": ("owner", None),
    "source_platforms": ("source_platform", SOURCE_PLATFORMS),
    "source_types": ("source_type", SOURCE_TYPES),
}
DEFAULTABLE: dict[str, tuple[str, ...]] = {
    "source_platform": SOURCE_PLATFORMS,
    "source_type": SOURCE_TYPES,
    "lead_line": LEAD_LINES,
}
_SECTIONS = {"fields", "fields_policy", "lead_line", "defaults", "transforms",
             *VALUE_MAPS, *(f"{name}_policy" for name in VALUE_MAPS)}
#: The keys of the fixed-shape tables: a misspelt key (``unmaped = "reject"``) must not be
#: ignored, or the records it meant to reject would be sent.
_POLICY_KEYS = ("unmapped", "missing", "default")
_LEAD_LINE_KEYS = ("from", "field", *LEAD_LINES, "unmapped", "default")
_TRANSFORM_KEYS = ("op", "fields", "to", "sep", "value")


@dataclass(frozen=True)
class Target:
    """Where a value goes: a canonical column, a custom-field slug, or nowhere."""

    kind: str  # "field" | "custom" | "drop"
    name: str = ""

    @classmethod
    def parse(cls, text: str) -> Target:
        text = text.strip()
        if text == DROP:
            return cls("drop")
        if text.startswith(CUSTOM_PREFIX) and text[len(CUSTOM_PREFIX):].strip():
            return cls("custom", text[len(CUSTOM_PREFIX):].strip())
        if text in TARGET_FIELDS:
            return cls("field", text)
        raise ValueError(
            f"{text!r} is not a target: use a canonical field ({', '.join(TARGET_FIELDS)}), "
            f'"custom:<slug>", or "-" to drop it')

    def __str__(self) -> str:
        if self.kind == "drop":
            return DROP
        return self.name if self.kind == "field" else CUSTOM_PREFIX + self.name


@dataclass(frozen=True)
class ValueMap:
    """Source value -> MEGA value for one column, and what to do with anything else.

    ``given`` is False when the job file has no section: values then pass through unchanged
    (enum columns pass only valid enum values) and validation judges them.
    """

    section: str
    column: str
    values: dict[str, str] = field(default_factory=dict)
    unmapped: str = "omit"
    default: str | None = None
    missing: str = "omit"
    given: bool = False
    allowed: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LeadLineRule:
    """How to decide buyer/seller: from a field's value, a tag in a field, or the stage.

    Matching is case-insensitive and ignores surrounding spaces. A record the rule does not
    decide keeps a valid ``lead_line`` its connector set; anything else non-empty follows
    ``unmapped`` (omit | default | reject).
    """

    source: str | None = None  # None: only check the connector's own lead_line values
    field: str | None = None
    buyer: tuple[str, ...] = ()
    seller: tuple[str, ...] = ()
    unmapped: str = "omit"
    default: str | None = None


@dataclass(frozen=True)
class Transform:
    """One step of ``[[mapping.transforms]]``, reading source fields by their source names."""

    op: str
    fields: tuple[str, ...] = ()
    to: Target | None = None
    sep: str = " "
    value: str | None = None


@dataclass(frozen=True)
class Mapping:
    """Everything ``[mapping.*]`` says, validated. Build with ``from_dict`` or ``load``."""

    fields: dict[str, Target] = field(default_factory=dict)
    unmapped_fields: str = "keep"
    stages: ValueMap = field(default_factory=lambda: ValueMap("stages", "stage"))
    owners: ValueMap = field(default_factory=lambda: ValueMap("owners", "owner"))
    source_platforms: ValueMap = field(default_factory=lambda: ValueMap(
        "source_platforms", "source_platform", allowed=SOURCE_PLATFORMS))
    source_types: ValueMap = field(default_factory=lambda: ValueMap(
        "source_types", "source_type", allowed=SOURCE_TYPES))
    lead_line: LeadLineRule = field(default_factory=LeadLineRule)
    defaults: dict[str, str] = field(default_factory=dict)
    transforms: tuple[Transform, ...] = ()

    @property
    def value_maps(self) -> tuple[ValueMap, ...]:
        return (self.stages, self.owners, self.source_platforms, self.source_types)

    def source_fields(self) -> list[str]:
        """Every source field name the mapping reads (for extraction and for `map`)."""
        names: list[str] = list(self.fields)
        for step in self.transforms:
            names.extend(n for n in step.fields if n != "*")
        if self.lead_line.source in ("field", "tag") and self.lead_line.field:
            names.append(self.lead_line.field)
        return list(dict.fromkeys(names))

    def consumed_fields(self) -> list[str]:
        """Source fields whose value moves elsewhere (renamed, joined, picked)."""
        names: list[str] = list(self.fields)
        for step in self.transforms:
            if step.op in ("join", "first_non_empty"):
                names.extend(step.fields)
        return list(dict.fromkeys(names))

    @property
    def empty(self) -> bool:
        """True when the mapping changes nothing (no [mapping] table, or an empty one)."""
        return self == Mapping()

    @classmethod
    def from_dict(cls, data: AbcMapping[str, Any] | None) -> Mapping:
        """Validate a ``[mapping]`` table (as tomllib returns it); one ConfigError lists
        every problem, including each ``TODO`` left by ``leadbridge map``."""
        return _Parser().parse(data or {})

    @classmethod
    def load(cls, path: str | Path) -> Mapping:
        """The mapping of a job file (its ``[mapping]`` table; none is the identity)."""
        return cls.from_dict(load_job(path).get("mapping"))


def load_job(path: str | Path) -> dict[str, Any]:
    """Read a job file as a dict; a missing or malformed file is a ConfigError."""
    if sys.version_info < (3, 11):  # pragma: no cover
        raise ConfigError("job files need Python 3.11+ (tomllib)")
    import tomllib

    file = Path(path)
    try:  # utf-8-sig: Windows editors save a byte-order mark TOML would call a bad statement
        return tomllib.loads(file.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"job file {str(file)!r} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"job file {str(file)!r} is a folder; give the .toml file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"job file {str(file)!r} is not UTF-8 text (byte "
                          f"{exc.object[exc.start]:#04x} at offset {exc.start}); save it as "
                          "UTF-8, as TOML requires") from None
    except OSError as exc:
        raise ConfigError(f"job file {str(file)!r} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"job file {str(file)!r} is not valid TOML: {exc}") from None


class _Parser:
    """Collects every problem instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.todos: list[str] = []

    def parse(self, data: AbcMapping[str, Any]) -> Mapping:
        if not isinstance(data, AbcMapping):
            raise ConfigError("[mapping] must be a table")
        for name in sorted(set(data) - _SECTIONS):
            self.problems.append(f"unknown section [mapping.{name}] "
                                 f"(known: {', '.join(sorted(_SECTIONS))})")
        fields = self._fields(self._table(data, "fields"))
        fields_policy = self._table(data, "fields_policy")
        self._known_keys(fields_policy, ("unmapped",), "mapping.fields_policy")
        unmapped_fields = self._choice(fields_policy, "unmapped", FIELD_POLICIES, "keep",
                                       "mapping.fields_policy")
        maps = {name: self._value_map(data, name, column, allowed)
                for name, (column, allowed) in VALUE_MAPS.items()}
        lead_line = self._lead_line(self._table(data, "lead_line"))
        defaults = self._defaults(self._table(data, "defaults"))
        transforms = self._transforms(data.get("transforms", []))
        if self.todos:
            self.problems.append(
                f"{len(self.todos)} entr{'y is' if len(self.todos) == 1 else 'ies are'} still "
                f"TODO (decide each, or write \"-\" to drop it): {', '.join(self.todos)}")
        if self.problems:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            raise ConfigError(f"mapping is not usable:\n{lines}")
        return Mapping(fields=fields, unmapped_fields=unmapped_fields, defaults=defaults,
                       lead_line=lead_line, transforms=transforms, **maps)

    # -- helpers -------------------------------------------------------------------------
    def _table(self, data: AbcMapping[str, Any], name: str) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, AbcMapping):
            self.problems.append(f"[mapping.{name}] must be a table")
            return {}
        return dict(value)

    def _known_keys(self, table: AbcMapping[str, Any], keys: tuple[str, ...],
                    where: str) -> None:
        for key in sorted(set(table) - set(keys)):
            self.problems.append(f"{where}: unknown key {key!r} (known: {', '.join(keys)})")

    def _choice(self, table: dict[str, Any], key: str, choices: tuple[str, ...],
                default: str, where: str) -> str:
        value = table.get(key, default)
        if value not in choices:
            self.problems.append(f"{where}.{key} must be one of {', '.join(choices)}, "
                                 f"not {value!r}")
            return default
        return str(value)

    def _fields(self, table: dict[str, Any]) -> dict[str, Target]:
        out: dict[str, Target] = {}
        for source, raw in table.items():
            if raw == TODO:
                self.todos.append(f"mapping.fields[{source!r}]")
                continue
            if not isinstance(raw, str):
                self.problems.append(f"mapping.fields[{source!r}] must be a string")
                continue
            if source in BOOKKEEPING_FIELDS:
                hint = (" (to keep the id as a custom field too: a [[mapping.transforms]] "
                        'op = "first_non_empty", fields = ["source_id"])'
                        if source == "source_id" else "")
                self.problems.append(f"mapping.fields[{source!r}]: {source} is leadbridge's "
                                     f"bookkeeping, not a source field to move{hint}")
                continue
            try:
                out[source] = Target.parse(raw)
            except ValueError as exc:
                self.problems.append(f"mapping.fields[{source!r}]: {exc}")
        # two fields into one target: one value would silently overwrite the other
        by_target: dict[str, list[str]] = {}
        for source, target in out.items():
            if target.kind != "drop":
                by_target.setdefault(str(target), []).append(source)
        for target_name, sources in by_target.items():
            if len(sources) > 1:
                self.problems.append(
                    f"mapping.fields: {', '.join(map(repr, sources))} all map to "
                    f"{target_name!r} and only one value can be sent; keep one, or pick the "
                    "first non-empty with a [[mapping.transforms]] op = \"first_non_empty\"")
        return out

    def _value_map(self, data: AbcMapping[str, Any], name: str, column: str,
                   allowed: tuple[str, ...] | None) -> ValueMap:
        given = name in data
        values: dict[str, str] = {}
        for source, raw in self._table(data, name).items():
            where = f"mapping.{name}[{source!r}]"
            if raw == TODO:
                self.todos.append(where)
            elif not isinstance(raw, str) or not raw.strip():
                self.problems.append(f"{where} must be a non-empty string")
            elif allowed is not None and raw != DROP and raw not in allowed:
                self.problems.append(f"{where}: {raw!r} is not one of {', '.join(allowed)}")
            elif not str(source).strip():  # values are trimmed; an empty one is "missing"
                self.problems.append(f"{where}: an empty value never matches; use "
                                     f"[mapping.{name}_policy] missing = \"default\"")
            else:
                key = str(source).strip()
                # two entries matching the same source value with different targets: one
                # would silently win
                first = next((k for k in values
                              if _match_key(column, k) == _match_key(column, key)), None)
                if first is not None and values[first] != raw.strip():
                    self.problems.append(f"{where}: {source!r} and {first!r} are the same value "
                                         f"with different targets ({values[first]!r}, "
                                         f"{raw.strip()!r}); keep one")
                values[key] = raw.strip()
        where = f"mapping.{name}_policy"
        policy = self._table(data, f"{name}_policy")
        self._known_keys(policy, _POLICY_KEYS, where)
        unmapped = self._choice(policy, "unmapped", POLICIES, "omit", where)
        missing = self._choice(policy, "missing", MISSING_POLICIES, "omit", where)
        default = policy.get("default")
        if default == TODO:
            self.todos.append(f"{where}.default")
            default = None
        elif default is not None and (not isinstance(default, str) or not default.strip()):
            self.problems.append(f"{where}.default must be a non-empty string")
            default = None
        elif default is not None and allowed is not None and default not in allowed:
            self.problems.append(f"{where}.default {default!r} is not one of {', '.join(allowed)}")
        if default is None and "default" in (unmapped, missing):
            self.problems.append(f"{where} uses the default policy but gives no default")
        return ValueMap(name, column, values, unmapped, default, missing, given, allowed)

    def _lead_line(self, table: dict[str, Any]) -> LeadLineRule:
        where = "mapping.lead_line"
        self._known_keys(table, _LEAD_LINE_KEYS, where)
        source = table.get("from")
        if source is None and ("field" in table or "buyer" in table or "seller" in table):
            source = "field"
        if source is not None and source not in LEAD_LINE_SOURCES:
            self.problems.append(f"{where}.from must be one of {', '.join(LEAD_LINE_SOURCES)}, "
                                 f"not {source!r}")
            source = None
        fld = table.get("field")
        if source == "tag" and fld is None:
            fld = "tags"
        if source == "field" and not (isinstance(fld, str) and fld):
            self.problems.append(f"{where}.field must name the source field holding the line")
        lists = {}
        for side in LEAD_LINES:
            raw = table.get(side, [])
            if isinstance(raw, str):
                raw = [raw]
            if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
                self.problems.append(f"{where}.{side} must be a list of strings")
                raw = []
            lists[side] = tuple(v for v in raw)
        if source is not None and not (lists["buyer"] or lists["seller"]):
            self.problems.append(f"{where}: list the values meaning buyer and/or seller")
        unmapped = self._choice(table, "unmapped", POLICIES, "omit", where)
        default = table.get("default")
        if default is not None and default not in LEAD_LINES:
            self.problems.append(f"{where}.default must be buyer or seller, not {default!r}")
            default = None
        if unmapped == "default" and default is None:
            self.problems.append(f"{where} uses the default policy but gives no default")
        return LeadLineRule(source, fld if isinstance(fld, str) else None,
                            lists["buyer"], lists["seller"], unmapped, default)

    def _defaults(self, table: dict[str, Any]) -> dict[str, str]:
        out = {}
        for key, value in table.items():
            allowed = DEFAULTABLE.get(key)
            if value == TODO:
                self.todos.append(f"mapping.defaults.{key}")
            elif allowed is None:
                self.problems.append(f"mapping.defaults.{key}: only "
                                     f"{', '.join(DEFAULTABLE)} take a default")
            elif value not in allowed:
                self.problems.append(f"mapping.defaults.{key} must be one of "
                                     f"{', '.join(allowed)}, not {value!r}")
            else:
                out[key] = value
        return out

    def _transforms(self, raw: Any) -> tuple[Transform, ...]:
        if not isinstance(raw, list):
            self.problems.append("mapping.transforms must be an array of tables "
                                 "([[mapping.transforms]])")
            return ()
        steps = []
        for i, step in enumerate(raw, 1):
            where = f"mapping.transforms #{i}"
            if not isinstance(step, AbcMapping):
                self.problems.append(f"{where} must be a table")
                continue
            self._known_keys(step, _TRANSFORM_KEYS, where)
            op = step.get("op")
            if op not in TRANSFORM_OPS:
                self.problems.append(f"{where}: op must be one of {', '.join(TRANSFORM_OPS)}, "
                                     f"not {op!r}")
                continue
            names = step.get("fields", [])
            if isinstance(names, str):
                names = [names]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                self.problems.append(f"{where}: fields must be a list of source field names")
                continue
            target = None
            if op != "trim":
                to = step.get("to")
                if to == TODO:
                    self.todos.append(f"{where}.to")
                    continue
                try:
                    target = Target.parse(str(to)) if isinstance(to, str) else None
                except ValueError as exc:
                    self.problems.append(f"{where}.to: {exc}")
                    continue
                if target is None or target.kind == "drop":
                    self.problems.append(f"{where} needs to = a canonical field or custom:slug")
                    continue
            if op in ("join", "first_non_empty") and not names:
                self.problems.append(f"{where}: {op} needs fields = [...]")
                continue
            if op == "trim" and not names:
                names = ["*"]
            value = step.get("value")
            if op == "constant" and not isinstance(value, (str, int, float, bool)):
                self.problems.append(f"{where}: constant needs value = \"...\"")
                continue
            sep = step.get("sep", " ")
            if not isinstance(sep, str):
                self.problems.append(f"{where}: sep must be a string")
                continue
            steps.append(Transform(op, tuple(names), target, sep,
                                   None if value is None else _scalar_text(value)))
        return tuple(steps)


def _match_key(column: str, value: str) -> str:
    """What a value map entry matches as (mapping_apply): the trimmed value, and an owner
    email whatever its case."""
    return value.lower() if column == "owner" and "@" in value else value


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
