"""Conflicts: clusters holding several distinct emails or phones (MEGA stores one of each).

Never dropped silently: each such cluster gets a row per kind with the key kept on the
golden row and the keys that lost. Only multi-record groups can conflict, so only their
records are read, and the kept keys come from the narrow merged
table by integer group id (not from a join on the wide golden table).
"""

from __future__ import annotations

from ..workspace import Workspace


def find_conflicts(ws: Workspace) -> None:
    """Create ``conflicts(row_ref, kind, kept, lost, records)``."""
    ws.con.execute("""
        CREATE OR REPLACE TABLE conflicts AS
        WITH m AS (
          SELECT grp, ekey, pkey FROM lb_grp WHERE records > 1
        ), keys AS (
          SELECT grp, 'email' AS kind, ekey AS key FROM m WHERE ekey IS NOT NULL
          UNION ALL
          SELECT grp, 'phone' AS kind, pkey AS key FROM m WHERE pkey IS NOT NULL
        ), d AS (  -- distinct keys first: plain GROUP BYs, no DISTINCT aggregates
          SELECT grp, kind, key, count(*) AS n FROM keys GROUP BY grp, kind, key
        ), multi AS (
          SELECT grp, kind, list(key ORDER BY key) AS keys, sum(n)::BIGINT AS records
          FROM d GROUP BY grp, kind HAVING count(*) > 1
        ), k AS (
          SELECT m.grp, m.kind, m.keys, m.records,
                 CASE m.kind WHEN 'email' THEN f.email_key ELSE f.phone_key END AS kept
          FROM multi m JOIN _lb_gf_multi f USING (grp)
        )
        SELECT r.row_ref, k.kind, k.kept,
               list_filter(k.keys, lambda x: x IS DISTINCT FROM k.kept) AS lost, k.records
        FROM k JOIN lb_group_ref r USING (grp)
        ORDER BY r.row_ref, k.kind
    """)
