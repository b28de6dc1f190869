"""`leadbridge sync`, `plan`, `pull`, `runs`, `report` and `demo`: the main job.

Exit codes: 0 every record has a final outcome and none failed; 1 finished, some records
failed or were rejected; 2 usage or configuration error; 3 stopped before finishing
(resumable: run the same command again).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import ConfigError, WorkspaceError
from ..workspace import not_duckdb
from ._common import (DEFAULT_WORKSPACE, MEMORY_LIMIT_HELP, build_connector,
                      connector_from_args, friendly_errors, memory_cap, open_output,
                      quiet_retry_logs, refuse_folder)

_WS_HELP = "DuckDB workspace file (created if missing)."


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True,
                   width=None if sys.stdout.isatty() else 160)


def _existing_workspace(path: Path) -> Path:
    if not path.exists():
        raise WorkspaceError(f"workspace {str(path)!r} does not exist yet; run `leadbridge sync` "
                             "(or pass the --workspace a sync used)")
    return path


# --- rendering ----------------------------------------------------------------------------

def render_sync(summary: dict[str, Any], console: Any, *, workspace: Path | None) -> None:
    """Source labels, field names, values and MEGA's messages are data, not rich markup: each
    is escaped, or a ``[/b]`` column header would crash the output of a finished run."""
    from rich.markup import escape
    from rich.table import Table

    rec = summary["record_status"]
    rows = summary["row_status"]
    build = summary.get("build") or {}
    kind = "dry run" if summary.get("dry_run") else f"{summary.get('mode', 'bulk')} sync"
    source = escape(repr(summary["source"]))
    console.print(f"[bold]Run {summary['run_id']}[/bold] ({kind} of {source}): "
                  f"{summary['status']}")
    table = Table(show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("count", justify="right")
    table.add_row("source records", str(summary["records"]))
    if build:
        for key in ("clusters", "conflicts", "placeholder_keys"):
            if key in build:
                table.add_row(f"  {key.replace('_', ' ')}", str(build[key]))
    table.add_row("golden rows", str(summary["golden_rows"]))
    table.add_row("  sent", str(summary["rows_sent"]))
    table.add_row("  unchanged (not sent)", str(summary["rows_unchanged"]))
    table.add_row("requests", f"{summary['requests']} ({summary['chunks']} chunks)")
    for status in ("created", "updated", "skipped", "failed", "rejected", "pending"):
        table.add_row(f"records {status}", str(rec.get(status, 0)))
    table.add_row("rows created / updated / skipped / failed",
                  " / ".join(str(rows.get(s, 0)) for s in ("created", "updated", "skipped",
                                                           "failed")))
    matched = summary.get("matched_by") or {}
    table.add_row("  merged by email / phone",
                  f"{matched.get('email', 0)} / {matched.get('phone', 0)}")
    table.add_row("prediction mismatches",
                  f"{summary['prediction_mismatches']} of {summary['predicted_compared']}")
    console.print(table)
    if summary["rows_sent"] == 0 and not summary["golden_rows"]:  # not "already sent"
        console.print("Nothing to send: no source record left a row to send (each one's "
                      "outcome is listed below and in the report).")
    elif summary["rows_sent"] == 0:
        console.print("Nothing to send: every golden row already reached MEGA unchanged.")
    if summary["errors"]:
        console.print("[bold]MEGA's reasons for failed rows[/bold]:")
        for message, count in summary["errors"].items():
            console.print(f"  {count} x {message}", markup=False)
    if summary.get("rejected_reasons"):
        console.print("[bold]Rejected locally[/bold]:")
        for message, count in summary["rejected_reasons"].items():
            console.print(f"  {count} x {message}", markup=False)
    for line in ((summary.get("build") or {}).get("mapping") or {}).get("lines") or []:
        console.print(line, markup=False)  # [mapping]: counts and unmapped values
    if summary["unknown_custom_fields"]:
        console.print("Unknown custom fields (ignored by MEGA): "
                      + ", ".join(summary["unknown_custom_fields"]), markup=False)
    for ex in summary.get("mismatch_examples") or []:
        console.print(f"  mismatch {ex['row_ref']}: predicted {ex['predicted']}, "
                      f"MEGA answered {ex['actual']}", markup=False)
    ws = f" --workspace {workspace}" if workspace else ""
    console.print(f"Per-record outcomes: leadbridge report --run {summary['run_id']} "
                  f"--format csv --output outcomes.csv{ws}", markup=False)


def render_plan(summary: dict[str, Any], console: Any) -> None:
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", title="Plan (offline: nothing sent)")
    table.add_column("")
    table.add_column("count", justify="right")
    for key in ("records", "rejected", "distinct_email_keys", "distinct_phone_keys", "clusters",
                "largest_cluster", "golden_rows", "conflicts", "placeholder_keys",
                "rows_to_send", "rows_unchanged", "chunks", "requests"):
        if key in summary and summary[key] is not None:
            table.add_row(key.replace("_", " "), str(summary[key]))
    for status, count in summary["predicted"].items():
        table.add_row(f"predicted {status}", str(count))
    for key, count in summary["matched_by"].items():
        table.add_row(f"  matched by {key}", str(count))
    table.add_row("MEGA leads in snapshot", str(summary["snapshot_leads"]))
    console.print(table)
    for line in (summary.get("mapping") or {}).get("lines") or []:
        console.print(line, markup=False)  # [mapping]: counts and unmapped values
    if not summary.get("stages_known"):
        console.print("Stages and owners were not checked (unknown offline): list them under "
                      "[target] stages/owners in a job file to predict those failures too.",
                      markup=False)
    if not summary["snapshot_leads"]:
        console.print("No MEGA snapshot: predictions assume an empty account "
                      "(`leadbridge pull` fetches the existing leads).")


# --- commands -------------------------------------------------------------------------------

def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""

    @app.command("sync")
    @friendly_errors
    def sync_command(
        name: Optional[str] = typer.Argument(None, help="Connector name (e.g. csv)."),
        path: Optional[str] = typer.Argument(None, help="The connector's input (file path)."),
        option: Optional[list[str]] = typer.Option(None, "--option", "-o",
                                                   help="Connector option key=value."),
        id_column: Optional[str] = typer.Option(None, "--id-column",
                                                help="Column holding each record's id."),
        encoding: Optional[str] = typer.Option(None, "--encoding",
                                               help="Text encoding of the file (else detected)."),
        workspace: Path = typer.Option(DEFAULT_WORKSPACE, "--workspace", help=_WS_HELP),
        on_duplicate: Optional[str] = typer.Option(
            None, "--on-duplicate", help="update (default) or skip; wins over the job's."),
        dry_run: bool = typer.Option(False, "--dry-run",
                                     help="Send MEGA's dry_run and compare to the prediction."),
        sandbox: bool = typer.Option(False, "--sandbox",
                                     help="Run against an in-process sandbox (no token)."),
        json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
        mode: Optional[str] = typer.Option(
            None, "--mode", help="bulk (default, inert) or live (single creates); wins over "
            "the job's."),
        job: Optional[Path] = typer.Option(None, "--job", help="TOML job file."),
        retry_failed: bool = typer.Option(False, "--retry-failed",
                                          help="Re-send unchanged rows MEGA failed before."),
        pull_first: bool = typer.Option(False, "--pull",
                                        help="Refresh the MEGA snapshot before planning."),
        send_anyway: bool = typer.Option(False, "--send-anyway",
                                         help="Send even when the job's [mapping] would send "
                                         "values MEGA does not know."),
        memory_limit: str = typer.Option("2GB", "--memory-limit", help=MEMORY_LIMIT_HELP),
    ) -> None:
        """Sync a source into MEGA: stage, de-duplicate, plan, send, and account for every record."""
        import os

        from ..pipeline import load_job, sync
        from ..pipeline.api import NO_TOKEN

        quiet_retry_logs()
        spec = load_job(job) if job is not None else None
        if not (sandbox or (spec and spec.sandbox) or os.environ.get("MEGA_TOKEN")):
            raise ConfigError(NO_TOKEN)
        connector = connector_from_args(name, path, option, job, id_column=id_column,
                                        encoding=encoding)
        try:
            result = sync(connector, job=spec, workspace=workspace, on_duplicate=on_duplicate,
                          mode=mode, dry_run=dry_run, retry_failed=retry_failed,
                          sandbox=sandbox, pull_first="always" if pull_first else "auto",
                          progress=None if not json_out else False, send_anyway=send_anyway,
                          memory_limit=memory_cap(memory_limit))
        except KeyboardInterrupt:
            typer.echo("Interrupted: nothing is lost; run the same command again to resume.",
                       err=True)
            sys.exit(3)
        if json_out:
            typer.echo(json.dumps(result.summary, default=str))
        else:
            console = _console()
            for old in result.resumed:
                console.print(f"Resumed and finished the interrupted run {old}.")
            render_sync(result.summary, console, workspace=workspace)
        if result.summary.get("stopped_reason"):
            typer.echo(f"Stopped: {result.summary['stopped_reason']}", err=True)
        sys.exit(result.exit_code)

    @app.command("plan")
    @friendly_errors
    def plan_command(
        name: Optional[str] = typer.Argument(None, help="Connector name (e.g. csv)."),
        path: Optional[str] = typer.Argument(None, help="The connector's input (file path)."),
        option: Optional[list[str]] = typer.Option(None, "--option", "-o"),
        id_column: Optional[str] = typer.Option(None, "--id-column"),
        encoding: Optional[str] = typer.Option(None, "--encoding"),
        workspace: Path = typer.Option(DEFAULT_WORKSPACE, "--workspace", help=_WS_HELP),
        on_duplicate: Optional[str] = typer.Option(
            None, "--on-duplicate", help="update (default) or skip; wins over the job's."),
        mode: Optional[str] = typer.Option(
            None, "--mode", help="bulk (default) or live; wins over the job's."),
        job: Optional[Path] = typer.Option(None, "--job"),
        json_out: bool = typer.Option(False, "--json"),
        send_anyway: bool = typer.Option(False, "--send-anyway",
                                         help="Plan even when the job's [mapping] would send "
                                         "values MEGA does not know."),
        memory_limit: str = typer.Option("2GB", "--memory-limit", help=MEMORY_LIMIT_HELP),
    ) -> None:
        """Offline: what a sync would send and what MEGA should answer. Sends nothing."""
        from ..pipeline import plan

        connector = connector_from_args(name, path, option, job, id_column=id_column,
                                        encoding=encoding)
        result = plan(connector, job=job, workspace=workspace, on_duplicate=on_duplicate,
                      mode=mode, progress=None if not json_out else False,
                      send_anyway=send_anyway, keep_rows=False,
                      memory_limit=memory_cap(memory_limit))
        if json_out:
            typer.echo(json.dumps(result.summary, default=str))
        else:
            render_plan(result.summary, _console())

    @app.command("pull")
    @friendly_errors
    def pull_command(
        workspace: Path = typer.Option(DEFAULT_WORKSPACE, "--workspace", help=_WS_HELP),
        sandbox: bool = typer.Option(False, "--sandbox", help="Pull from the --sandbox target."),
        full: bool = typer.Option(False, "--full", help="Fetch everything, not only changes."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Snapshot the customer's MEGA leads into the workspace (incremental after the first)."""
        from ..pipeline import pull_snapshot
        from ..pipeline.api import NO_TOKEN
        import os

        if not sandbox and not os.environ.get("MEGA_TOKEN"):
            raise ConfigError(NO_TOKEN)
        quiet_retry_logs()
        result = pull_snapshot(workspace=workspace, sandbox=sandbox, full=full)
        if json_out:
            typer.echo(json.dumps(result.as_dict()))
        else:
            kind = "incremental" if result.incremental else "full"
            typer.echo(f"Pulled {result.fetched} lead(s) ({kind}); the snapshot holds "
                       f"{result.leads} lead(s) of customer {result.customer_id}.")

    @app.command("runs")
    @friendly_errors
    def runs_command(
        workspace: Path = typer.Option(DEFAULT_WORKSPACE, "--workspace", help=_WS_HELP),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """List the sync runs recorded in the workspace."""
        from rich.markup import escape
        from rich.table import Table

        from ..pipeline import ledger, runs
        from ..workspace import Workspace

        with Workspace.open(_existing_workspace(workspace)) as ws:
            ledger.ensure(ws.con)
            items = runs.all_runs(ws.con)
        if json_out:
            typer.echo(json.dumps([{
                "run_id": r.run_id, "source": r.source, "mode": r.mode, "dry_run": r.dry_run,
                "status": r.status, "phase": r.phase, "started_at": r.started_at,
                "finished_at": r.finished_at, "exit_code": r.exit_code,
                "record_status": (r.summary or {}).get("record_status")} for r in items],
                default=str))
            return
        if not items:
            typer.echo("No runs in this workspace yet.")
            return
        table = Table(header_style="bold")
        for col in ("run", "source", "mode", "status", "started", "records", "created",
                    "updated", "skipped", "failed", "rejected", "pending", "exit"):
            table.add_column(col)
        for r in items:
            rec = (r.summary or {}).get("record_status") or {}
            mode = r.mode + (" dry-run" if r.dry_run else "")
            table.add_row(r.run_id, escape(r.source), mode, r.status,
                          r.started_at.strftime("%Y-%m-%d %H:%M:%S") if r.started_at else "",
                          str((r.summary or {}).get("records", "")),
                          *(str(rec.get(s, "")) for s in ("created", "updated", "skipped",
                                                          "failed", "rejected", "pending")),
                          "" if r.exit_code is None else str(r.exit_code))
        _console().print(table)

    @app.command("report")
    @friendly_errors
    def report_command(
        run: Optional[str] = typer.Option(None, "--run", help="Run id (default: the latest)."),
        fmt: str = typer.Option("csv", "--format", help="csv or json."),
        output: Optional[Path] = typer.Option(None, "--output", help="File (default: stdout)."),
        workspace: Path = typer.Option(DEFAULT_WORKSPACE, "--workspace", help=_WS_HELP),
        force: bool = typer.Option(False, "--force",
                                   help="Overwrite an --output file that is not a report."),
    ) -> None:
        """One line per source record: status, MEGA lead id, matched_by, prediction, errors."""
        from ..pipeline import ledger, report, runs
        from ..workspace import Workspace

        if fmt not in ("csv", "json"):
            raise ConfigError(f"--format must be csv or json, not {fmt!r}")
        if output is not None:
            refuse_folder(output, "--output")
            if not force and not _replaceable_report(output, report.COLUMNS):
                raise ConfigError(f"--output {str(output)!r} exists and is not a leadbridge "
                                  "report (the source file?); pass --force to overwrite it")
        with Workspace.open(_existing_workspace(workspace)) as ws:
            ledger.ensure(ws.con)
            chosen = runs.get(ws.con, run) if run else runs.latest(ws.con)
            if chosen is None:
                raise WorkspaceError("this workspace holds no sync run yet; run `leadbridge "
                                     "sync` first")
            rows = report.outcomes(ws.con, chosen.run_id)
        if output is None:
            (report.write_csv if fmt == "csv" else report.write_json)(rows, sys.stdout)
        else:
            with open_output(output, "--output") as fh:
                n = (report.write_csv if fmt == "csv" else report.write_json)(rows, fh)
            typer.echo(f"Wrote {n} record outcome(s) of run {chosen.run_id} to {output}",
                       err=True)

    @app.command("demo")
    @friendly_errors
    def demo_command(
        workspace: Optional[Path] = typer.Option(
            None, "--workspace", help="Demo workspace (default .leadbridge/demo/, reset each run)."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """The whole job on bundled sample leads against an in-process sandbox (no token)."""
        from ..pipeline import sync
        from ..pipeline.demo import SAMPLE, failed_examples, start_sandbox

        ws = workspace or _demo_workspace()
        if workspace is not None:
            _refuse_non_demo(ws)
        for stale in (ws, ws.with_name(ws.stem + ".sandbox.duckdb")):
            if stale.exists():
                stale.unlink()
        console = _console()
        if not json_out:
            console.print(f"leadbridge demo: {SAMPLE.name} (bundled, messy on purpose) -> an "
                          "in-process MEGA sandbox on 127.0.0.1, no token needed.")
        quiet_retry_logs()
        connector = build_connector("csv", str(SAMPLE), None)
        box = start_sandbox()
        try:
            if not json_out:
                held = len(box.leads(box.config.tokens[0].customer_id))
                console.print(f"The sandbox already holds {held}"
                              " leads of this customer: some sample people will merge into them.")
            result = sync(connector, workspace=ws, sandbox=box,
                          progress=None if not json_out else False)
        finally:
            box.stop()
        _mark_demo(ws)
        if json_out:
            typer.echo(json.dumps(result.summary, default=str))
        else:
            render_sync(result.summary, console, workspace=ws)
            examples = failed_examples(result.outcomes)
            if examples:
                console.print("[bold]Examples, one line per source record[/bold]:")
                for row in examples:
                    errs = "; ".join(row["errors"] or [])
                    console.print(f"  {row['source']}:{row['source_id']} -> {row['status']}"
                                  + (f" ({errs})" if errs else "")
                                  + (f" by {row['matched_by']}" if row["matched_by"] else "")
                                  + (f" lead {row['lead_id']}" if row["lead_id"] else ""),
                                  markup=False)
            console.print("Next: `leadbridge plan csv YOUR.csv` (offline), then "
                          "`leadbridge sync csv YOUR.csv --sandbox` twice: the second sends "
                          "nothing.")
        # The sample contains rows MEGA refuses on purpose: the demo succeeded when the run
        # finished with every record accounted for.
        sys.exit(0 if result.summary["record_status"].get("pending", 0) == 0 else 3)


def _replaceable_report(path: Path, columns: tuple[str, ...]) -> bool:
    """Whether ``report --output`` may write over ``path``: missing, empty, or an earlier
    report. Why: ``--output leads.csv`` (the source itself) was overwritten without a word,
    while re-writing ``outcomes.csv`` on each run must stay a one-liner."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
    except FileNotFoundError:
        return True
    except OSError:
        return True  # open_output names the problem
    text = head.lstrip()
    return (not text or text.startswith(",".join(columns))
            or (text.startswith("[") and (text.rstrip() == "[]" or '"source_id"' in text)))


_DEMO_MARK = "demo_workspace"


def _refuse_non_demo(ws: Path) -> None:
    """The demo deletes its workspace (and the sandbox file next to it) to start afresh: an
    explicit ``--workspace`` is deleted only when it is missing or an earlier demo's.
    ``demo --workspace leads.csv`` deleted the CSV; a real sync workspace lost its ledger."""
    from ..pipeline import ledger
    from ..workspace import Workspace

    for path in (ws, ws.with_name(ws.stem + ".sandbox.duckdb")):
        problem = not_duckdb(path)
        if problem:
            raise WorkspaceError(f"demo workspace {str(path)!r} {problem}; the demo deletes "
                                 "its workspace to start afresh: pass another --workspace")
    if not ws.exists():
        return
    with Workspace.open(ws) as opened:
        ledger.ensure(opened.con)
        runs = opened.con.execute("SELECT count(*) FROM sync_runs").fetchall()[0][0]
        if runs and ledger.get_meta(opened.con, _DEMO_MARK) is None:
            raise WorkspaceError(f"workspace {str(ws)!r} holds sync runs that are not the "
                                 "demo's; the demo deletes its workspace to start afresh: pass "
                                 "another --workspace")


def _mark_demo(ws: Path) -> None:
    """Remember the workspace is the demo's, so the next demo may reset it."""
    from ..pipeline import ledger
    from ..workspace import Workspace

    with Workspace.open(ws) as opened:
        ledger.set_meta(opened.con, _DEMO_MARK, "1")


def _demo_workspace() -> Path:
    base = Path(".leadbridge") / "demo"
    try:
        base.mkdir(parents=True, exist_ok=True)
        probe = base / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError:
        base = Path(tempfile.mkdtemp(prefix="leadbridge-demo-"))
    return base / "workspace.duckdb"

