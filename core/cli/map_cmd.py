"""`leadbridge map NAME [PATH]`: inspect a source and propose a job file with its mapping.

Reads the source (fields, distinct stage/owner/line values with counts), compares it with
what is known of MEGA (``--stages``/``--owners``/``--custom-fields``, the workspace's
``leadbridge pull`` snapshot, and with ``--probe`` a ``dry_run`` request), and writes a
complete job file: exact matches, rapidfuzz suggestions with their scores, and ``TODO``
entries for the rest. Nothing is sent except the optional dry_run probe.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import ConfigError
from ..pipeline.job import _SECRET_WORDS  # the words the job loader refuses as keys
from ._common import (build_connector, friendly_errors, open_output, parse_options,
                      quiet_retry_logs, refuse_folder)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("map")(map_command)


def _split(values: Optional[list[str]]) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@friendly_errors
def map_command(
    name: str = typer.Argument(..., help="Connector name (see `leadbridge connectors`)."),
    path: Optional[str] = typer.Argument(None, help="The connector's input (file path)."),
    option: Optional[list[str]] = typer.Option(None, "--option", "-o",
                                               help="Connector option key=value (repeatable)."),
    id_column: Optional[str] = typer.Option(None, "--id-column",
                                            help="Column holding each record's id."),
    workspace: Optional[Path] = typer.Option(
        None, "--workspace", help="Workspace whose `leadbridge pull` snapshot shows MEGA's "
        "stages, owners and custom fields in use."),
    stages: Optional[list[str]] = typer.Option(
        None, "--stages", help="MEGA stage slugs of the customer's pipeline (comma-separated)."),
    owners: Optional[list[str]] = typer.Option(
        None, "--owners", help="MEGA owners: UUID or EMAIL=UUID / Name=UUID, comma-separated "
        "(MEGA does not expose owner emails: this is how source owners match by email)."),
    custom_fields: Optional[list[str]] = typer.Option(
        None, "--custom-fields", help="Custom-field slugs MEGA defines (comma-separated)."),
    probe: bool = typer.Option(
        False, "--probe", help="Ask MEGA (MEGA_TOKEN, MEGA_CUSTOMER_ID, MEGA_BASE_URL) with one "
        "dry_run request which candidate stages, owners and custom-field slugs it knows."),
    output: Optional[Path] = typer.Option(None, "--output",
                                          help="Write the job file here (default: stdout)."),
    limit: Optional[int] = typer.Option(None, "--limit",
                                        help="Read at most this many records."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --output file."),
) -> None:
    """Inspect a source and propose a complete job file mapping it onto MEGA."""
    from ..mapping_inspect import profile
    from ..mapping_suggest import MegaSide, parse_owners, propose, render

    if output is not None:
        refuse_folder(output, "--output")
    if output is not None and output.exists() and not force:
        raise ConfigError(f"{str(output)!r} exists; pass --force to overwrite it")
    if limit is not None and limit < 1:
        raise ConfigError("--limit must be at least 1")
    for flag, given in (("--stages", stages), ("--owners", owners)):
        if given and not _split(given):  # `stages = []` would read as "not known" later
            raise ConfigError(f"{flag} lists nothing: give the values, comma-separated, or "
                              "leave the option out")
    if probe and not os.environ.get("MEGA_TOKEN"):  # before reading a large source
        raise ConfigError("--probe asks MEGA: set MEGA_TOKEN and MEGA_CUSTOMER_ID (and "
                          "MEGA_BASE_URL for a sandbox)")
    mega = MegaSide(stages=_split(stages), custom_fields=_split(custom_fields),
                    owners=parse_owners(_split(owners) or []) if owners else None)
    mega.origin = {k: "--" + k.replace("_", "-") for k in ("stages", "owners", "custom_fields")
                   if getattr(mega, k) is not None}
    if workspace is not None:  # before the source is read: a wrong path fails at once
        _add_snapshot(mega, workspace)
    connector = build_connector(name, path, option, id_column=id_column)
    prof = profile(connector.records({}), limit=limit)
    if probe:
        quiet_retry_logs()
        _add_probe(mega, prof)
    proposal = propose(prof, mega, source_platform=getattr(connector, "source_platform", None))
    options = _job_options(name, path, option, id_column, connector, output)
    text = render(proposal, connector=name, options=options, mega=mega,
                  records=prof.records, limited=prof.limited)
    if output is None:
        sys.stdout.write(text)
        out = sys.stderr
    else:
        with open_output(output, "--output") as fh:
            fh.write(text)
        out = sys.stdout
    for line in _summary(prof, proposal, output):
        print(line, file=out)


def _job_options(name: str, path: Optional[str], option: Optional[list[str]],
                 id_column: Optional[str], connector: Any, output: Optional[Path]
                 ) -> dict[str, Any]:
    given: dict[str, Any] = parse_options(option)
    positional = getattr(type(connector), "positional", None)
    if path is not None and positional:
        given[positional] = str(Path(path).resolve())  # the job file may live elsewhere
    if id_column:
        given["id_column"] = id_column
    return {k: v for k, v in given.items()
            if not any(w in k.lower() for w in _SECRET_WORDS)}


def _add_snapshot(mega: Any, workspace: Path) -> None:
    from ..mapping_suggest import Owner
    from ..mapping_validate import known_from_snapshot
    from ..pipeline import ledger, pull
    from ..workspace import Workspace

    if not workspace.exists():
        raise ConfigError(f"workspace {str(workspace)!r} does not exist; run `leadbridge pull "
                          "--workspace ...` first, or leave --workspace out")
    with Workspace.open(workspace) as ws:
        ledger.ensure(ws.con)
        pull.fold_queued(ws.con)
        customer = os.environ.get("MEGA_CUSTOMER_ID") or ledger.get_meta(
            ws.con, "sandbox_customer_id")
        if customer is None:
            rows = ws.con.execute("SELECT DISTINCT customer_id FROM mega_leads").fetchall()
            customer = rows[0][0] if len(rows) == 1 else None
        if customer is None:
            return
        snap = known_from_snapshot(ws.con, customer)
    for kind in ("stages", "custom_fields"):
        values = getattr(snap, kind)
        if values:
            mine = getattr(mega, kind)
            setattr(mega, kind, sorted(set(mine or ()) | set(values)))
            mega.origin.setdefault(kind, "pull snapshot (values in use only)")
    if snap.owners:
        have = {o.id for o in mega.owners or []}
        mega.owners = list(mega.owners or []) + [Owner(o) for o in sorted(snap.owners)
                                                 if o not in have]
        mega.origin.setdefault("owners", "pull snapshot (owners in use only)")


def _add_probe(mega: Any, prof: Any) -> None:
    from ..mapping_suggest import compact, slugify
    from ..mapping_validate import probe
    from ..mega import MegaClient

    fields = {f(k) for k in prof.custom_fields for f in (slugify, compact)} - {""}
    stage_values = {f(v) for v, _ in prof.values.get("stage", []) for f in (slugify, compact)}
    stage_values |= set(mega.stages or ())
    owner_ids = {o.id for o in mega.owners or []}
    with MegaClient() as client:
        result = probe(client, stages=stage_values - {""}, owners=owner_ids,
                       custom_fields=fields | set(mega.custom_fields or ()))
    known = result.known
    for kind in ("stages", "custom_fields"):
        confirmed = getattr(known, kind)
        if confirmed is not None:
            mine = set(getattr(mega, kind) or ()) - set(result.unknown.get(kind, ()))
            setattr(mega, kind, sorted(mine | set(confirmed)))
            if not mega.origin.get(kind, "").startswith("--"):
                mega.origin[kind] = "dry_run probe (candidates confirmed)"
    if mega.owners is not None and result.unknown.get("owners"):
        mega.owners = [o for o in mega.owners if o.id not in result.unknown["owners"]]


def _summary(prof: Any, proposal: Any, output: Optional[Path]) -> list[str]:
    lines = [f"read {prof.records} record(s)" + (" (stopped at --limit)" if prof.limited else "")
             + (f", {prof.rejected} rejected by the connector" if prof.rejected else "")]
    for section, entries in (("fields", proposal.fields), ("stages", proposal.stages),
                             ("owners", proposal.owners)):
        if not entries:
            continue
        by = {h: [e for e in entries if e.how == h] for h in ("exact", "fuzzy", "todo", "drop")}
        lines.append(f"{section}: {len(by['exact'])} exact, {len(by['fuzzy'])} suggested "
                     f"(review), {len(by['todo'])} TODO"
                     + (f", {len(by['drop'])} dropped" if by["drop"] else ""))
        for e in by["fuzzy"]:
            lines.append(f"  suggested {e.key!r} -> {e.value!r} ({e.count} record(s); {e.note})")
        for e in by["todo"]:
            lines.append(f"  TODO {e.key!r}: {e.count} record(s) have no mapping")
    lines.append(f"lead_line: {proposal.lead_line_note}")
    todo = len(proposal.todo())
    where = f"wrote {output}" if output else "job file on stdout"
    lines.append(f"{where}: {todo} TODO entr{'y' if todo == 1 else 'ies'} to decide before "
                 "`leadbridge sync --job` accepts it" if todo else f"{where}: no TODO left")
    return lines
