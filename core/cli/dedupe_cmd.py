"""`leadbridge dedupe NAME [PATH] --out DIR` (or `--job job.toml --out DIR`): offline dedup.

Writes golden.parquet, lineage.parquet, conflicts.parquet, placeholders.parquet and
chunks.jsonl to DIR and prints a summary. Nothing is sent anywhere. With a job file, its
source, ``[engine]`` options and ``[mapping]`` apply, so the files show exactly the rows the
job's sync would build.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import typer

from ..connector import Connector
from ..errors import ConfigError
from ._common import (MEMORY_LIMIT_HELP, connector_from_args, friendly_errors, memory_cap,
                      parse_options)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("dedupe")(dedupe_command)


class _Mapped(Connector):
    """A connector's records with a job's [mapping] applied on the stream, as sync does."""

    def __init__(self, inner: Connector, mapped: Any) -> None:
        super().__init__()
        self.name = inner.name  # type: ignore[misc]  # staged under the source's own name
        self._inner, self._mapped = inner, mapped

    def records(self, state: dict[str, Any]) -> Iterator[Any]:
        yield from self._mapped.wrap(self._inner.records(state))


def _from_job(job: Path) -> tuple[Connector, Any]:
    """The job's connector and engine options, its [mapping] applied as sync applies it:
    on the stream, with mapped stages and owners passing the engine unchanged."""
    from ..engine import EngineOptions
    from ..mapping_run import prepare
    from ..pipeline import load_job
    from ..plugins import load_registry

    spec = load_job(job)
    mapped = prepare(spec.mapping)
    options = mapped.engine_options(EngineOptions.from_table(spec.engine))
    connector = load_registry().get(spec.connector).cls(**spec.options)
    if spec.mapping is not None:
        connector = _Mapped(connector, mapped)
    return connector, options


def _output_folder(out: Path) -> None:
    """Create ``--out`` before reading anything: a file or an unwritable place there is a
    ConfigError, not an OSError traceback once the source has been read."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is a file; give a folder (created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {str(out)!r} cannot be created ({exc.strerror or exc}); "
                          "give another folder") from None


@friendly_errors
def dedupe_command(
    name: Optional[str] = typer.Argument(
        None, help="Connector name (see `leadbridge connectors`), e.g. csv."),
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
    job: Optional[Path] = typer.Option(
        None, "--job", help="TOML job file: its source, [engine] and [mapping] (as sync uses)."),
    engine_option: Optional[list[str]] = typer.Option(
        None, "--engine-option", help="Engine option key=value (repeatable): household=separate, "
        "placeholder_guard=false, placeholder_threshold=N, survivorship.FIELD=RULE, "
        "source_priority=a,b."),
    memory_limit: str = typer.Option("2GB", "--memory-limit", help=MEMORY_LIMIT_HELP),
) -> None:
    """De-duplicate a source offline exactly as MEGA would merge it; write the plan files."""
    from ..engine import EngineOptions, dedupe

    if job is not None and engine_option:
        raise ConfigError("--job names the engine options in its [engine] table; drop "
                          "--engine-option or the --job option")
    options = EngineOptions.from_pairs(parse_options(engine_option))  # before any read
    connector = connector_from_args(name, path, option, job, id_column=id_column,
                                    encoding=encoding)
    if connector is None:  # --job names the source, its [engine] and its [mapping]
        connector, options = _from_job(job)
    _output_folder(out)  # once every argument is valid, before the source is read
    result = dedupe(connector, out, workspace=workspace, options=options,
                    customer_id=customer_id, memory_limit=memory_cap(memory_limit))
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
