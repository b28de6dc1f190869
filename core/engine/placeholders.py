"""Placeholder guard: keys shared by implausibly many records that disagree on the rest.

Why: ``0000000000`` or ``none@none.com`` typed into a form would make MEGA merge every such
record into one lead. A key held by at least ``threshold`` records whose names and other
keys mostly differ is reported in ``placeholders`` and left out of clustering and of the
values sent. A real person with many submissions keeps one name, so is not flagged. Keys
that look like placeholders (KNOWN_EMAIL, KNOWN_PHONE) are flagged from two records on.

"Mostly differ" is: distinct values >= ``ratio`` of the non-empty ones, or at least
``threshold`` distinct values. The second part keeps the guard working on big files: names
repeat (a few hundred common names cover thousands of strangers), so on 10,000 records
holding ``0000000000`` the distinct names fall far below half of them although no name
covers 1%. One person, or a household, has a handful of names and other keys, not ten.
"""

from __future__ import annotations

from ..workspace import Workspace
from .options import EngineOptions

#: Keys that are placeholders by their look; flagged from 2 disagreeing records on.
KNOWN_EMAIL = (r"^(none|noemail|no-email|no|na|n/a|null|nil|unknown|test|nobody|noreply|"
               r"no-reply|donotreply|do-not-reply|fake)@")
KNOWN_PHONE = r"^(0+|1+|2+|3+|4+|5+|6+|7+|8+|9+|1234567890|0123456789|9876543210)$"


def detect(ws: Workspace, options: EngineOptions) -> None:
    """Create ``placeholders(kind, key, records, distinct_names, distinct_other_keys)``."""
    guard = "true" if options.placeholder_guard else "false"
    threshold = int(options.placeholder_threshold)
    ratio = float(options.placeholder_distinct_ratio)
    parts = []
    for kind, key, other, known in (("email", "email_key", "phone_key", KNOWN_EMAIL),
                                    ("phone", "phone_key", "email_key", KNOWN_PHONE)):
        # count first (cheap), look at names and other keys only for the few candidates
        parts.append(f"""
            SELECT '{kind}' AS kind, {key} AS key, count(*) AS records,
                   count(DISTINCT lower(name)) AS distinct_names, count(lower(name)) AS named,
                   count(DISTINCT {other}) AS distinct_other_keys, count({other}) AS with_other
            FROM lb_norm SEMI JOIN (
              SELECT {key} FROM lb_norm
              WHERE {key} IS NOT NULL AND source_reject IS NULL AND NOT deleted
              GROUP BY {key}
              HAVING count(*) >= CASE WHEN regexp_matches({key}, '{known}') THEN 2
                                      ELSE {threshold} END) USING ({key})
            WHERE source_reject IS NULL AND NOT deleted
            GROUP BY {key}""")
    ws.con.execute(f"""
        CREATE OR REPLACE TABLE placeholders AS
        SELECT kind, key, records, distinct_names, distinct_other_keys
        FROM ({' UNION ALL '.join(parts)})
        WHERE {guard}
          AND (named = 0 OR distinct_names >= least({ratio} * named, {threshold}))
          AND (with_other = 0 OR distinct_other_keys >= least({ratio} * with_other, {threshold}))
        ORDER BY kind, records DESC, key
    """)
