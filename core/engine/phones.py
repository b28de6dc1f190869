"""Phone classification: phonenumbers decides valid / possible / invalid, once per DISTINCT phone.

Why not a Python call per phone: at millions of distinct numbers phonenumbers costs ~60 us
each (minutes). So the numbers of the default region's country code (NANP for ``US``) are
classified in SQL with phonenumbers' *own metadata patterns*, replaying its region lookup
(``_region_code_for_number_from_list``) and type check (``_number_type_helper``) exactly;
every other distinct value (international, odd lengths) goes through phonenumbers itself in
one vectorized Python UDF. tests/properties checks the SQL path equals phonenumbers.
"""

from __future__ import annotations

import functools

import phonenumbers
import pyarrow as pa
from phonenumbers import PhoneMetadata

from ..workspace import Workspace

_TYPE_DESCS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager",
               "uan", "voicemail", "fixed_line", "mobile")


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _matches(desc: object, length: int) -> str | None:
    """SQL full-match of one PhoneNumberDesc for numbers of ``length`` digits (or None)."""
    if desc is None or getattr(desc, "national_number_pattern", None) is None:
        return None
    lengths = getattr(desc, "possible_length", ()) or ()
    if lengths and length not in lengths:
        return None
    return f"regexp_full_match(n, {_q(desc.national_number_pattern)})"


@functools.lru_cache(maxsize=8)
def fast_path_sql(region: str) -> tuple[int, int, str] | None:
    """(country code, national length, SQL boolean over ``n``) for the region's country.

    Only for a country whose numbers all have one national length (NANP: 10), so the
    number's national part is simply its last ``length`` digits.
    """
    meta = PhoneMetadata.metadata_for_region(region.upper(), None)
    if meta is None:
        return None
    code = meta.country_code
    lengths = set(meta.general_desc.possible_length or ())
    if len(lengths) != 1:
        return None
    length = lengths.pop()
    branches = []
    for name in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
        rmeta = PhoneMetadata.metadata_for_region(name, None)
        if rmeta is None:
            continue
        general = _matches(rmeta.general_desc, length)
        types = [m for m in (_matches(getattr(rmeta, t), length) for t in _TYPE_DESCS) if m]
        known = f"({general} AND ({' OR '.join(types)}))" if general and types else "false"
        if rmeta.leading_digits is not None:
            branches.append(f"WHEN regexp_matches(n, {_q('^(?:' + rmeta.leading_digits + ')')}) "
                            f"THEN {known}")
        else:
            branches.append(f"WHEN {known} THEN true")
    return code, length, "CASE " + " ".join(branches) + " ELSE false END"


def classify_python(values: list[str | None], region: str) -> list[tuple[str, str | None]]:
    """phonenumbers itself: (status, E.164 or None) per value."""
    out: list[tuple[str, str | None]] = []
    for value in values:
        if value is None:
            out.append(("invalid", None))
            continue
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            out.append(("invalid", None))
            continue
        if phonenumbers.is_valid_number(number):
            out.append(("valid", phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.E164)))
        elif phonenumbers.is_possible_number(number):
            out.append(("possible", None))
        else:
            out.append(("invalid", None))
    return out


def classify(ws: Workspace, source_table: str, region: str = "US") -> None:
    """Create ``lb_phone_class(clean, status, e164)`` for every distinct ``clean`` phone
    in ``source_table`` (a trusted internal table name with ``clean`` and its ``digits``)."""
    con = ws.con
    fast = fast_path_sql(region)
    # digits of clean = the digits the source table already holds (clean is the value
    # without its extension, digits its digits): no second regex pass
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _lb_phone_digits AS
        SELECT clean, any_value(digits) AS digits, starts_with(clean, '+') AS plus
        FROM {source_table} WHERE clean IS NOT NULL GROUP BY clean""")
    parts = []
    if fast:
        code, length, valid_sql = fast
        cc = str(code)
        # national number: exactly `length` digits without '+', or '+'/'' + cc + `length` digits
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _lb_phone_fast AS
            SELECT clean, right(digits, {length}) AS n FROM _lb_phone_digits
            WHERE (NOT plus AND length(digits) = {length} AND digits[1] NOT IN ('0', '1'))
               OR (length(digits) = {length + len(cc)} AND starts_with(digits, '{cc}')
                   AND substr(digits, {len(cc) + 1}, 1) NOT IN ('0', '1'))""")
        parts.append(f"""
            SELECT clean, CASE WHEN v THEN 'valid' ELSE 'possible' END AS status,
                   CASE WHEN v THEN '+{cc}' || n END AS e164
            FROM (SELECT clean, n, {valid_sql} AS v FROM _lb_phone_fast)""")
        rest = "SELECT clean FROM _lb_phone_digits ANTI JOIN _lb_phone_fast USING (clean)"
    else:
        rest = "SELECT clean FROM _lb_phone_digits"
    others = con.sql(rest).to_arrow_table()
    values = others.column("clean").to_pylist()
    classified = classify_python(values, region)
    slow = pa.table({
        "clean": pa.array(values, pa.string()),
        "status": pa.array([s for s, _ in classified], pa.string()),
        "e164": pa.array([e for _, e in classified], pa.string()),
    })
    con.register("_lb_phone_slow", slow)
    try:
        parts.append("SELECT clean, status, e164 FROM _lb_phone_slow")
        con.execute("CREATE OR REPLACE TABLE lb_phone_class AS " + " UNION ALL ".join(parts))
    finally:
        con.unregister("_lb_phone_slow")
    con.execute("DROP TABLE IF EXISTS _lb_phone_fast")
    con.execute("DROP TABLE _lb_phone_digits")
