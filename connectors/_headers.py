"""Map a file's column headers to canonical fields: explicit > exact > synonym > suffix > fuzzy.

Why one module: the CSV and JSON Lines connectors (and ZenMaid exports, which are CSV) must map
the same header the same way, and the user must see every decision (``Mapping.rows``).
Columns that map to nothing become custom fields under their original header.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from ..errors import ConfigError

#: Canonical fields a column may fill (``source_id`` is decided by the id rules).
TARGETS: tuple[str, ...] = (
    "contact_name", "first_name", "last_name", "contact_email", "contact_phone",
    "source_platform", "source_type", "stage", "owner", "lead_line", "created_at", "updated_at",
)
#: Explicit-mapping targets besides the canonical fields.
CUSTOM, SKIP, ID = "custom", "skip", "source_id"

#: MEGA's own names for the same fields (a file exported from MEGA maps as itself).
ALIASES = {"stage_slug": "stage", "owner_id": "owner", "name": "contact_name",
           "email": "contact_email", "phone": "contact_phone"}

#: Normalized header (lower case, letters and digits only) -> field.
SYNONYMS: dict[str, str] = {}
for _field, _words in {
    "contact_name": "name fullname contactname leadname customername clientname displayname "
                    "contact person personname fullnames",
    "first_name": "firstname first givenname fname forename",
    "last_name": "lastname last surname familyname lname",
    "contact_email": "email emailaddress mail primaryemail contactemail emailaddr "
                     "emailaddress1 email1 workemail personalemail",
    "contact_phone": "phone phonenumber mobile mobilephone mobilenumber cell cellphone "
                     "cellnumber telephone tel telephonenumber primaryphone contactphone "
                     "phone1 homephone workphone businessphone mobilephonenumber",
    "source_platform": "leadsource source sourceplatform channel origin platform "
                       "referralsource howdidyouhearaboutus",
    "source_type": "sourcetype inquirytype",
    "stage": "stage status leadstatus pipelinestage dealstage lifecyclestage stageslug",
    "owner": "owner leadowner assignedto assignee agent salesrep rep ownerid owneremail "
             "assignedagent assigneduser",
    "lead_line": "leadline buyerseller buyerorseller",
    "created_at": "created createdat createddate datecreated createdon creationdate "
                  "dateadded addedon signupdate customersince",
    "updated_at": "lastmodified modified updatedat updated lastupdated modifiedat "
                  "lastmodifieddate dateupdated lastmodifiedon modifiedon lastmodifiedtime "
                  "updatedon",
}.items():
    for _w in _words.split():
        SYNONYMS[_w] = _field

#: A header ending in one of these words ("Customer Email", "Home Phone") means that field.
_SUFFIXES = (("email", "contact_email"), ("phone", "contact_phone"),
             ("phonenumber", "contact_phone"), ("mobile", "contact_phone"))

#: Minimum rapidfuzz ratio (0-100) for a fuzzy match against a synonym.
FUZZY_CUTOFF = 88

#: Fields a second matching column fills in for when the first one is empty on a row.
FALLBACK_FIELDS = ("contact_name", "contact_email", "contact_phone")

_RANK = {"explicit": 0, "id": 0, "exact": 1, "synonym": 2, "suffix": 3, "fuzzy": 4}


def normalize(header: str) -> str:
    """``"E-mail Address "`` -> ``"emailaddress"``: case, spaces and punctuation never matter."""
    return re.sub(r"[^0-9a-z]+", "", header.casefold())


def guess(header: str) -> tuple[str, str] | None:
    """(field, how) for one header by name alone, or None when it should stay custom."""
    raw = header.strip().lower()
    if raw in TARGETS:
        return raw, "exact"
    if raw in ALIASES:
        return ALIASES[raw], "exact"
    key = normalize(header)
    if not key:
        return None
    if key in SYNONYMS:
        return SYNONYMS[key], "synonym"
    for suffix, target in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            return target, "suffix"
    if len(key) >= 5:
        hit = process.extractOne(key, list(SYNONYMS), scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF)
        if hit is not None:
            return SYNONYMS[hit[0]], f"fuzzy ({hit[0]!r}, {hit[1]:.0f})"
    return None


def parse_explicit(value: str | dict[str, str] | None) -> dict[str, str]:
    """The ``columns`` option: ``"Header:field,Other:custom"``, a JSON object, or a dict."""
    if not value:
        return {}
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"option 'columns': not a JSON object ({exc.msg})") from None
    if isinstance(value, dict):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        pairs = []
        for item in str(value).split(","):
            if not item.strip():
                continue
            header, sep, target = item.rpartition(":")
            if not sep or not header.strip():
                raise ConfigError(f"option 'columns': expected Header:field, got {item.strip()!r}")
            pairs.append((header.strip(), target.strip()))
    allowed = set(TARGETS) | {CUSTOM, SKIP, ID} | set(ALIASES)
    bad = [f"{h!r} -> {t!r}" for h, t in pairs if t not in allowed]
    if bad:
        raise ConfigError(f"option 'columns': unknown target field(s) {', '.join(bad)}; use one "
                          f"of {', '.join(sorted(allowed))}")
    return {h: ALIASES.get(t, t) for h, t in pairs}


@dataclass
class Mapping:
    """Every column's fate. ``fields``: canonical field -> column index; ``custom``: column
    index -> custom-field key; ``rows``: (header, target, how) in column order for display."""

    headers: list[str]
    fields: dict[str, int] = field(default_factory=dict)
    custom: dict[int, str] = field(default_factory=dict)
    id_column: int | None = None
    id_rule: str = "line number"
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    #: field -> further columns read when the field's own column is empty on a row
    #: ("Phone" empty, "Mobile" filled); they stay custom fields as well.
    fallbacks: dict[str, list[int]] = field(default_factory=dict)


def map_headers(headers: list[str], *, explicit: dict[str, str] | None = None,
                id_column: str | None = None) -> Mapping:
    """Decide every column. Raises ConfigError when an explicit header or ``id_column`` is
    not in the file (naming the headers that are)."""
    explicit = explicit or {}
    m = Mapping(headers=list(headers))
    lower = [h.strip().casefold() for h in headers]
    missing = [h for h in explicit if h.strip().casefold() not in lower]
    if id_column is not None and id_column.strip().casefold() not in lower:
        missing.append(id_column)
    if missing:
        shown = ", ".join(repr(h) for h in headers[:50])
        raise ConfigError(f"column(s) {', '.join(repr(h) for h in missing)} not in the file "
                          f"(its headers: {shown})")
    by_name = {h.strip().casefold(): t for h, t in explicit.items()}
    decided: dict[int, tuple[str, str]] = {}
    for i, name in enumerate(lower):
        if name in by_name:
            decided[i] = (by_name[name], "explicit")
    # the id: explicit source_id, else a column named id, else --id-column, else the line
    ids = [i for i, (t, _) in decided.items() if t == ID]
    if not ids and id_column is not None:
        ids = [lower.index(id_column.strip().casefold())]
        decided[ids[0]] = (ID, "id")
    if not ids and "id" in lower and lower.index("id") not in decided:  # explicit wins
        ids = [lower.index("id")]
        decided[ids[0]] = (ID, "id")
    if ids:
        m.id_column = ids[0]
        m.id_rule = f"column {headers[ids[0]]!r}"
    # guesses, best method first; a field already taken leaves the column custom
    taken = {t: i for i, (t, _) in decided.items() if t in TARGETS}
    guesses = []
    for i, header in enumerate(headers):
        if i in decided:
            continue
        g = guess(header)
        if g is not None:
            guesses.append((_RANK[g[1].split(" ")[0]], i, g[0], g[1]))
    for _rank, i, target, how in sorted(guesses):
        if target in taken:
            how = f"{target} already from {headers[taken[target]]!r}"
            if target in FALLBACK_FIELDS:
                m.fallbacks.setdefault(target, []).append(i)
                how += "; used where that one is empty"
            decided[i] = (CUSTOM, how)
        else:
            taken[target] = i
            decided[i] = (target, how)
    used_keys: set[str] = set()
    for i, header in enumerate(headers):
        target, how = decided.get(i, (CUSTOM, "unmapped"))
        if target == ID and i != m.id_column:
            target, how = CUSTOM, "second id column"
        if target in TARGETS:
            m.fields[target] = i
        elif target == CUSTOM:
            key = header.strip() or f"column_{i + 1}"
            base, n = key, 2
            while key.casefold() in used_keys:
                key, n = f"{base} ({n})", n + 1
            used_keys.add(key.casefold())
            m.custom[i] = key
            target = f"custom_fields[{key!r}]"
        m.rows.append((header, target, how))
    return m
