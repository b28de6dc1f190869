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
          SELECT g.grp, 'email' AS kind, s.ekey AS key FROM lb_grp g JOIN lb_state s USING (rid)
          WHERE s.ekey IS NOT NULL
          UNION ALL
          SELECT g.grp, 'phone', s.pkey FROM lb_grp g JOIN lb_state s USING (rid)
          WHERE s.pkey IS NOT NULL
        ), multi AS (
          SELECT grp, kind, list(DISTINCT key ORDER BY key) AS keys, count(*) AS records
          FROM keys SEMI JOIN (SELECT grp FROM lb_group_ref WHERE records > 1) USING (grp)
          GROUP BY grp, kind HAVING count(DISTINCT key) > 1
        )
        SELECT r.row_ref, m.kind,
               CASE m.kind WHEN 'email' THEN g.email_key ELSE g.phone_key END AS kept,
               list_filter(m.keys, lambda k: k IS DISTINCT FROM
                   CASE m.kind WHEN 'email' THEN g.email_key ELSE g.phone_key END) AS lost,
               m.records
        FROM multi m JOIN lb_group_ref r USING (grp) JOIN golden g USING (row_ref)
        ORDER BY r.row_ref, m.kind
    """)
