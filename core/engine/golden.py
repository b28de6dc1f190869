"""Golden rows: row_ref, canonical JSON of each bulk row, content hash and order.

The JSON is built in SQL byte-for-byte like ``chunking.canonical_json(chunking.bulk_row(row))``
(sorted keys, no spaces, UTF-8, empty values dropped) so chunks need no Python per row;
tests/properties checks both agree. ``content_hash`` is sha256 of that JSON without
``row_ref``: the sync pipeline re-sends a row only when it changed.
"""

from __future__ import annotations

from ..workspace import Workspace
from .custom import CustomLayout


def _field(name: str, expr: str) -> str:
    return f"CASE WHEN {expr} IS NOT NULL AND {expr} <> '' THEN '\"{name}\":' || to_json({expr}) END"


def build_golden(ws: Workspace, fields: str, layout: CustomLayout) -> None:
    """Create ``golden`` from the merged ``fields`` relation (which carries the group refs)."""
    before = ["contact_email", "contact_name", "contact_phone"]
    after_cf = ["lead_line", "owner_id"]
    tail = ["source_platform", "source_type", "stage_slug"]
    head = ", ".join(_field(c, c) for c in before)
    mid = ", ".join(_field(c, c) for c in after_cf)
    end = ", ".join(_field(c, c) for c in tail)
    cf = "CASE WHEN custom_fields IS NOT NULL THEN '\"custom_fields\":' || custom_fields END"
    ws.con.execute(f"""
        CREATE OR REPLACE TABLE golden AS
        WITH g AS (
          SELECT f.row_ref, f.contact_name, f.contact_email, f.contact_phone, f.source_platform,
                 f.source_type, f.stage_slug, f.owner_id, f.lead_line,
                 {layout.to_json('f.cf')} AS custom_fields, f.email_key, f.phone_key,
                 f.records, f.first_source, f.first_source_id, f.sort_key
          FROM ({fields}) f
        ), j AS (
          SELECT *,
            concat_ws(',', {head}, {cf}, {mid}) AS _a,
            concat_ws(',', {end}) AS _b
          FROM g
        )
        SELECT row_ref, contact_name, contact_email, contact_phone, source_platform,
               source_type, stage_slug, owner_id, lead_line, custom_fields, email_key,
               phone_key,
               sha256('{{' || concat_ws(',', nullif(_a, ''), nullif(_b, '')) || '}}') AS content_hash,
               sort_key,
               records, first_source, first_source_id,
               '{{' || concat_ws(',', nullif(_a, ''), '"row_ref":' || to_json(row_ref),
                                 nullif(_b, '')) || '}}' AS row_json
        FROM j
    """)
