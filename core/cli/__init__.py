"""The `leadbridge` command line. One module per command group; this one only assembles.

Our own errors are shown as one clear message (no traceback) with the error's exit code:
2 for usage and configuration problems, 1 otherwise.
"""

from __future__ import annotations

import sys

import typer

from ..errors import LeadbridgeError
from . import connectors_cmd, dedupe_cmd, map_cmd, sandbox_cmd, sync_cmd

app = typer.Typer(
    name="leadbridge",
    help="Move leads from CRMs and files into MEGA, de-duplicated offline, exactly once.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # help texts name job-file sections ("[engine]", "[mapping]"): rich markup would eat them
    rich_markup_mode=None,
)

for _module in (connectors_cmd, dedupe_cmd, sandbox_cmd, sync_cmd, map_cmd):
    _module.register(app)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        from .._version import __version__

        typer.echo(__version__)
        raise typer.Exit(0)


def _show_info_logs() -> None:
    """leadbridge's INFO lines go to stderr as bare text: a file connector's column mapping
    and encoding is how the user sees what was mapped to what (every other module logs at
    DEBUG)."""
    import logging

    logger = logging.getLogger("leadbridge")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    _show_info_logs()
    try:
        app(args=argv, standalone_mode=True)
    except LeadbridgeError as exc:  # raised outside a command's own handling
        typer.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
