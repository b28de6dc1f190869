"""Engine options: the few policies a user may change, with MEGA-faithful defaults."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from ..errors import ConfigError

Rule = Literal["newest", "oldest", "most_frequent", "source_priority"]
RULES: tuple[str, ...] = ("newest", "oldest", "most_frequent", "source_priority")

#: Golden fields a survivorship rule can be set for ("custom_fields" applies key by key).
MERGE_FIELDS: tuple[str, ...] = (
    "contact_name", "contact_email", "contact_phone", "source_platform", "source_type",
    "stage", "owner", "lead_line", "custom_fields",
)


@dataclass(frozen=True)
class EngineOptions:
    """How ``build`` normalizes, guards, clusters and merges.

    placeholder_guard / placeholder_threshold / placeholder_distinct_ratio:
        a key held by at least ``placeholder_threshold`` records whose other identity (name,
        other key) differs in at least ``placeholder_distinct_ratio`` of them, or takes at
        least ``placeholder_threshold`` distinct values, is a placeholder (``0000000000``,
        ``none@none.com``): reported, not clustered, not sent.
    household: ``merge`` (what MEGA does: one lead per connected group) or ``separate``
        (one lead per email; a shared phone goes on the newest, the others carry it in the
        custom field ``household_phone``).
    survivorship: field -> rule (``newest`` default, ``oldest``, ``most_frequent``,
        ``source_priority``); ``source_priority`` lists sources, best first.
    stage_map / owner_map: source value -> MEGA stage slug / owner id. Without a stage map
        the stage is slugified; without an owner map an owner is sent only if it already
        looks like a MEGA id (UUID) and otherwise kept in custom field ``source_owner``.
    phone_region: region phonenumbers assumes for numbers without a country code.
    """

    placeholder_guard: bool = True
    placeholder_threshold: int = 10
    placeholder_distinct_ratio: float = 0.5
    household: Literal["merge", "separate"] = "merge"
    survivorship: Mapping[str, str] = field(default_factory=dict)
    source_priority: tuple[str, ...] = ()
    stage_map: Mapping[str, str] | None = None
    owner_map: Mapping[str, str] | None = None
    phone_region: str = "US"
    classify_phones: bool = True

    def __post_init__(self) -> None:
        problems = []
        if self.household not in ("merge", "separate"):
            problems.append(f"household must be merge or separate, not {self.household!r}")
        if self.placeholder_threshold < 2:
            problems.append("placeholder_threshold must be at least 2")
        if not 0.0 <= self.placeholder_distinct_ratio <= 1.0:
            problems.append("placeholder_distinct_ratio must be between 0 and 1")
        for name, rule in self.survivorship.items():
            if name not in MERGE_FIELDS:
                problems.append(f"survivorship: unknown field {name!r} "
                                f"(known: {', '.join(MERGE_FIELDS)})")
            if rule not in RULES:
                problems.append(f"survivorship for {name!r}: rule must be one of "
                                f"{', '.join(RULES)}, not {rule!r}")
            if rule == "source_priority" and not self.source_priority:
                problems.append(f"survivorship for {name!r} is source_priority but "
                                "source_priority lists no sources")
        if problems:
            raise ConfigError("engine options: " + "; ".join(problems))

    def rule(self, name: str) -> str:
        return self.survivorship.get(name, "newest")

    @classmethod
    def from_table(cls, table: Mapping[str, object] | None) -> EngineOptions | None:
        """Build from a job file's ``[engine]`` table (typed TOML values); None for none."""
        if table is None:
            return None
        known = sorted(f.name for f in fields(cls))
        for key, value in table.items():
            if key not in known:
                raise ConfigError(f"unknown key in [engine]: {key} (known: {', '.join(known)})")
            expected, ok = _TABLE_TYPES.get(key, ("", lambda _v: True))
            if not ok(value):
                raise ConfigError(f"[engine] {key} must be {expected}, not {value!r}")
        values = dict(table)
        if "source_priority" in values:
            values["source_priority"] = tuple(values["source_priority"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def from_pairs(cls, pairs: Mapping[str, str]) -> EngineOptions:
        """Build from CLI ``key=value`` strings (``survivorship.contact_name=oldest``)."""
        kwargs: dict[str, object] = {}
        survivorship: dict[str, str] = {}
        for key, value in pairs.items():
            if key.startswith("survivorship."):
                survivorship[key.split(".", 1)[1]] = value
            elif key in ("placeholder_guard", "classify_phones"):
                kwargs[key] = _bool(key, value)
            elif key == "placeholder_threshold":
                kwargs[key] = _int(key, value)
            elif key == "placeholder_distinct_ratio":
                kwargs[key] = _float(key, value)
            elif key == "source_priority":
                kwargs[key] = tuple(s.strip() for s in value.split(",") if s.strip())
            elif key in ("household", "phone_region"):
                kwargs[key] = value
            else:
                raise ConfigError(f"unknown engine option {key!r}")
        return cls(survivorship=survivorship, **kwargs)  # type: ignore[arg-type]


#: The TOML type each ``[engine]`` option needs: the dataclass would take a value the file
#: does not mean (``placeholder_guard = "false"`` is a true string; ``source_priority =
#: "a,b"`` a sequence of characters) or fail later with a bare TypeError (``stage_map = 5``).
_TABLE_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "placeholder_guard": ("true or false (unquoted)", lambda v: isinstance(v, bool)),
    "classify_phones": ("true or false (unquoted)", lambda v: isinstance(v, bool)),
    "placeholder_threshold": ("a whole number", lambda v: type(v) is int),
    "placeholder_distinct_ratio": ("a number", lambda v: type(v) in (int, float)),
    "household": ("a string", lambda v: isinstance(v, str)),
    "phone_region": ("a string", lambda v: isinstance(v, str)),
    "source_priority": ("a list of source names", lambda v: isinstance(v, (list, tuple))
                        and all(isinstance(x, str) for x in v)),
    **{name: ("a table of strings ({ key = \"value\" })",
              lambda v: isinstance(v, Mapping) and all(isinstance(x, str) for x in v.values()))
       for name in ("survivorship", "stage_map", "owner_map")},
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _bool(key: str, value: str) -> bool:
    """A CLI flag word; anything else is refused (read as false, ``ture`` would switch the
    placeholder guard off)."""
    word = value.strip().lower()
    if word not in _TRUE + _FALSE:
        raise ConfigError(f"engine option {key} must be true or false, not {value!r}")
    return word in _TRUE


def _int(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"engine option {key} must be an integer, not {value!r}") from None


def _float(key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"engine option {key} must be a number, not {value!r}") from None
