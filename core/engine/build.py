"""build(): staged records -> golden rows, lineage, conflicts, placeholders (all in SQL).

Steps (each its own module): normalize -> placeholders -> cluster -> household split ->
merge -> golden JSON -> conflicts -> lineage. Tables written: ``lineage``, ``golden``,
``conflicts``, ``placeholders`` (plus ``lb_norm`` and ``lb_phone_class`` for inspection).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..workspace import Workspace
from .cluster import components
from .conflicts import find_conflicts
from .golden import build_golden
from .merge import merge
from .normalize import DELETED, NO_CONTACT, normalize
from .options import EngineOptions
from .placeholders import detect
from .stage import ensure_records_table


@dataclass(frozen=True)
class BuildResult:
    """Counts describing one build."""

    records: int
    rejected: int
    deleted: int
    distinct_email_keys: int
    distinct_phone_keys: int
    clusters: int
    largest_cluster: int
    golden_rows: int
    conflicts: int
    placeholder_keys: int
    invalid_emails: int
    short_phones: int
    rounds: int


def _effective(ws: Workspace) -> None:
    """lb_rec: records with placeholder keys removed and the final reject reason."""
    ws.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lb_rec AS
        WITH k AS (
          SELECT n.*,
            CASE WHEN pe.key IS NULL THEN n.email_key END AS ekey,
            CASE WHEN pp.key IS NULL THEN n.phone_key END AS pkey,
            pe.key IS NOT NULL AS email_placeholder, pp.key IS NOT NULL AS phone_placeholder
          FROM lb_norm n
          LEFT JOIN placeholders pe ON pe.kind = 'email' AND pe.key = n.email_key
          LEFT JOIN placeholders pp ON pp.kind = 'phone' AND pp.key = n.phone_key
        )
        SELECT *,
          CASE
            WHEN deleted THEN '{DELETED}'
            WHEN source_reject IS NOT NULL THEN source_reject
            WHEN name IS NULL AND ekey IS NULL AND pkey IS NULL THEN '{NO_CONTACT}' ||
              CASE WHEN email_invalid THEN ' (the email is not a valid address)'
                   WHEN email_placeholder OR phone_placeholder
                     THEN ' (only a placeholder email or phone)'
                   ELSE '' END
          END AS reject_reason
        FROM k
    """)
    ws.con.execute("""
        CREATE OR REPLACE TEMP VIEW lb_eligible AS
        SELECT rid, ekey AS email_key, pkey AS phone_key FROM lb_rec WHERE reject_reason IS NULL
    """)


def _groups(ws: Workspace, options: EngineOptions) -> None:
    """lb_mrec: eligible records with their group and the values each may contribute."""
    con = ws.con
    if options.household == "separate":
        # components with several emails split into one group per email; a phone belongs to
        # the group of the newest record carrying it with an email
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _lb_grp AS
            WITH n AS (
              SELECT n.*, r.recency_us, r.created_us, r.source, r.source_id
              FROM lb_node n JOIN lb_rec r USING (rid)
            ), split AS (
              SELECT label FROM n WHERE enode IS NOT NULL GROUP BY label
              HAVING count(DISTINCT enode) > 1
            ), owner AS (
              SELECT label, pnode,
                     arg_max(enode, {'r': recency_us, 'c': coalesce(created_us, 0),
                                     's': source, 'i': source_id}) AS owner
              FROM n SEMI JOIN split USING (label)
              WHERE enode IS NOT NULL AND pnode IS NOT NULL GROUP BY label, pnode
            )
            SELECT n.rid,
              CASE WHEN s.label IS NULL THEN n.label ELSE coalesce(n.enode, o.owner) END AS grp,
              s.label IS NOT NULL AND n.pnode IS NOT NULL
                AND o.owner IS DISTINCT FROM coalesce(n.enode, o.owner) AS phone_elsewhere
            FROM n LEFT JOIN split s USING (label)
            LEFT JOIN owner o ON o.label = n.label AND o.pnode = n.pnode
        """)
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE _lb_grp AS "
                    "SELECT rid, label AS grp, false AS phone_elsewhere FROM lb_node")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE lb_mrec AS
        SELECT r.rid, coalesce(g.grp, -1 - r.rid) AS grp, r.source, r.source_id,
          r.recency_us, coalesce(r.created_us, -9223372036854775807) AS created_us,
          r.name,
          CASE WHEN r.ekey IS NOT NULL THEN r.email_raw END AS email_send, r.ekey,
          CASE WHEN r.pkey IS NOT NULL AND NOT coalesce(g.phone_elsewhere, false)
               THEN r.phone_clean END AS phone_send,
          CASE WHEN NOT coalesce(g.phone_elsewhere, false) THEN r.pkey END AS pkey_send,
          r.pkey,
          r.source_platform, r.source_type, r.stage_slug, r.owner_id, r.lead_line,
          list_sort(list_filter(
            map_entries(map_concat(coalesce(r.custom, MAP {}), map_from_entries(list_filter([
              {'key': 'phone_extension',
               'value': CASE WHEN r.pkey IS NOT NULL THEN r.phone_ext END},
              {'key': 'source_owner',
               'value': CASE WHEN r.owner_id IS NULL THEN r.owner_raw END},
              {'key': 'household_phone',
               'value': CASE WHEN coalesce(g.phone_elsewhere, false) THEN r.phone_clean END}
            ], lambda x: x.value IS NOT NULL)))),
            lambda x: x.value IS NOT NULL AND x.value <> '')) AS cf
        FROM lb_rec r LEFT JOIN _lb_grp g USING (rid)
        WHERE r.reject_reason IS NULL
    """)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE lb_group_ref AS
        SELECT grp, first.s AS first_source, first.i AS first_source_id,
               'lb_' || left(md5(first.s || chr(31) || first.i), 24) AS row_ref
        FROM (SELECT grp, min({'s': source, 'i': source_id}) AS first FROM lb_mrec GROUP BY grp)
    """)
    con.execute("DROP TABLE IF EXISTS _lb_grp")


def _lineage(ws: Workspace) -> None:
    ws.con.execute("""
        CREATE OR REPLACE TABLE lineage AS
        SELECT r.source, r.source_id, g.row_ref, r.reject_reason,
               r.email_invalid, r.email_placeholder, r.phone_placeholder, r.phone_short,
               r.phone_status
        FROM lb_rec r
        LEFT JOIN lb_mrec m USING (rid)
        LEFT JOIN lb_group_ref g ON g.grp = m.grp
    """)


def build(ws: Workspace, options: EngineOptions | None = None) -> BuildResult:
    """Normalize, guard, cluster and merge everything staged in ``ws``."""
    options = options or EngineOptions()
    ensure_records_table(ws)
    con = ws.con
    con.execute("SET TimeZone = 'UTC'")
    old_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = false")
    try:
        with ws.transaction():
            normalize(ws, options)
            detect(ws, options)
            _effective(ws)
            rounds = components(ws, "lb_eligible")
            _groups(ws, options)
            merge(ws, options)
            build_golden(ws)
            find_conflicts(ws)
            _lineage(ws)
            stats = con.execute("""
                SELECT (SELECT count(*) FROM lb_rec),
                       (SELECT count(*) FROM lb_rec WHERE reject_reason IS NOT NULL AND NOT deleted),
                       (SELECT count(*) FROM lb_rec WHERE deleted),
                       (SELECT count(DISTINCT ekey) FROM lb_mrec),
                       (SELECT count(DISTINCT pkey) FROM lb_mrec),
                       (SELECT count(*) FROM golden),
                       (SELECT coalesce(max(records), 0) FROM golden),
                       (SELECT count(DISTINCT row_ref) FROM conflicts),
                       (SELECT count(*) FROM placeholders),
                       (SELECT count(*) FROM lb_rec WHERE email_invalid AND reject_reason IS NULL),
                       (SELECT count(*) FROM lb_rec WHERE phone_short AND reject_reason IS NULL)
            """).fetchone()
            for name in ("lb_mrec", "lb_node", "lb_golden_fields", "lb_group_ref", "lb_rec"):
                con.execute(f"DROP TABLE IF EXISTS {name}")
            con.execute("DROP VIEW IF EXISTS lb_eligible")
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if old_order else 'false'}")
    (records, rejected, deleted, emails, phones, golden, largest, conflicts, placeholders,
     invalid, short) = stats
    return BuildResult(records=records, rejected=rejected, deleted=deleted,
                       distinct_email_keys=emails, distinct_phone_keys=phones, clusters=golden,
                       largest_cluster=largest, golden_rows=golden, conflicts=conflicts,
                       placeholder_keys=placeholders, invalid_emails=invalid,
                       short_phones=short, rounds=rounds)
