"""Normalize staged records in SQL: keys, validity flags, cleaned values, reject reasons.

Every key comes from the ``lb_*`` macros of ``leadbridge.mega_model`` so the engine keys
exactly like the sandbox and planner (Python). Phones are normalized once per distinct raw
value, then joined back (many records share a raw phone).
"""

from __future__ import annotations

import json

from ..mega_model import (
    LEAD_LINES,
    PHONE_EXTENSION_SQL,
    PHONE_KEY_DIGITS,
    SOURCE_PLATFORMS,
    SOURCE_TYPES,
    SURROUNDING_WHITESPACE,
    duckdb_macros,
)
from ..workspace import Workspace
from . import phones
from .custom import HOUSEHOLD_KEY, CustomLayout, lit
from .options import EngineOptions

NO_CONTACT = "no usable name, email or phone"
DELETED = "deleted at source"


def _in_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def _map_table(ws: Workspace, name: str, mapping: dict[str, str] | None) -> None:
    ws.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} (src VARCHAR, dst VARCHAR)")
    if mapping:
        ws.con.executemany(f"INSERT INTO {name} VALUES (?, ?)",
                           [[k, v] for k, v in mapping.items()])


def _custom_sql(ws: Workspace, engine: dict[str, str],
                extra_keys: tuple[str, ...] = ()) -> tuple[str, str, CustomLayout]:
    """(extra column for the records scan, SQL of the custom fields, their layout) — the
    source's custom fields plus leadbridge's own (``engine``: key -> SQL value, which wins
    over a source key of the same name; ``extra_keys``: keys filled in later steps).

    Casting JSON to MAP costs ~4 us a row; when the distinct keys are few (a file's extra
    columns) a struct transform with every key is ten times faster, and the result stays a
    STRUCT through merge and JSON (see ``custom.py``). Keys differing only by case (struct
    fields are case-insensitive) or very many keys take the MAP cast and the list form.
    """
    valid = ("CASE WHEN json_valid(r.custom_fields) AND json_type(r.custom_fields) = 'OBJECT' "
             "THEN r.custom_fields END")
    # try(): invalid JSON gives NULL and any non-object [] / a struct of NULLs, exactly what
    # the `valid` guard gives, in one parse instead of three (json_valid, json_type, then this)
    keys = sorted(k for (k,) in ws.con.execute(
        "SELECT DISTINCT unnest(try(json_keys(r.custom_fields))) FROM records r").fetchall())
    nonempty = "lambda x: x.value IS NOT NULL AND x.value <> ''"
    layout = CustomLayout.choose(ws.con, keys, [*engine, *extra_keys])
    if layout.is_struct:
        spec = json.dumps({k: "VARCHAR" for k in keys}, ensure_ascii=False).replace("'", "''")
        extra = (f"try(json_transform(r.custom_fields, '{spec}')) AS _cfs" if keys
                 else "NULL AS _cfs")
        values = {}
        for key in layout.keys or ():
            source = f"struct_extract(r._cfs, {lit(key)})" if key in keys else None
            value = engine.get(key)
            value = (f"coalesce({value}, {source})" if value and source else value or source)
            if value:
                values[key] = f"nullif({value}, '')"
        return extra, layout.pack(values), layout
    engine_items = ", ".join(f"{{'key': {lit(k)}, 'value': {v}}}" for k, v in sorted(engine.items()))
    # a source key of an engine key's name survives where the engine value is NULL (as the
    # struct form's coalesce does)
    overridden = " AND ".join(f"NOT (x.key = {lit(k)} AND ({v}) IS NOT NULL)"
                              for k, v in sorted(engine.items())) or "true"
    return "NULL AS _cfs", (
        f"list_sort(list_concat(list_filter(map_entries(coalesce(try_cast(try_cast({valid} "
        f"AS JSON) AS MAP(VARCHAR, VARCHAR)), MAP {{}})), lambda x: x.value IS NOT NULL AND "
        f"x.value <> '' AND {overridden}), "
        f"list_filter([{engine_items}], {nonempty})))"), layout


def _fast_strip(ws: Workspace) -> None:
    """``lb_fstrip``: ``lb_strip`` that skips its regex when neither end is whitespace (almost
    every value): the same result at a fraction of the cost over a dozen columns. The email
    macros and the phone's extension split of ``mega_model`` get ``lb_f*`` twins calling it
    (same text otherwise)."""
    chars = lit(SURROUNDING_WHITESPACE)
    ws.con.execute(f"""
        CREATE OR REPLACE TEMP MACRO lb_fstrip(s) AS CASE
          WHEN s = '' OR (NOT contains({chars}, left(s, 1)) AND NOT contains({chars}, right(s, 1)))
          THEN s ELSE lb_strip(s) END""")
    for statement in duckdb_macros():
        for name in ("lb_email_key", "lb_email_valid", "lb_phone_noext"):
            if f"MACRO {name}(" in statement:
                ws.con.execute(statement.replace(f"MACRO {name}(", f"TEMP MACRO lb_f{name[3:]}(")
                               .replace("lb_strip(", "lb_fstrip("))


def normalize(ws: Workspace, options: EngineOptions) -> CustomLayout:
    """Create temp ``lb_norm``: one row per staged record with keys, flags and cleaned values;
    return the layout of its ``custom`` column."""
    con = ws.con
    _fast_strip(ws)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lb_phone_raw AS
        -- lb_phone_clean/key/ext, with the extension split and the digit regex done once
        -- per value (the macros each redo them); digits feeds the classifier as is
        SELECT raw, CASE WHEN digits <> '' THEN noext END AS clean,
               nullif(right(digits, {PHONE_KEY_DIGITS}), '') AS key,
               CASE WHEN noext IS DISTINCT FROM lb_fstrip(raw)
                    THEN regexp_extract(raw, '{PHONE_EXTENSION_SQL}', 1, 'i') END AS ext,
               CASE WHEN digits <> '' THEN digits END AS digits
        FROM (SELECT raw, noext, regexp_replace(noext, '[^0-9]', '', 'g') AS digits
              FROM (SELECT raw, lb_fphone_noext(raw) AS noext FROM (
                SELECT DISTINCT contact_phone AS raw FROM records WHERE contact_phone IS NOT NULL)))
    """)
    if options.classify_phones:
        phones.classify(ws, "lb_phone_raw", options.phone_region)
    else:
        con.execute("CREATE OR REPLACE TABLE lb_phone_class (clean VARCHAR, status VARCHAR, "
                    "e164 VARCHAR)")
    # stage and owner repeat: without a user map, each DISTINCT value is converted once
    # into the same (src, dst) table a user map fills, joined like one
    slug = "nullif(trim(regexp_replace(lower(lb_fstrip(src)), '[^a-z0-9]+', '_', 'g'), '_'), '')"
    uuid = ("CASE WHEN regexp_full_match(lb_fstrip(src), '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-"
            "[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}') THEN lb_fstrip(src) END")
    for name, column, mapping, derived in (("_lb_stage_map", "stage", options.stage_map, slug),
                                           ("_lb_owner_map", "owner", options.owner_map, uuid)):
        if mapping is not None:
            _map_table(ws, name, dict(mapping))
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT src, {derived} AS dst "
                        f"FROM (SELECT DISTINCT {column} AS src FROM records "
                        f"WHERE {column} IS NOT NULL)")
    stage_expr = "sm.dst"
    owner_expr = "om.dst"
    owner_raw = "nullif(r._owner, '')"
    cf_extra, custom_sql, layout = _custom_sql(ws, {
        "phone_extension": "p.ext",
        "source_owner": f"CASE WHEN ({owner_expr}) IS NULL THEN {owner_raw} END",
    }, (HOUSEHOLD_KEY,) if options.household == "separate" else ())
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE lb_norm AS
        WITH base AS (
          SELECT r._rid AS rid, r.source, r.source_id,
            -- first and last are stripped, so their join needs no strip of its own
            coalesce(nullif(r._name, ''),
                     nullif(concat_ws(' ', nullif(lb_fstrip(r.first_name), ''),
                                           nullif(lb_fstrip(r.last_name), '')), '')
            ) AS name,
            nullif(r._email, '') AS email_raw,
            lb_femail_valid(r._email) AS email_ok,  -- the macros' own strip is now a no-op
            lb_femail_key(r._email) AS email_key0,
            r.contact_phone AS phone_raw,
            p.clean AS phone_clean, p.key AS phone_key, p.ext AS phone_ext,
            pc.status AS phone_status, pc.e164 AS phone_e164,
            CASE WHEN r._platform IN {_in_list(SOURCE_PLATFORMS)} THEN r._platform END
              AS source_platform,
            CASE WHEN r._type IN {_in_list(SOURCE_TYPES)} THEN r._type END AS source_type,
            CASE WHEN r._line IN {_in_list(LEAD_LINES)} THEN r._line END AS lead_line,
            {stage_expr} AS stage_slug,
            {owner_expr} AS owner_id,
            nullif(r._owner, '') AS owner_raw,
            {custom_sql} AS custom,
            epoch_us(try_cast(r.updated_at AS TIMESTAMPTZ)) AS updated_us,
            epoch_us(try_cast(r.created_at AS TIMESTAMPTZ)) AS created_us,
            nullif(lb_fstrip(r.reject_reason), '') AS source_reject,
            coalesce(r.deleted, false) AS deleted
          -- each stripped value once (a macro repeats its argument in every branch)
          FROM (SELECT r.rowid AS _rid, r.*, {cf_extra}, lb_fstrip(r.contact_name) AS _name,
                       lb_fstrip(r.contact_email) AS _email, lb_fstrip(r.owner) AS _owner,
                       lb_fstrip(r.source_platform) AS _platform,
                       lb_fstrip(r.source_type) AS _type, lower(lb_fstrip(r.lead_line)) AS _line
                FROM records r) r
          LEFT JOIN lb_phone_raw p ON p.raw = r.contact_phone
          LEFT JOIN lb_phone_class pc ON pc.clean = p.clean
          LEFT JOIN _lb_stage_map sm ON sm.src = r.stage
          LEFT JOIN _lb_owner_map om ON om.src = r.owner
        )
        SELECT * EXCLUDE (email_ok, email_key0, phone_raw, phone_ext, phone_e164, owner_raw,
                          updated_us),  -- read by no later step
          CASE WHEN email_ok THEN email_key0 END AS email_key,
          email_raw IS NOT NULL AND NOT email_ok AS email_invalid,
          length(phone_key) < {PHONE_KEY_DIGITS} AS phone_short,
          -- recency: newest first by updated_at, then created_at; unknown times count oldest
          coalesce(updated_us, created_us, -9223372036854775807) AS recency_us
        FROM base
    """)
    return layout
