"""Merge: one golden row per cluster by per-field survivorship rules.

Default rule is MEGA's own: the newest non-empty value wins (by updated_at, then
created_at, then (source, source_id) so ties are deterministic). Custom fields merge key by
key. Single-record clusters (most of them) skip the aggregation entirely.
"""

from __future__ import annotations

from collections.abc import Callable

from ..workspace import Workspace
from .custom import CustomLayout, lit
from .options import EngineOptions

#: golden column -> (value expression over lb_mrec, grouping expression for most_frequent)
FIELDS: dict[str, tuple[str, str]] = {
    "contact_name": ("name", "lower(name)"),
    "contact_email": ("email_send", "ekey"),
    "contact_phone": ("phone_send", "pkey_send"),
    "source_platform": ("source_platform", "source_platform"),
    "source_type": ("source_type", "source_type"),
    "stage_slug": ("stage_slug", "stage_slug"),
    "owner_id": ("owner_id", "owner_id"),
    "lead_line": ("lead_line", "lead_line"),
}
#: golden column -> (its key in lb_mrec, the merged key's column name)
KEY_COLUMNS: dict[str, tuple[str, str]] = {
    "contact_email": ("ekey", "email_key"),
    "contact_phone": ("pkey_send", "phone_key"),
}
#: the option name a golden column's rule is set under
RULE_NAME = {"stage_slug": "stage", "owner_id": "owner"}
#: newest-first order as one integer per record (ranked once; comparing structs per
#: aggregate is several times slower)
ORDER = "ord"


def _prio(options: EngineOptions) -> str:
    if not options.source_priority:
        return "0"
    items = ", ".join("'" + s.replace("'", "''") + "'" for s in options.source_priority)
    return f"-coalesce(list_position([{items}], source), 1000000)"


def _pick(rule: str, value: str, payload: str) -> str:
    """Aggregate choosing ``payload`` from the row whose ``value`` survives ``rule``."""
    filt = f"FILTER (WHERE {value} IS NOT NULL)"
    if rule == "oldest":
        return f"arg_min({payload}, {ORDER}) {filt}"
    if rule == "source_priority":
        return f"arg_max({payload}, {{'p': prio, 'o': {ORDER}}}) {filt}"
    return f"arg_max({payload}, {ORDER}) {filt}"  # newest (most_frequent handled apart)


def _long_custom(ws: Workspace, layout: CustomLayout, cf_rule: str, cols: list[str],
                 grouped: str, passes: list[tuple[str, ...]]) -> None:
    """``_lb_gf_multi`` with custom fields merged in long form (key, value) rows: the list
    layout, and ``most_frequent`` (which counts values per key) for either layout. A struct
    is packed again a slice of keys per aggregate, as ``_custom_in_passes`` merges it."""
    con = ws.con
    if cf_rule == "most_frequent":
        cf_pick = ("arg_max(value, {'n': n, 'o': o}) AS value FROM (SELECT grp, key, value, "
                   f"count(*) AS n, max({ORDER}) AS o FROM _lb_cf GROUP BY grp, key, value)")
    else:
        cf_pick = _pick(cf_rule, "value", "value") + " AS value FROM _lb_cf"
    if layout.is_struct:
        items = ", ".join(f"{{'key': {lit(k)}, 'value': {layout.field('cf', k)}}}"
                          for k in layout.keys or ())
        entries = f"list_filter([{items}], lambda x: x.value IS NOT NULL)"
    else:
        entries = "cf"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _lb_cf AS
        SELECT grp, ord, prio, e.key AS key, e.value AS value
        FROM (SELECT grp, ord, prio, unnest({entries}) AS e FROM _lb_mm)""")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _lb_cfw AS SELECT grp, key, {cf_pick} "
                "GROUP BY grp, key")
    con.execute("DROP TABLE _lb_cf")
    if layout.is_struct:
        _join_passes(ws, layout, cols, grouped, passes, lambda keys: (
            "SELECT grp, {" + ", ".join(
                f"{lit(k)}: any_value(value) FILTER (WHERE key = {lit(k)})" for k in keys)
            + "} AS cf FROM _lb_cfw WHERE key IN (" + ", ".join(map(lit, keys))
            + ") GROUP BY grp"))
    else:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _lb_gf_multi AS
            SELECT {', '.join(cols)}, g.grp, coalesce(c.cf, {layout.empty()}) AS cf
            FROM ({grouped}) g
            LEFT JOIN (SELECT grp, list({{'key': key, 'value': value}} ORDER BY key) AS cf
                       FROM _lb_cfw GROUP BY grp) c USING (grp)""")
    con.execute("DROP TABLE _lb_cfw")


#: Custom-field keys merged per aggregate. One aggregate holds a string state per key and
#: cluster, and DuckDB cannot spill those: with 150 keys, 1M records ran out of the 2 GB cap.
KEYS_PER_PASS = 32


def _key_passes(layout: CustomLayout) -> list[tuple[str, ...]]:
    """The struct's keys in slices of ``KEYS_PER_PASS`` (one slice for a list layout)."""
    keys = layout.keys or ()
    return [keys[i:i + KEYS_PER_PASS] for i in range(0, len(keys), KEYS_PER_PASS)] or [()]


def _join_passes(ws: Workspace, layout: CustomLayout, cols: list[str], grouped: str,
                 passes: list[tuple[str, ...]], part: Callable[[tuple[str, ...]], str]) -> None:
    """``_lb_gf_multi``: the ``grouped`` fields and a struct packed whole from one table per
    slice of keys (``part(keys)`` selects ``grp`` and a struct ``cf`` of those keys; a group
    missing from a slice's table has none of its keys)."""
    con = ws.con
    for i, keys in enumerate(passes):
        con.execute(f"CREATE OR REPLACE TEMP TABLE _lb_cfp{i} AS {part(keys)}")
    where = {k: layout.field(f"p{i}.cf", k) for i, keys in enumerate(passes) for k in keys}
    joins = " ".join(f"LEFT JOIN _lb_cfp{i} p{i} USING (grp)" for i in range(len(passes)))
    con.execute(f"CREATE OR REPLACE TEMP TABLE _lb_gf_multi AS "
                f"SELECT {', '.join(cols)}, g.grp, {layout.pack(where)} AS cf "
                f"FROM ({grouped}) g {joins}")
    for i in range(len(passes)):
        con.execute(f"DROP TABLE _lb_cfp{i}")


def _custom_in_passes(ws: Workspace, layout: CustomLayout, cf_rule: str, cols: list[str],
                      grouped: str, passes: list[tuple[str, ...]]) -> None:
    """``_lb_gf_multi`` with a wide struct merged a slice of keys per aggregate, each into a
    table of its own, then packed whole again in one join by group."""
    _join_passes(ws, layout, cols, grouped, passes, lambda keys: (
        "SELECT grp, {" + ", ".join(
            f"{lit(k)}: {_pick(cf_rule, layout.field('cf', k), layout.field('cf', k))}"
            for k in keys) + "} AS cf FROM _lb_mm GROUP BY grp"))


def merge(ws: Workspace, options: EngineOptions, layout: CustomLayout) -> str:
    """Aggregate multi-record groups into ``_lb_gf_multi``; return a SQL relation of every
    group's merged fields (golden columns, email_key, phone_key, cf) with its
    ``lb_group_ref`` columns (row_ref, records, first_source, first_source_id, sort_key)."""
    con = ws.con
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _lb_mo AS
        -- ranked on a narrow projection: a window sorts its whole payload
        SELECT rid, row_number() OVER (
                 ORDER BY recency_us, coalesce(created_us, -9223372036854775807), source,
                          source_id) AS ord
        FROM lb_norm JOIN lb_grp USING (rid) WHERE records > 1""")
    # read once (the default rules): a view, so the wide rows are never copied; read
    # several times (most_frequent, long-form custom fields): a table
    rules = [options.rule(RULE_NAME.get(c, c)) for c in FIELDS] + [options.rule("custom_fields")]
    passes = _key_passes(layout)
    once = layout.is_struct and "most_frequent" not in rules and len(passes) <= 1
    con.execute(f"""
        CREATE OR REPLACE TEMP {'VIEW' if once else 'TABLE'} _lb_mm AS
        SELECT m.*, {_prio(options)} AS prio, o.ord FROM lb_mrec m JOIN _lb_mo o USING (rid)""")
    selects, joins, cols = [], [], []
    for col, (value, group) in FIELDS.items():
        rule = options.rule(RULE_NAME.get(col, col))
        key_col = KEY_COLUMNS.get(col)
        if rule == "most_frequent":
            payload = f"{{'v': {value}, 'k': {key_col[0]}}}" if key_col else value
            cte = f"_mf_{col}"
            joins.append(f"""LEFT JOIN (
                SELECT grp, arg_max(v, {{'n': n, 'o': o}}) AS v FROM (
                  SELECT grp, {group} AS g, count(*) AS n, arg_max({payload}, {ORDER}) AS v,
                         max({ORDER}) AS o
                  FROM _lb_mm WHERE {value} IS NOT NULL GROUP BY grp, {group})
                GROUP BY grp) {cte} USING (grp)""")
            selects.append(f"any_value({cte}.v) AS {col}")
            cols += ([f"(g.{col}).v AS {col}", f"(g.{col}).k AS {key_col[1]}"] if key_col
                     else [f"g.{col}"])
        elif key_col:
            # value and key as two plain string aggregates, not one of a {v, k} struct: the
            # order is unique, so both pick the same record, and DuckDB's string arg_max is
            # cheaper than its generic (struct) one (about 11% on 3M rows in isolation)
            selects += [f"{_pick(rule, value, value)} AS {col}",
                        f"{_pick(rule, value, key_col[0])} AS {key_col[1]}"]
            cols += [f"g.{col}", f"g.{key_col[1]}"]
        else:
            selects.append(f"{_pick(rule, value, value)} AS {col}")
            cols.append(f"g.{col}")
    cf_rule = options.rule("custom_fields")
    direct = layout.is_struct and cf_rule != "most_frequent"
    if direct and len(passes) == 1:  # key by key as plain aggregates of the struct's fields
        selects.append(layout.pack({
            k: _pick(cf_rule, layout.field("cf", k), layout.field("cf", k))
            for k in layout.keys or ()}) + " AS cf")
    grouped = f"SELECT grp, {', '.join(selects)} FROM _lb_mm {' '.join(joins)} GROUP BY grp"
    if direct and len(passes) == 1:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _lb_gf_multi AS "
                    f"SELECT {', '.join(cols)}, g.grp, g.cf FROM ({grouped}) g")
    elif direct:
        _custom_in_passes(ws, layout, cf_rule, cols, grouped, passes)
    else:
        _long_custom(ws, layout, cf_rule, cols, grouped, passes)
    con.execute(f"DROP {'VIEW' if once else 'TABLE'} _lb_mm")
    con.execute("DROP TABLE _lb_mo")
    # single-record groups take their record as is (lb_mrec carries row_ref and sort_key)
    refs = "r.row_ref, r.records, r.first_source, r.first_source_id, r.sort_key"
    return f"""
        SELECT m.contact_name, m.contact_email, m.email_key, m.contact_phone, m.phone_key,
               m.source_platform, m.source_type, m.stage_slug, m.owner_id, m.lead_line, m.cf,
               {refs}
        FROM _lb_gf_multi m JOIN lb_group_ref r ON r.grp = m.grp
        UNION ALL
        SELECT m.name, m.email_send, m.ekey, m.phone_send, m.pkey_send, m.source_platform,
               m.source_type, m.stage_slug, m.owner_id, m.lead_line, m.cf, m.row_ref,
               m.records, m.source, m.source_id, m.sort_key
        FROM lb_mrec m WHERE m.records = 1"""
