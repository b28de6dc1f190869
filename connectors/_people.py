"""Small helpers the people-reading connectors share (Zoho, GHL, Shopify, FUB, Pipedrive, ...).

Why: every CRM returns the same few awkward things — timestamps with assorted offsets,
"primary" flags that are booleans, strings or 0/1, duplicate addresses, names split or not —
and every incremental connector needs the same equal-timestamp-safe cursor (inclusive lower
bound, lookback, dedupe by id within the run). Written once here so each connector is only its
vendor's shapes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from ._recent import RecentVersions

UTC = timezone.utc


def parse_ts(value: Any, naive_tz: Any = UTC) -> datetime | None:
    """An aware UTC datetime from ISO text, epoch milliseconds or a datetime (None if empty).

    Text without an offset is taken in ``naive_tz`` (some APIs send firm-local times).
    """
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        try:
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):  # beyond datetime's years, NaN, inf
            return None
    else:
        text = str(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=naive_tz)
    return dt.astimezone(UTC)


def iso(dt: datetime | None) -> str | None:
    """UTC ISO text with milliseconds and ``Z`` (sorts as text, parses everywhere)."""
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_text(value: Any, naive_tz: Any = UTC) -> str | None:
    """Any vendor timestamp as canonical UTC ISO text (the raw text if it cannot be parsed)."""
    dt = parse_ts(value, naive_tz)
    if dt is None:
        return None if value in (None, "") else str(value)
    return iso(dt)


def truthy(value: Any) -> bool:
    """A vendor's idea of true: True, 1, "1", "true", "yes"."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "on")
    return bool(value)


def unique(values: Iterable[Any]) -> list[str]:
    """Non-empty values as trimmed text, first occurrence kept (case-insensitive)."""
    out: list[str] = []
    seen: set[str] = set()
    for v in values:
        if v is None:
            continue
        text = str(v).strip()
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    return out


def primary_first(items: Any, value_key: str = "value", primary_key: str = "primary") -> list[str]:
    """Values of ``[{value, primary}]`` with the primary one(s) first, duplicates dropped."""
    if not isinstance(items, list):
        return []
    rows = [i for i in items if isinstance(i, dict)]
    ordered = [i for i in rows if truthy(i.get(primary_key))] + \
              [i for i in rows if not truthy(i.get(primary_key))]
    return unique(i.get(value_key) for i in ordered)


def split_primary(values: list[str]) -> tuple[str | None, list[str] | None]:
    """(primary, alternates or None) for the canonical contact_* / emails|phones fields."""
    return (values[0] if values else None), (values[1:] or None)


def full_name(first: Any, last: Any, fallback: Any = None) -> str | None:
    name = " ".join(str(x).strip() for x in (first, last) if x and str(x).strip())
    return name or (str(fallback).strip() if fallback and str(fallback).strip() else None)


def compact(fields: dict[str, Any]) -> dict[str, Any] | None:
    """Drop empty values; None when nothing is left (custom_fields stays null)."""
    out = {k: v for k, v in fields.items() if v not in (None, "", [], {})}
    return out or None


class RunCursor:
    """The equal-timestamp-safe incremental cursor of one run.

    ``since`` is the inclusive lower bound to ask the API for (saved cursor minus lookback).
    ``take(id, ts)`` says whether to yield a record: not if already yielded in this run
    (boundary rows come twice), nor if an earlier run already yielded this very version
    (same id, same timestamp). The versions yielded inside the lookback window are saved
    (``<key>_recent``), so the lookback can catch late-indexed records without re-sending the
    unchanged ones every run; the ids at the highest timestamp are saved too (``<key>_ids``,
    what older states hold). It also tracks the highest timestamp, saved by ``save``.
    """

    MAX_BOUNDARY_IDS = 10_000

    def __init__(self, state: dict[str, Any], key: str, *, incremental: bool = True,
                 lookback_seconds: int = 0) -> None:
        self.state = state
        self.key = key
        saved = parse_ts(state.get(key)) if incremental else None
        self.cursor = saved
        self.lookback = timedelta(seconds=lookback_seconds)
        self.since = saved - self.lookback if saved else None
        self.high = saved
        # id -> timestamp (ISO text, which sorts as time) of the versions yielded near the
        # cursor: by earlier runs (before) and by this one (now)
        self._recent: RecentVersions[str] = RecentVersions(
            state.get(key + "_recent") if saved else None)
        if saved:
            for rid in state.get(key + "_ids") or []:  # yielded at the cursor itself
                self._recent.before[rid] = iso(saved)
        self._high_ids = {rid for rid, ts in self._recent.before.items()
                          if ts == iso(saved)} if saved else set()
        self._seen: set[str] = set()

    def first(self, record_id: str) -> bool:
        """New in this run (no timestamp check; for tombstones and the like)."""
        if record_id in self._seen:
            return False
        self._seen.add(record_id)
        return True

    def take(self, record_id: str, ts: Any) -> bool:
        if not self.first(record_id):
            return False
        dt = parse_ts(ts)
        if dt is None:  # no version to compare, nothing to move the cursor
            return True
        version = iso(dt)
        if self._recent.sent_before(record_id, version):
            return False
        self.see(dt, record_id)
        if self._recent.add(record_id, version) and self.lookback and self.high:
            self._recent.trim(iso(self.high - self.lookback))
        return True

    def see(self, value: Any, record_id: str | None = None) -> None:
        dt = parse_ts(value)
        if dt is None:
            return
        if self.high is None or dt > self.high:
            self.high = dt
            self._high_ids = set()
        if dt == self.high and record_id is not None:
            self._high_ids.add(record_id)

    def save(self) -> None:
        if self.high is not None:
            self.state[self.key] = iso(self.high)
            ids = sorted(self._high_ids)
            if len(ids) <= self.MAX_BOUNDARY_IDS:
                self.state[self.key + "_ids"] = ids
            else:
                self.state.pop(self.key + "_ids", None)
            if not self.lookback:
                return  # the boundary ids are all an inclusive bound needs
            # beyond CAP only the newest are kept: the rest is merely re-read (staging dedupes)
            self.state[self.key + "_recent"] = self._recent.to_save(
                iso(self.high - self.lookback))
