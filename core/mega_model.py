"""MEGA's rules as leadbridge assumes them — written down once.

MEGA documents its dedup and merge only partly (shared/reference/mega-api.md, section 14).
Every assumption leadbridge makes lives here and is used by the normalizer (as SQL), the
planner and the sandbox (as Python) alike, so the three can never drift apart. Each one is
explained in docs/mega-model.md; change both together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

# --- documented constants -------------------------------------------------------------

SOURCE_PLATFORMS: tuple[str, ...] = (
    "google_ads", "meta_ads", "google_organic", "direct", "referral", "hubspot",
    "zoho", "ghl", "shopify", "zenmaid", "lead_docket", "salesforce",
)
SOURCE_TYPES: tuple[str, ...] = ("form", "phone_call", "email", "chat", "sms", "manual", "import")
LEAD_LINES: tuple[str, ...] = ("buyer", "seller")
ON_DUPLICATE: tuple[str, ...] = ("update", "skip")
ROW_STATUSES: tuple[str, ...] = ("created", "updated", "skipped", "failed")

BULK_MAX_ROWS = 500
BULK_PER_MINUTE = 10
DEFAULT_PER_MINUTE = 60
DEFAULT_PER_HOUR = 1000

BULK_ENDPOINT = "/api/agents/crm/leads/bulk"
CREATE_ENDPOINT = "/api/agents/crm/leads"
LIST_ENDPOINT = "/api/agents/crm/leads"

SCOPE_READ = "public_api:leads:read"
SCOPE_WRITE = "public_api:leads:write"
SCOPE_WEBHOOKS = "public_api:webhooks:manage"

#: Fields a bulk row may carry (BulkLeadRow); anything else is never sent.
BULK_ROW_FIELDS: tuple[str, ...] = (
    "row_ref", "contact_name", "contact_phone", "contact_email", "source_platform",
    "source_type", "stage_slug", "owner_id", "lead_line", "custom_fields",
)

# --- keys -------------------------------------------------------------------------------

#: Characters stripped around an email. Python's str.strip() knows most of them, DuckDB's
#: trim() only the space, so the set is explicit and shared by both implementations.
SURROUNDING_WHITESPACE = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_WS_CLASS = "".join(f"\\x{{{ord(c):x}}}" for c in SURROUNDING_WHITESPACE)

#: Whitespace inside patterns: the explicit set, written literally, because Python's ``\s`` is
#: Unicode-aware while DuckDB's RE2 ``\s`` knows only ASCII (tests/properties checks both agree).
_WS = f"[{SURROUNDING_WHITESPACE}]"

#: An extension at the end of a phone: "x222", "ext. 222", "extension 222", "#222", ";ext=222".
PHONE_EXTENSION_PATTERN = (
    rf"(?i){_WS}*(?:;{_WS}*ext{_WS}*=|ext(?:ension)?\.?|x|#){_WS}*([0-9]+){_WS}*$"
)
_PHONE_EXTENSION = re.compile(PHONE_EXTENSION_PATTERN)
_NON_DIGIT = re.compile(r"[^0-9]")

PHONE_KEY_DIGITS = 10

#: Plausible address: one @, something before, a dotted domain after, no whitespace.
#: MEGA's own validator is undocumented (section 14.9); this is deliberately permissive so
#: we never reject what MEGA would accept, and flags only what it surely rejects.
EMAIL_PATTERN = (rf"^[^@{SURROUNDING_WHITESPACE}]+@[^@{SURROUNDING_WHITESPACE}.]+"
                 rf"(\.[^@{SURROUNDING_WHITESPACE}.]+)+$")
_EMAIL = re.compile(EMAIL_PATTERN)


#: MEGA's ids (customer, owner, stage, lead) are UUIDs in the 8-4-4-4-12 hex form.
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")


def is_uuid(value: object) -> bool:
    """Whether ``value`` is text in MEGA's id form (customer, owner, stage and lead ids)."""
    return isinstance(value, str) and bool(_UUID.match(value))


def id_text(value: object) -> str | None:
    """A JSON id MEGA sent (a string or an integer) as text; None for anything else. Why:
    ``true`` is an int to Python, and an object or list as an id must not reach the ledger."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)


def strip_surrounding(value: str) -> str:
    """Strip every kind of surrounding whitespace (the set DuckDB's trim() misses)."""
    return value.strip(SURROUNDING_WHITESPACE)


def email_key(value: str | None) -> str | None:
    """MEGA's email match key: trimmed and lower-cased; empty gives no key.

    No Gmail dot-folding or plus-stripping: MEGA does not do it, and doing it here would
    predict merges MEGA never makes.
    """
    if value is None:
        return None
    key = _simple_lower(strip_surrounding(value))
    return key or None


def _simple_lower(value: str) -> str:
    """Lower-case one code point to one, as DuckDB's lower() does: Python's str.lower() maps
    U+0130 (capital I with dot) to two code points, DuckDB to a plain "i"."""
    return value.replace("\u0130", "i").lower()


def is_valid_email(value: str | None) -> bool:
    """Whether MEGA would accept the address (see EMAIL_PATTERN)."""
    return value is not None and bool(_EMAIL.match(strip_surrounding(value)))


def split_phone_extension(value: str) -> tuple[str, str | None]:
    """Return (phone without extension, extension or None)."""
    match = _PHONE_EXTENSION.search(value)
    if not match or not _NON_DIGIT.sub("", value[: match.start()]):
        return strip_surrounding(value), None
    return strip_surrounding(value[: match.start()]), match.group(1)


def clean_phone(value: str | None) -> str | None:
    """The phone value leadbridge sends: extension removed, surrounding space stripped.

    MEGA keys on the last 10 digits of what it receives; removing the extension first
    guarantees MEGA's key of the sent value equals our phone_key.
    """
    if value is None:
        return None
    cleaned, _ = split_phone_extension(value)
    return cleaned if _NON_DIGIT.sub("", cleaned) else None


def phone_key(value: str | None) -> str | None:
    """MEGA's phone match key: digits only (after removing an extension), the last 10."""
    if value is None:
        return None
    cleaned, _ = split_phone_extension(value)
    digits = _NON_DIGIT.sub("", cleaned)
    return digits[-PHONE_KEY_DIGITS:] or None


def mega_phone_key(sent_value: str | None) -> str | None:
    """What MEGA itself computes from a phone it receives: digits, last 10 (no ext logic)."""
    if sent_value is None:
        return None
    return _NON_DIGIT.sub("", sent_value)[-PHONE_KEY_DIGITS:] or None


# --- the same keys as DuckDB SQL macros ---------------------------------------------------

#: The phone-extension pattern for DuckDB's RE2 (case-insensitivity goes in the 'i' flag).
PHONE_EXTENSION_SQL = PHONE_EXTENSION_PATTERN.replace("(?i)", "")


def duckdb_macros() -> list[str]:
    """CREATE MACRO statements computing the keys exactly like the Python functions above.

    tests/properties checks the SQL and the Python agree on generated input.
    """
    ws = _WS_CLASS
    ext = PHONE_EXTENSION_SQL
    return [
        f"CREATE OR REPLACE MACRO lb_strip(s) AS regexp_replace(s, '^[{ws}]+|[{ws}]+$', '', 'g')",
        "CREATE OR REPLACE MACRO lb_email_key(s) AS nullif(lower(lb_strip(s)), '')",
        f"CREATE OR REPLACE MACRO lb_email_valid(s) AS coalesce(regexp_full_match(lb_strip(s), '{EMAIL_PATTERN[1:-1]}'), false)",
        # extension only counts when digits remain before it (mirrors split_phone_extension)
        # every extension form contains "x", "X" or "#": the cheap test skips the regexes
        f"""CREATE OR REPLACE MACRO lb_phone_noext(s) AS CASE
              WHEN strpos(s, 'x') = 0 AND strpos(s, 'X') = 0 AND strpos(s, '#') = 0
              THEN lb_strip(s)
              WHEN regexp_matches(s, '{ext}', 'i')
               AND regexp_replace(regexp_replace(s, '{ext}', '', 'i'), '[^0-9]', '', 'g') <> ''
              THEN lb_strip(regexp_replace(s, '{ext}', '', 'i'))
              ELSE lb_strip(s) END""",
        f"CREATE OR REPLACE MACRO lb_phone_ext(s) AS CASE WHEN lb_phone_noext(s) IS DISTINCT FROM lb_strip(s) THEN regexp_extract(s, '{ext}', 1, 'i') END",
        "CREATE OR REPLACE MACRO lb_phone_digits(s) AS regexp_replace(lb_phone_noext(s), '[^0-9]', '', 'g')",
        f"CREATE OR REPLACE MACRO lb_phone_key(s) AS nullif(right(lb_phone_digits(s), {PHONE_KEY_DIGITS}), '')",
        "CREATE OR REPLACE MACRO lb_phone_clean(s) AS CASE WHEN lb_phone_digits(s) <> '' THEN lb_phone_noext(s) END",
    ]


# --- matching and merging (used by the planner and the sandbox) ---------------------------

MatchedBy = Literal["email", "phone"]


def find_match(
    email: str | None,
    phone: str | None,
    by_email: Mapping[str, str],
    by_phone: Mapping[str, str],
) -> tuple[str | None, MatchedBy | None]:
    """Locate the lead an incoming row merges into: email first, then phone.

    ``by_email``/``by_phone`` map a key to the id of the *oldest* lead holding it (MEGA's
    assumed tie-break, section 14.1). Returns (lead_id, matched_by) or (None, None).
    """
    ek, pk = email_key(email), mega_phone_key(phone)
    if ek is not None and ek in by_email:
        return by_email[ek], "email"
    if pk is not None and pk in by_phone:
        return by_phone[pk], "phone"
    return None, None


def merge_fields(stored: dict[str, Any], incoming: Mapping[str, Any]) -> dict[str, Any]:
    """MEGA's assumed merge for ``on_duplicate=update``.

    Non-empty incoming values replace stored ones, empty ones leave them; custom fields
    merge key by key; an existing stage is kept (API 1.1.0). Returns the merged lead.
    """
    merged = dict(stored)
    for field, value in incoming.items():
        if field in ("row_ref",) or _is_empty(value):
            continue
        if field == "custom_fields":
            fields = dict(merged.get("custom_fields") or {})
            fields.update({k: v for k, v in value.items() if not _is_empty(v)})
            merged["custom_fields"] = fields
        elif field == "stage_slug":
            if not merged.get("stage_slug"):
                merged["stage_slug"] = value
        else:
            merged[field] = value
    return merged


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and strip_surrounding(value) == "")


# --- what a row needs, and what a new lead gets (used by the sandbox and the planner) -------

CONTACT_FIELDS: tuple[str, ...] = ("contact_name", "contact_phone", "contact_email")
#: MEGA's documented 400 message for a create without any contact field (section 5.1).
NO_CONTACT_MESSAGE = "At least one of contact_name, contact_phone, or contact_email is required"
#: Assumed (section 14.2, item 14): a new lead starts ``active``; a merge never changes status.
NEW_LEAD_STATUS = "active"
#: Assumed (section 14.3, item 25): what MEGA fills in when a row omits the source fields.
DEFAULT_SOURCE_PLATFORM = "direct"
DEFAULT_SOURCE_TYPE_BULK = "import"
DEFAULT_SOURCE_TYPE_CREATE = "manual"


def is_empty(value: Any) -> bool:
    """Whether MEGA treats a value as absent: None, or only whitespace (section 14.1, item 6)."""
    return _is_empty(value)


def has_contact(row: Mapping[str, Any]) -> bool:
    """A row needs at least one non-empty contact field, else it fails (section 5.1)."""
    return any(not _is_empty(row.get(name)) for name in CONTACT_FIELDS)
