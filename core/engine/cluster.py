"""Cluster: exact connected components of the record <-> key graph, in SQL.

A record links its email key and its phone key, so the graph's nodes are the distinct keys
and its edges the distinct (email, phone) pairs — far smaller than the records. Components
come from min-label contraction: each round every node takes its smallest neighbour's
label (chains inside a round are fully compressed), edges are relabelled, self-loops
dropped; it stops when no edge is left. Exact (no sampling, no hashing of keys), and most
edges vanish in the first round because most components are tiny.

Internal ids are arbitrary integers; everything users see (row_ref, order) is derived from
the cluster's smallest (source, source_id), so the output does not depend on input order.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..workspace import Workspace

#: A phone key is at most 10 digits: (length, value) packs into an exact odd integer id.
_PHONE_NODE = "((length(phone_key) * 10000000000 + phone_key::BIGINT) * 2 + 1)"


@dataclass(frozen=True)
class Components:
    """What ``components`` saw: its rounds and the distinct keys (the graph's nodes)."""

    rounds: int
    email_keys: int
    phone_keys: int


def components(ws: Workspace, eligible: str, max_rounds: int = 10_000) -> Components:
    """Create ``lb_node(rid, node, label)`` for every record of ``eligible`` (a view with
    rid, email_key, phone_key; keys may be NULL).

    The distinct key counts come from the node tables it builds anyway (a count of
    distinct strings over every record cost a pass of its own)."""
    con = ws.con
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _lb_email_node AS
        SELECT email_key, row_number() OVER () * 2 AS node
        FROM (SELECT DISTINCT email_key FROM {eligible} WHERE email_key IS NOT NULL)""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _lb_rec_node AS
        SELECT e.rid, en.node AS enode,
               CASE WHEN e.phone_key IS NOT NULL THEN {_PHONE_NODE.replace('phone_key', 'e.phone_key')} END AS pnode
        FROM {eligible} e LEFT JOIN _lb_email_node en ON en.email_key = e.email_key""")
    emails, phones = con.execute("""
        SELECT (SELECT count(*) FROM _lb_email_node),
               (SELECT count(DISTINCT pnode) FROM _lb_rec_node)""").fetchall()[0]
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _lb_edges AS
        SELECT DISTINCT enode AS a, pnode AS b FROM _lb_rec_node
        WHERE enode IS NOT NULL AND pnode IS NOT NULL""")
    con.execute("CREATE OR REPLACE TEMP TABLE _lb_map (n BIGINT, l BIGINT)")
    rounds = 0
    while con.execute("SELECT count(*) FROM _lb_edges").fetchone()[0]:
        rounds += 1
        if rounds > max_rounds:  # pragma: no cover - contraction always shrinks
            raise RuntimeError("connected components did not converge")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _lb_step AS
            SELECT n, min(m) AS l FROM (
              SELECT a AS n, b AS m FROM _lb_edges UNION ALL SELECT b, a FROM _lb_edges)
            GROUP BY n HAVING min(m) < n""")
        # compress chains inside the step so every target is a node the step kept
        while con.execute(
            "SELECT count(*) FROM _lb_step s JOIN _lb_step t ON t.n = s.l"
        ).fetchone()[0]:
            con.execute("""
                CREATE OR REPLACE TEMP TABLE _lb_step AS
                SELECT s.n, coalesce(t.l, s.l) AS l FROM _lb_step s
                LEFT JOIN _lb_step t ON t.n = s.l""")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _lb_map AS
            SELECT m.n, coalesce(s.l, m.l) AS l FROM _lb_map m LEFT JOIN _lb_step s ON s.n = m.l
            UNION ALL SELECT n, l FROM _lb_step""")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _lb_edges AS
            SELECT DISTINCT least(a2, b2) AS a, greatest(a2, b2) AS b FROM (
              SELECT coalesce(sa.l, e.a) AS a2, coalesce(sb.l, e.b) AS b2 FROM _lb_edges e
              LEFT JOIN _lb_step sa ON sa.n = e.a LEFT JOIN _lb_step sb ON sb.n = e.b)
            WHERE a2 <> b2""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE lb_node AS
        SELECT r.rid, r.enode, r.pnode, coalesce(r.enode, r.pnode) AS node,
               coalesce(m.l, coalesce(r.enode, r.pnode)) AS label
        FROM _lb_rec_node r LEFT JOIN _lb_map m ON m.n = coalesce(r.enode, r.pnode)""")
    for name in ("_lb_email_node", "_lb_rec_node", "_lb_edges", "_lb_map", "_lb_step"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return Components(rounds=rounds, email_keys=emails, phone_keys=phones)
