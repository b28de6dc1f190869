"""`leadbridge dedupe NAME [PATH] --out DIR`: offline dedup of any connector's records.

Writes golden.parquet, lineage.parquet, conflicts.parquet, placeholders.parquet and
chunks.jsonl to DIR and prints a summary. Nothing is sent anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._common import build_connector, friendly_errors, parse_options


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("dedupe")(dedupe_command)


@friendly_errors
def dedupe_command(
    name: str = typer.Argument(..., help="Connector name (see `leadbridge connectors`), e.g. csv."),
    path: Optional[str] = typer.Argument(None, help="File or folder for file connectors."),
    out: Path = typer.Option(..., "--out", help="Folder the outputs are written to."),
    id_column: Optional[str] = typer.Option(None, "--id-column", help="Column holding each record's stable id."),
    option: Optional[list[str]] = typer.Option(None, "--option", help="Connector option key=value (repeatable)."),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="Text encoding of the file."),
    workspace: Optional[Path] = typer.Option(
        None, "--workspace", help="DuckDB workspace file to stage into (default: in memory)."),
    customer_id: Optional[str] = typer.Option(
        None, "--customer-id", help="MEGA customer id for idempotency keys "
        "(default: MEGA_CUSTOMER_ID, else an offline placeholder)."),
    engine_option: Optional[list[str]] = typer.Option(
        None, "--engine-option", help="Engine option key=value (repeatable): household=separate, "
        "placeholder_guard=false, placeholder_threshold=N, survivorship.FIELD=RULE, "
        "source_priority=a,b."),
) -> None:
    """De-duplicate a source offline exactly as MEGA would merge it; write the plan files."""
    from ..engine import EngineOptions, dedupe

    options = EngineOptions.from_pairs(parse_options(engine_option))  # checked before any read
    connector = build_connector(name, path, option, id_column=id_column, encoding=encoding)
    result = dedupe(connector, out, workspace=workspace, options=options,
                    customer_id=customer_id)
    s = result.summary()
    lines = [
        ("records", s["records"]),
        ("rejected", s["rejected"]),
        ("deleted", s["deleted"]),
        ("distinct email keys", s["distinct_email_keys"]),
        ("distinct phone keys", s["distinct_phone_keys"]),
        ("clusters (golden rows)", s["clusters"]),
        ("largest cluster", s["largest_cluster"]),
        ("conflicts", s["conflicts"]),
        ("placeholder keys", s["placeholder_keys"]),
        ("invalid emails", s["invalid_emails"]),
        ("short phones", s["short_phones"]),
        ("chunks", s["chunks"]),
    ]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        typer.echo(f"{label:<{width}}  {value}")
    typer.echo(f"wrote {', '.join(p.name for p in result.files.values())} to {result.out_dir} "
               f"in {result.seconds:.1f}s")
