"""Recently sent versions: what lets a lookback re-read skip what a previous run sent.

Why: a connector re-reads a window before its saved cursor to catch late-indexed records.
Without a note of the versions it already yielded there, it would re-send every unchanged
record of that window on every run. A version is any comparable stamp of one record (epoch
milliseconds, ISO text); only those inside the window are kept, at most ``CAP`` of the
newest, because dropping some costs nothing but a harmless re-read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

#: The most versions kept in a connector's state.
CAP = 10_000

V = TypeVar("V", int, str)


def window(versions: Mapping[str, V], floor: V, cap: int | None = None) -> dict[str, V]:
    """The versions at or after ``floor``, at most ``cap`` (default CAP) of the newest,
    sorted by id."""
    cap = CAP if cap is None else cap
    kept = {k: v for k, v in versions.items() if v >= floor}
    if len(kept) > cap:
        kept = dict(sorted(kept.items(), key=lambda kv: kv[1])[-cap:])
    return dict(sorted(kept.items()))


class RecentVersions(Generic[V]):
    """The versions a previous run saved (``before``) and the ones this run yields."""

    def __init__(self, saved: Mapping[str, Any] | None = None, *,
                 convert: Any = None) -> None:
        convert = convert or (lambda v: v)
        self.before: dict[str, V] = {str(k): convert(v) for k, v in (saved or {}).items()}
        self.now: dict[str, V] = {}

    def sent_before(self, record_id: str, version: V) -> bool:
        """The previous run yielded this very version of the record."""
        return self.before.get(record_id) == version

    def add(self, record_id: str, version: V) -> bool:
        """Note a yielded version; True once the notes pass twice CAP (then ``trim``)."""
        self.now[record_id] = version
        return len(self.now) > 2 * CAP

    def trim(self, floor: V) -> None:
        """Keep this run's notes inside the window (bounded memory on huge reads)."""
        self.now = window(self.now, floor)

    def to_save(self, floor: V) -> dict[str, V]:
        """What the next run needs: every version inside the window ending at the cursor."""
        return window({**self.before, **self.now}, floor)
