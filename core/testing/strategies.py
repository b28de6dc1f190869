"""Hypothesis strategies for canonical records, for connector and plugin authors.

Why: a transformation a connector applies (name splitting, phone cleanup, custom fields)
should hold for any record, not three hand-written ones. Needs hypothesis (the ``test``
extra)::

    from hypothesis import given
    from leadbridge.testing.strategies import canonical_records

    @given(canonical_records())
    def test_my_mapping_keeps_the_id(record): ...

Every record drawn passes the conformance suite's record-shape rules (that is tested).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from ..mega_model import LEAD_LINES, SOURCE_PLATFORMS, SOURCE_TYPES

_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
_SLUG = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)


def source_ids() -> st.SearchStrategy[str]:
    """Non-empty source ids, including awkward ones (spaces, unicode, leading zeros)."""
    return st.one_of(st.integers(0, 10**12).map(str),
                     st.from_regex(r"0{1,3}[0-9]{1,6}", fullmatch=True),
                     _TEXT.filter(lambda s: s.strip() != ""))


def emails() -> st.SearchStrategy[str]:
    """Addresses in the forms sources really hold them (case, spaces, plus tags)."""
    local = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,15}", fullmatch=True)
    domain = st.from_regex(r"[A-Za-z0-9-]{1,12}\.(com|org|net|co\.uk|io)", fullmatch=True)
    pad = st.sampled_from(["", " ", "  "])
    return st.builds(lambda a, l, d, b: f"{a}{l}@{d}{b}", pad, local, domain, pad)


def phones() -> st.SearchStrategy[str]:
    """Phone numbers as people type them: +1, dots, dashes, parentheses, short ones."""
    digits = st.from_regex(r"[2-9][0-9]{9}", fullmatch=True)
    fmt = st.sampled_from(["{0}", "+1{0}", "({1}) {2}-{3}", "{1}.{2}.{3}", "1-{1}-{2}-{3}",
                           "{3}"])
    return st.builds(lambda d, f: f.format(d, d[:3], d[3:6], d[6:]), digits, fmt)


def timestamps() -> st.SearchStrategy[str]:
    """ISO-8601 text with an offset, as the canonical record wants."""
    from datetime import datetime, timedelta, timezone

    offsets = st.sampled_from([timezone.utc, timezone(timedelta(hours=-6)),
                               timezone(timedelta(hours=5, minutes=30))])
    return st.builds(lambda dt, tz: dt.replace(tzinfo=tz).isoformat().replace("+00:00", "Z"),
                     st.datetimes(datetime(2000, 1, 1), datetime(2030, 12, 31)), offsets)


def custom_fields() -> st.SearchStrategy[dict[str, Any]]:
    """JSON-safe custom field dicts (text, numbers, bools, lists of text)."""
    value = st.one_of(st.none(), _TEXT, st.integers(-10**9, 10**9), st.booleans(),
                      st.floats(allow_nan=False, allow_infinity=False, width=32),
                      st.lists(_TEXT, max_size=3))
    return st.dictionaries(_SLUG, value, max_size=5)


def canonical_records(*, source_id: st.SearchStrategy[str] | None = None
                      ) -> st.SearchStrategy[dict[str, Any]]:
    """Canonical record dicts: ``source_id`` always, every other field optional."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "contact_name": _TEXT, "first_name": _TEXT, "last_name": _TEXT,
        "contact_email": emails(), "contact_phone": phones(),
        "emails": st.lists(emails(), max_size=3), "phones": st.lists(phones(), max_size=3),
        "source_platform": st.sampled_from(SOURCE_PLATFORMS),
        "source_type": st.sampled_from(SOURCE_TYPES),
        "stage": _TEXT, "owner": st.one_of(emails(), _TEXT),
        "lead_line": st.sampled_from(LEAD_LINES), "custom_fields": custom_fields(),
        "created_at": timestamps(), "updated_at": timestamps(), "deleted": st.booleans(),
    }
    return st.fixed_dictionaries({"source_id": source_id or source_ids()},
                                 optional={k: st.one_of(st.none(), v)
                                           for k, v in optional.items()})
