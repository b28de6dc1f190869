"""Propose a job file's ``[mapping]`` from a source profile and what is known of MEGA.

Why nothing is guessed silently: every proposed entry says how it was found. Exact matches
(same text once case, spaces and punctuation are ignored) are written as they are; rapidfuzz
suggestions are written with their score in a comment for the user to review; everything
else is an explicit ``"TODO"``, which the job loader refuses until the user decides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .mapping_inspect import TAG_KEYS, Profile
from .mapping_model import TODO
from .mega_model import LEAD_LINES, SOURCE_PLATFORMS, SOURCE_TYPES, is_uuid

#: A fuzzy suggestion is written as an entry at or above this score; below, a TODO with the
#: closest candidate in its comment.
SUGGEST_SCORE = 88.0
HINT_SCORE = 50.0
#: Words that mean buyer / seller in a source's values or tags.
LINE_WORDS: dict[str, tuple[str, ...]] = {
    "buyer": ("buyer", "buyers", "buy", "buying", "purchase", "purchaser"),
    "seller": ("seller", "sellers", "sell", "selling", "listing", "listings", "vendor"),
}


def compact(text: str) -> str:
    """Lower-case letters and digits only: ``Budget ($)`` and ``budget`` agree."""
    return re.sub(r"[^0-9a-z]+", "", text.casefold())


def slugify(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.casefold()).strip("_")


@dataclass
class Owner:
    """A MEGA team member as the user named it: ``id``, and an email or name if given."""

    id: str
    label: str | None = None


@dataclass
class MegaSide:
    """Everything known of the customer's MEGA setup (None: unknown)."""

    stages: list[str] | None = None
    owners: list[Owner] | None = None
    custom_fields: list[str] | None = None
    origin: dict[str, str] = field(default_factory=dict)


@dataclass
class Entry:
    """One proposed ``key = value`` line and why (``how``: exact | fuzzy | todo | drop)."""

    key: str
    value: str
    how: str
    count: int = 0
    note: str = ""


@dataclass
class Proposal:
    """A proposed mapping: entries per section plus what could not be decided."""

    fields: list[Entry] = field(default_factory=list)
    stages: list[Entry] = field(default_factory=list)
    owners: list[Entry] = field(default_factory=list)
    lead_line: dict[str, Any] | None = None
    lead_line_note: str = ""
    defaults: dict[str, str] = field(default_factory=dict)
    defaults_note: list[str] = field(default_factory=list)

    def entries(self) -> list[tuple[str, Entry]]:
        return ([("fields", e) for e in self.fields] + [("stages", e) for e in self.stages]
                + [("owners", e) for e in self.owners])

    def todo(self) -> list[tuple[str, Entry]]:
        return [(s, e) for s, e in self.entries() if e.how == "todo"]


def parse_owners(items: Iterable[str]) -> list[Owner]:
    """``uuid`` or ``email-or-name=uuid`` items (from ``--owners``)."""
    from .errors import ConfigError

    out = []
    ids: dict[str, str] = {}  # label (any case) -> owner id
    for item in items:
        item = item.strip()
        if not item:
            continue
        label, sep, oid = item.rpartition("=")
        if not sep:
            label, oid = "", item
        oid = oid.strip()
        if not is_uuid(oid):
            raise ConfigError(f"--owners: {oid!r} is not a MEGA owner id (a UUID); give "
                              "UUID or EMAIL=UUID (or Name=UUID), comma-separated")
        key = label.strip().casefold()
        if key and ids.setdefault(key, oid.lower()) != oid.lower():
            # matching ignores case: the first pair would silently win for every record
            raise ConfigError(f"--owners: {label.strip()!r} is given two different owner ids "
                              f"({ids[key]}, {oid}); keep one")
        out.append(Owner(oid, label.strip() or None))
    return out


def _best(query: str, choices: list[str]) -> tuple[str, float] | None:
    from rapidfuzz import fuzz, process, utils

    if not choices or not query.strip():
        return None
    got = process.extractOne(query, choices, scorer=fuzz.WRatio, processor=utils.default_process)
    return (got[0], float(got[1])) if got else None


def _match(value: str, count: int, choices: list[str] | None, *, target: Any = None,
           what: str) -> Entry:
    """Exact (compact text equal), else fuzzy >= SUGGEST_SCORE, else TODO with a hint."""
    target = target or (lambda c: c)
    if choices is None:
        return Entry(value, TODO, "todo", count, f"no MEGA {what} known: give --{what} "
                     "(or pull / --probe) and run `leadbridge map` again, or decide here")
    for choice in choices:
        if compact(choice) == compact(value) and compact(value):
            return Entry(value, target(choice), "exact", count)
    best = _best(value, choices)
    if best and best[1] >= SUGGEST_SCORE:
        return Entry(value, target(best[0]), "fuzzy", count,
                     f"fuzzy match {best[0]!r}, score {best[1]:.0f}: review")
    hint = (f"closest {best[0]!r} (score {best[1]:.0f}); "
            if best and best[1] >= HINT_SCORE else "")
    noun = {"stages": "MEGA stage", "custom-fields": "MEGA custom field"}.get(what, what)
    return Entry(value, TODO, "todo", count, f"{hint}no {noun} matches: decide, or \"-\"")


def propose(p: Profile, mega: MegaSide, *, source_platform: str | None = None) -> Proposal:
    """The proposal for one source profile against one MEGA side."""
    out = Proposal()
    slugs = mega.custom_fields
    for key, count in sorted(p.custom_fields.items(), key=lambda kv: (-kv[1], kv[0])):
        if not count:  # the key is there but always empty: nothing would ever be sent
            continue
        if key.strip().lower() in TAG_KEYS and slugs is not None and \
                not any(compact(s) == compact(key) for s in slugs):
            out.fields.append(Entry(key, "-", "drop", count,
                                    "tags are not a MEGA field; the lead-line rule may read them"))
            continue
        entry = _match(key, count, slugs, target=lambda s: f"custom:{s}", what="custom-fields")
        if entry.how == "todo" and slugs is None:
            entry.note = (f"MEGA's custom fields are unknown: \"custom:{slugify(key)}\" to send "
                          "it, \"-\" to drop it (give --custom-fields or --probe to check)")
        taken = next((e for e in out.fields if e.how in ("exact", "fuzzy")
                      and e.value == entry.value), None)
        if taken is not None and entry.how in ("exact", "fuzzy"):
            # the job loader refuses two fields into one slug: the most used field keeps it
            entry = Entry(key, TODO, "todo", count, f"{entry.value!r} already holds "
                          f"{taken.key!r}: only one value can be sent; decide, or \"-\"")
        out.fields.append(entry)
    for value, count in p.values.get("stage", []):
        out.stages.append(_match(value, count, mega.stages, what="stages"))
    owners = mega.owners
    for value, count in p.values.get("owner", []):
        out.owners.append(_owner(value, count, owners))
    out.lead_line, out.lead_line_note = _lead_line(p)
    platform = source_platform if source_platform in SOURCE_PLATFORMS else None
    seen_platforms = [v for v, _ in p.values.get("source_platform", [])]
    if platform is None and not any(v in SOURCE_PLATFORMS for v in seen_platforms):
        out.defaults_note.append(
            "source_platform: the source sets none MEGA knows; pick one of "
            + ", ".join(SOURCE_PLATFORMS) + " or leave it out (MEGA fills its own)")
    elif platform:
        out.defaults["source_platform"] = platform
    if not any(v in SOURCE_TYPES for v, _ in p.values.get("source_type", [])):
        out.defaults["source_type"] = "import"
    return out


def _owner(value: str, count: int, owners: list[Owner] | None) -> Entry:
    if owners is None:
        return Entry(value, TODO, "todo", count, "no MEGA owners known: give --owners "
                     "EMAIL=UUID,... (MEGA does not expose owner emails)")
    folded = value.strip().casefold()
    for o in owners:
        if folded == o.id.casefold() or (o.label and folded == o.label.strip().casefold()):
            return Entry(value, o.id, "exact", count, o.label or "")
    labelled = {o.label: o for o in owners if o.label}
    query = value.split("@")[0].replace(".", " ").replace("_", " ") if "@" in value else value
    names = {(lab.split("@")[0].replace(".", " ").replace("_", " ") if "@" in lab else lab): lab
             for lab in labelled}
    best = _best(query, list(names))
    if best and best[1] >= SUGGEST_SCORE:
        label = names[best[0]]
        return Entry(value, labelled[label].id, "fuzzy", count,
                     f"fuzzy match {label!r}, score {best[1]:.0f}: review")
    return Entry(value, TODO, "todo", count, "no MEGA owner matches: give EMAIL=UUID, or \"-\"")


def _side(value: str) -> str | None:
    words = set(re.findall(r"[a-z]+", value.casefold()))
    hits = [side for side, ws in LINE_WORDS.items() if words & set(ws)]
    return hits[0] if len(hits) == 1 else None


def _lead_line(p: Profile) -> tuple[dict[str, Any] | None, str]:
    """A lead-line rule when a field or tags clearly say buyer/seller; else a hint."""
    own = [v for v, _ in p.values.get("lead_line", [])]
    if own and all(v.strip().lower() in LEAD_LINES for v in own):
        return None, "the source already sets lead_line buyer/seller: nothing to map"
    candidates: list[tuple[int, dict[str, Any]]] = []
    if own:
        rule = _sides("field", "lead_line", p.values["lead_line"])
        if rule:
            candidates.append((sum(c for _, c in p.values["lead_line"]), rule))
    for key, values in p.custom_values.items():
        rule = _sides("field", key, values)
        if rule:
            candidates.append((sum(c for _, c in values), rule))
    for key, tags in p.tags.items():
        rule = _sides("tag", key, tags)
        if rule:
            candidates.append((sum(c for _, c in tags), rule))
    if not candidates:
        return None, ("no field or tag says buyer/seller; add [mapping.lead_line] by hand "
                      "(from = \"field\" | \"tag\" | \"stage\") if MEGA should know the line")
    candidates.sort(key=lambda c: -c[0])
    return candidates[0][1], "found values naming buyer/seller: review"


def _sides(source: str, key: str, values: list[tuple[str, int]]) -> dict[str, Any] | None:
    sides: dict[str, list[str]] = {"buyer": [], "seller": []}
    for value, _ in values:
        side = _side(value)
        if side:
            sides[side].append(value)
    if not (sides["buyer"] or sides["seller"]):
        return None
    rule: dict[str, Any] = {"from": source, "field": key}
    rule.update({k: v for k, v in sides.items() if v})
    return rule


# --- TOML -----------------------------------------------------------------------------------

def _s(text: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(text, ensure_ascii=False)


def _line(e: Entry) -> str:
    comment = f"{e.count} record(s)" + (f"; {e.note}" if e.note else "")
    return f"{_s(e.key)} = {_s(e.value)}  # {comment}"


def render(proposal: Proposal, *, connector: str, options: Mapping[str, Any],
           mega: MegaSide, records: int, limited: bool) -> str:
    """The complete job file text."""
    lines = [
        "# Proposed by `leadbridge map`; review every line marked fuzzy and decide every TODO",
        f"# (a job file with a TODO is refused). Read {records} record(s)"
        + (" (stopped at --limit)." if limited else "."),
        "",
        "[source]",
        f"connector = {_s(connector)}",
    ]
    if options:
        lines += ["", "[source.options]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in options.items()]
    lines += ["", "[policies]", "on_duplicate = \"update\"",
              "send_anyway = false  # true: send even when validation finds unknown values",
              "probe = false  # true: sync asks MEGA (one dry_run) about values [target] "
              "does not list",
              "", "[target]"]
    lists = (("stages", mega.stages), ("owners", [o.id for o in mega.owners or []]
                                            if mega.owners is not None else None),
             ("custom_fields", mega.custom_fields))
    for name, values in lists:
        if values is None:
            continue
        where = mega.origin.get(name, "")
        line = f"{name} = [{', '.join(_s(v) for v in values)}]"
        if where.startswith("--"):  # the user's own, complete list: validation uses it
            lines.append(f"{line}  # from {where}")
        else:  # values seen in use or confirmed by a probe: maybe not all of them
            lines.append(f"# {line}")
            lines.append(f"# ^ from {where}: uncomment only if this is the whole list "
                         "(validation treats it as complete)")
    lines += ["", "[mapping.fields]",
              "# source field = \"custom:<MEGA slug>\", a canonical field, or \"-\" to drop it"]
    lines += [_line(e) for e in proposal.fields]
    lines += ["", "[mapping.fields_policy]",
              "unmapped = \"keep\"  # source fields not listed above: keep (as custom fields) "
              "or omit"]
    for section, entries, what in (("stages", proposal.stages, "stage_slug"),
                                   ("owners", proposal.owners, "owner_id")):
        lines += ["", f"[mapping.{section}]", f"# source value = MEGA {what} (\"-\": send none)"]
        lines += [_line(e) for e in entries]
        lines += ["", f"[mapping.{section}_policy]",
                  "unmapped = \"omit\"  # a value not listed: omit | default | reject "
                  "(reject: the record ends rejected, with the reason in the report)",
                  f"# default = \"...\"  # the {what} used by unmapped = \"default\""]
    lines += [""]
    if proposal.lead_line:
        lines += [f"# {proposal.lead_line_note}", "[mapping.lead_line]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in proposal.lead_line.items()]
    else:
        lines += [f"# [mapping.lead_line]: {proposal.lead_line_note}"]
    lines += ["", "[mapping.defaults]"]
    lines += [f"{k} = {_s(v)}" for k, v in proposal.defaults.items()]
    lines += [f"# {note}" for note in proposal.defaults_note]
    lines += ["",
              "# Transforms (uncomment and adapt): join, first_non_empty, trim, constant",
              "# [[mapping.transforms]]",
              "# op = \"join\"",
              "# fields = [\"First Name\", \"Last Name\"]",
              "# to = \"contact_name\"",
              ""]
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return _s(str(value))
