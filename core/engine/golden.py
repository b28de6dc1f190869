"""Golden rows: row_ref, the MEGA fields, content hash and order.

The canonical JSON of each bulk row is built in SQL byte-for-byte like
``chunking.canonical_json(chunking.bulk_row(row))`` (sorted keys, no spaces, UTF-8, empty
values dropped) so chunks need no Python per row; tests/properties checks both agree.
``content_hash`` is sha256 of that JSON without ``row_ref``: the sync pipeline re-sends a row
only when it changed.

The row JSON itself is not stored: ``row_json_sql`` rebuilds it from the golden columns
where chunks are cut. Stored, it was about a third of the table, which sat in DuckDB's
memory under the chunk writer (not storing it lowered the peak at 5M records by 0.25 GB).
"""

from __future__ import annotations

from ..workspace import Workspace
from .custom import CustomLayout

#: JSON keys in canonical (sorted) order around custom_fields and row_ref
_BEFORE_CF = ("contact_email", "contact_name", "contact_phone")
_AFTER_CF = ("lead_line", "owner_id")
_AFTER_ROW_REF = ("source_platform", "source_type", "stage_slug")


def _field(name: str, expr: str) -> str:
    return f"CASE WHEN {expr} IS NOT NULL AND {expr} <> '' THEN '\"{name}\":' || to_json({expr}) END"


def _parts() -> tuple[str, str]:
    """SQL of the JSON members before ``row_ref`` and after it, over golden's columns."""
    cf = "CASE WHEN custom_fields IS NOT NULL THEN '\"custom_fields\":' || custom_fields END"
    head = ", ".join(_field(c, c) for c in _BEFORE_CF)
    mid = ", ".join(_field(c, c) for c in _AFTER_CF)
    tail = ", ".join(_field(c, c) for c in _AFTER_ROW_REF)
    return f"concat_ws(',', {head}, {cf}, {mid})", f"concat_ws(',', {tail})"


def row_json_sql() -> str:
    """SQL over golden's columns: a row's canonical bulk-row JSON, ``row_ref`` included."""
    before, after = _parts()
    return (f"'{{' || concat_ws(',', nullif({before}, ''), "
            f"'\"row_ref\":' || to_json(row_ref), nullif({after}, '')) || '}}'")


def build_golden(ws: Workspace, fields: str, layout: CustomLayout) -> None:
    """Create ``golden`` from the merged ``fields`` relation (which carries the group refs)."""
    before, after = _parts()
    ws.con.execute(f"""
        CREATE OR REPLACE TABLE golden AS
        WITH g AS (
          SELECT f.row_ref, f.contact_name, f.contact_email, f.contact_phone, f.source_platform,
                 f.source_type, f.stage_slug, f.owner_id, f.lead_line,
                 {layout.to_json('f.cf')} AS custom_fields, f.email_key, f.phone_key,
                 f.records, f.first_source, f.first_source_id, f.sort_key
          FROM ({fields}) f
        )
        SELECT row_ref, contact_name, contact_email, contact_phone, source_platform,
               source_type, stage_slug, owner_id, lead_line, custom_fields, email_key,
               phone_key,
               sha256('{{' || concat_ws(',', nullif({before}, ''), nullif({after}, ''))
                      || '}}') AS content_hash,
               sort_key, records, first_source, first_source_id
        FROM g
    """)
