"""Conflicts: clusters holding several distinct emails or phones (MEGA stores one of each).

Never dropped silently: each such cluster gets a row per kind with the key kept on the
golden row and the keys that lost.
"""

from __future__ import annotations

from ..workspace import Workspace


def find_conflicts(ws: Workspace) -> None:
    """Create ``conflicts(row_ref, kind, kept, lost, records)``."""
    ws.con.execute("""
        CREATE OR REPLACE TABLE conflicts AS
        WITH keys AS (
          SELECT grp, 'email' AS kind, ekey AS key FROM lb_mrec WHERE ekey IS NOT NULL
          UNION ALL
          SELECT grp, 'phone', pkey FROM lb_mrec WHERE pkey IS NOT NULL
        ), multi AS (
          SELECT grp, kind, list(DISTINCT key ORDER BY key) AS keys, count(*) AS records
          FROM keys GROUP BY grp, kind HAVING count(DISTINCT key) > 1
        )
        SELECT r.row_ref, m.kind,
               CASE m.kind WHEN 'email' THEN g.email_key ELSE g.phone_key END AS kept,
               list_filter(m.keys, lambda k: k IS DISTINCT FROM
                   CASE m.kind WHEN 'email' THEN g.email_key ELSE g.phone_key END) AS lost,
               m.records
        FROM multi m JOIN lb_group_ref r USING (grp) JOIN lb_golden_fields g USING (grp)
        ORDER BY r.row_ref, m.kind
    """)
