"""build(): staged records -> golden rows, lineage, conflicts, placeholders (all in SQL).

Steps (each its own module): normalize -> placeholders -> cluster -> household split ->
lineage -> merge -> golden JSON -> conflicts. Tables written: ``lineage``, ``golden``,
``conflicts``, ``placeholders`` (plus ``lb_phone_class`` for inspection).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from ..workspace import Workspace
from .cluster import components
from .conflicts import find_conflicts
from .custom import CustomLayout, lit
from .golden import build_golden
from .merge import merge
from .normalize import DELETED, NO_CONTACT, normalize
from .options import EngineOptions
from .placeholders import detect
from .stage import ensure_records_table

#: Parquet compression of every output file (snappy: same content as zstd, less CPU).
PARQUET_COMPRESSION = "snappy"
#: lb_norm columns no step reads after the lineage and the counts
_LINEAGE_ONLY = ("email_key", "phone_key", "phone_status", "email_invalid", "phone_short",
                 "source_reject", "deleted")


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
    """lb_state (narrow): placeholder keys removed and the final reject reason per record."""
    ws.con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lb_state AS
        WITH k AS (
          SELECT n.rid, n.name, n.deleted, n.source_reject, n.email_invalid, n.phone_short,
            CASE WHEN pe.key IS NULL THEN n.email_key END AS ekey,
            CASE WHEN pp.key IS NULL THEN n.phone_key END AS pkey,
            pe.key IS NOT NULL AS email_placeholder, pp.key IS NOT NULL AS phone_placeholder
          FROM lb_norm n
          LEFT JOIN placeholders pe ON pe.kind = 'email' AND pe.key = n.email_key
          LEFT JOIN placeholders pp ON pp.kind = 'phone' AND pp.key = n.phone_key
        )
        SELECT rid, ekey, pkey, email_placeholder, phone_placeholder, deleted, email_invalid,
          phone_short,
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
        SELECT rid, ekey AS email_key, pkey AS phone_key FROM lb_state WHERE reject_reason IS NULL
    """)


def _groups(ws: Workspace, options: EngineOptions, layout: CustomLayout) -> None:
    """lb_grp (narrow): each eligible record's group, keys, group size, row_ref and
    sort_key; lb_group_ref: one row per group; lb_mrec: a view of what each record may
    contribute to its golden row."""
    con = ws.con
    if options.household == "separate":
        # components with several emails split into one group per email; a phone belongs to
        # the group of the newest record carrying it with an email
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _lb_grp0 AS
            WITH n AS (
              SELECT n.*, r.recency_us, r.created_us, r.source, r.source_id
              FROM lb_node n JOIN lb_norm r USING (rid) WHERE n.label IS NOT NULL
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
        con.execute("CREATE OR REPLACE TEMP TABLE _lb_grp0 AS "
                    "SELECT rid, label AS grp, false AS phone_elsewhere FROM lb_node "
                    "WHERE label IS NOT NULL")
    # records with no key at all (a name only) are groups of their own
    con.execute("""
        INSERT INTO _lb_grp0 SELECT rid, -1 - rid, false FROM lb_state
        WHERE reject_reason IS NULL AND ekey IS NULL AND pkey IS NULL""")
    cf = ("custom" if options.household == "merge" else  # phone_elsewhere is always false
          layout.with_household("custom", "phone_clean", "phone_elsewhere"))
    # a group's first record is its smallest (source, source_id); with one source (any
    # dedupe of one connector) a plain min of the id says the same for a third of the cost
    sources = con.execute("SELECT count(DISTINCT source), min(source) FROM lb_norm").fetchall()[0]
    single = sources[0] == 1
    first = ("{'s': " + lit(sources[1]) + ", 'i': min(r.source_id)}" if single
             else "min({'s': r.source, 'i': r.source_id})")
    order = "first.i" if single else "first.s, first.i"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lb_group_ref AS
        SELECT grp, records, first.s AS first_source, first.i AS first_source_id,
               'lb_' || left(md5(first.s || chr(31) || first.i), 24) AS row_ref,
               -- the deterministic order of golden rows, sorted here on a narrow table
               row_number() OVER (ORDER BY {order}) AS sort_key
        FROM (SELECT g.grp, count(*) AS records, {first} AS first
              FROM _lb_grp0 g JOIN lb_norm r USING (rid) GROUP BY g.grp)
    """)
    # every later step reads a record's group, keys, group size and row_ref from this one
    # narrow table: no join with lb_state or lb_group_ref per record afterwards
    con.execute("""
        CREATE OR REPLACE TEMP TABLE lb_grp AS
        SELECT g.rid, g.grp, g.phone_elsewhere, s.ekey, s.pkey, f.records, f.row_ref, f.sort_key
        FROM _lb_grp0 g JOIN lb_state s USING (rid) JOIN lb_group_ref f USING (grp)
    """)
    con.execute("DROP TABLE _lb_grp0")
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW lb_mrec AS
        SELECT rid, grp, source, source_id, recency_us,
          coalesce(created_us, -9223372036854775807) AS created_us, name,
          CASE WHEN ekey IS NOT NULL THEN email_raw END AS email_send, ekey,
          CASE WHEN pkey IS NOT NULL AND NOT phone_elsewhere THEN phone_clean END AS phone_send,
          CASE WHEN NOT phone_elsewhere THEN pkey END AS pkey_send, pkey,
          source_platform, source_type, stage_slug, owner_id, lead_line,
          {cf} AS cf, records, row_ref, sort_key
        FROM (SELECT r.*, g.ekey, g.pkey, g.grp, g.phone_elsewhere, g.records, g.row_ref,
                     g.sort_key
              FROM lb_grp g JOIN lb_norm r USING (rid))
    """)


def _lineage(ws: Workspace, path: Path | None) -> None:
    """The ``lineage`` table, or with ``path`` the same rows straight into that parquet file
    (one pass fewer over every record: no table, then no copy of it)."""
    query = """
        SELECT r.source, r.source_id, f.row_ref, s.reject_reason,
               r.email_invalid, s.email_placeholder, s.phone_placeholder, r.phone_short,
               r.phone_status
        FROM lb_norm r JOIN lb_state s USING (rid) LEFT JOIN lb_grp f USING (rid)
    """
    if path is None:
        ws.con.execute(f"CREATE OR REPLACE TABLE lineage AS {query}")
    else:
        ws.con.execute(f"COPY ({query}) TO $path (FORMAT parquet, COMPRESSION {PARQUET_COMPRESSION})",
                       {"path": str(path)})


def build(ws: Workspace, options: EngineOptions | None = None, *,
          scratch: bool = False, lineage_path: Path | None = None) -> BuildResult:
    """Normalize, guard, cluster and merge everything staged in ``ws``.

    ``scratch``: ``ws`` is a throwaway nobody else reads (``dedupe`` in memory). Then the
    build runs outside a transaction, so every intermediate table's memory is freed when it
    is dropped (inside one transaction DuckDB keeps it until commit), and the staged
    ``records`` are dropped as soon as they are normalized: less memory, less spilling.

    ``lineage_path``: write the lineage straight to this parquet file; no ``lineage`` table.
    """
    options = options or EngineOptions()
    ensure_records_table(ws)
    con = ws.con
    con.execute("SET TimeZone = 'UTC'")
    old_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = false")
    try:
        with contextlib.nullcontext() if scratch else ws.transaction():
            layout = normalize(ws, options)
            if scratch:
                con.execute("DROP TABLE records")
                con.execute("DROP TABLE IF EXISTS lb_phone_raw")
            detect(ws, options)
            _effective(ws)
            graph = components(ws, "lb_eligible")
            _groups(ws, options, layout)
            # everything that reads the per-record state goes first, so it and the graph
            # are freed before the merge and the golden rows (at 5M records ~0.6 GB of
            # DuckDB's 2 GB that would otherwise spill)
            _lineage(ws, lineage_path)
            stats = con.execute("""
                SELECT count(*), count(*) FILTER (reject_reason IS NOT NULL AND NOT deleted),
                       count(*) FILTER (deleted),
                       count(*) FILTER (email_invalid AND reject_reason IS NULL),
                       count(*) FILTER (phone_short AND reject_reason IS NULL)
                FROM lb_state""").fetchall()[0]
            con.execute("DROP VIEW lb_eligible")
            con.execute("DROP TABLE lb_state")
            con.execute("DROP TABLE lb_node")
            # what only lineage, the counts and grouping read (lb_grp holds the keys now)
            for column in _LINEAGE_ONLY:
                con.execute(f"ALTER TABLE lb_norm DROP COLUMN {column}")
            if scratch:  # nobody will inspect it
                con.execute("DROP TABLE IF EXISTS lb_phone_class")
            build_golden(ws, merge(ws, options, layout), layout)
            # the golden rows were the last reader of the normalized records (at 5M records
            # ~1.2 GB that the conflicts and the output files would otherwise spill around)
            con.execute("DROP VIEW IF EXISTS lb_mrec")
            for name in ("lb_norm", "lb_phone_raw"):
                con.execute(f"DROP TABLE IF EXISTS {name}")
            find_conflicts(ws)
            golden = con.execute("""
                SELECT (SELECT count(*) FROM golden), (SELECT coalesce(max(records), 0) FROM golden),
                       (SELECT count(DISTINCT row_ref) FROM conflicts),
                       (SELECT count(*) FROM placeholders)""").fetchone()
            for name in ("lb_grp", "lb_group_ref", "_lb_gf_multi"):
                con.execute(f"DROP TABLE IF EXISTS {name}")
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if old_order else 'false'}")
    records, rejected, deleted, invalid, short = stats
    rows, largest, conflicts, placeholders = golden
    return BuildResult(records=records, rejected=rejected, deleted=deleted,
                       distinct_email_keys=graph.email_keys,
                       distinct_phone_keys=graph.phone_keys, clusters=rows,
                       largest_cluster=largest, golden_rows=rows, conflicts=conflicts,
                       placeholder_keys=placeholders, invalid_emails=invalid,
                       short_phones=short, rounds=graph.rounds)
