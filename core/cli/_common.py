"""Helpers every command module shares: error display, connector construction from CLI args."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

import typer

from ..connector import Connector
from ..errors import ConfigError, LeadbridgeError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_WORKSPACE = Path(".leadbridge") / "workspace.duckdb"


def friendly_errors(func: F) -> F:
    """Show a LeadbridgeError as 'Error: message' on stderr and exit with its code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import duckdb

        try:
            return func(*args, **kwargs)
        except LeadbridgeError as exc:
            typer.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except duckdb.OutOfMemoryException as exc:  # the machine, not the input: say so
            _machine_stop(exc, "ran out of memory", "free memory (or disk for its temp "
                          "folder), or raise the cap (--memory-limit)")
        except duckdb.IOException as exc:  # a full disk, an unusable temp folder
            _machine_stop(exc, "could not write or read a file", "free disk space, or make "
                          "the place it names writable")

    return wrapper  # type: ignore[return-value]


def _machine_stop(exc: Exception, what: str, fix: str) -> None:
    """Exit 3 with one line: DuckDB stopped for a reason of the machine's, not the input's.
    Nothing is lost (a build is all-or-nothing; a sync run resumes), so the same command
    runs again once ``fix`` is done."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    typer.echo(f"Error: stopped, DuckDB {what} ({first}). Nothing was lost: {fix}, and run "
               "the same command again", err=True)
    sys.exit(3)


#: ``--memory-limit``'s help, for every command that builds (dedupe, plan, sync).
MEMORY_LIMIT_HELP = ("DuckDB's memory cap, like 2GB or 8GB (none: DuckDB's own, 80% of RAM); "
                     "beyond it the engine spills to a temp folder.")


def memory_cap(text: str) -> str | None:
    """``--memory-limit`` as ``Workspace.open`` takes it: ``none`` lifts the cap."""
    return None if text.strip().lower() == "none" else text.strip()


def quiet_retry_logs() -> None:
    """Retries are counted in summaries and errors; without this, Python's last-resort handler
    would print each stamina retry event on stderr (sync, pull, map --probe)."""
    import logging

    logging.getLogger("stamina").addHandler(logging.NullHandler())


def refuse_folder(path: Path, option: str) -> None:
    """A file option naming a folder is refused up front, before any work is done."""
    if path.is_dir():
        raise ConfigError(f"{option} {str(path)!r} is a folder; give a file name")


def open_output(path: Path, option: str) -> IO[str]:
    """Open ``path`` for writing text (creating its folder): a place that cannot be written is
    a ConfigError naming the option, never an OSError traceback after the work is done."""
    refuse_folder(path, option)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{option} {str(path)!r}: its folder cannot be created "
                          f"({exc.strerror or exc})") from None
    try:
        return path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise ConfigError(f"{option} {str(path)!r} cannot be written ({exc.strerror or exc})"
                          ) from None


def parse_options(pairs: list[str] | None) -> dict[str, str]:
    """Parse repeated ``--option key=value`` into a dict; a malformed pair is a ConfigError."""
    options: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option expects key=value, got {pair!r}")
        options[key.strip()] = value
    return options


def build_connector(
    name: str,
    path: str | None = None,
    options: list[str] | None = None,
    **named: Any,
) -> Connector:
    """Look the connector up in the plugin registry and build it from CLI arguments.

    ``path`` fills the connector's positional option; ``named`` are CLI flags such as
    ``id_column`` or ``encoding`` passed only when the user gave them (None is dropped).
    """
    from ..plugins import load_registry

    info = load_registry().get(name)
    given: dict[str, Any] = parse_options(options)
    if path is not None:
        if info.cls.positional is None:
            raise ConfigError(f"connector {name!r} takes no PATH argument; use --option")
        given[info.cls.positional] = path
    declared = {opt.name for opt in info.cls.options}
    for key, value in named.items():
        if value is None:
            continue
        if key not in declared:
            raise ConfigError(f"connector {name!r} has no option {key!r}")
        given[key] = value
    return info.cls(**given)


def connector_from_args(name: str | None, path: str | None, options: list[str] | None,
                        job: Path | None, **named: Any) -> Connector | None:
    """The connector the command line names, or None when ``--job`` names it instead.

    Giving both is refused: the job file would silently win over the arguments.
    """
    if job is not None:
        if name or path or options or any(v is not None for v in named.values()):
            raise ConfigError("--job names the source itself; drop the connector arguments or "
                              "the --job option")
        return None
    if not name:
        raise ConfigError("name a connector and its input (e.g. `leadbridge sync csv leads.csv`)"
                          " or give --job job.toml; `leadbridge connectors` lists connectors")
    return build_connector(name, path, options, **named)
