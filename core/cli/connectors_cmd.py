"""`leadbridge connectors` and `leadbridge plugins`: what is installed, and what failed."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..plugins import Registry, load_registry
from ._common import friendly_errors


def _option_rows(info) -> list[dict[str, object]]:
    return [
        {
            "name": opt.name,
            "type": opt.type if opt.type != "choice" else "|".join(opt.choices),
            "required": opt.required,
            "default": None if opt.secret else opt.default,
            "env": opt.env,
            "help": opt.help,
        }
        for opt in info.options
    ]


def _warn_failures(registry: Registry, console: Console) -> None:
    for plugin, reason in sorted(registry.failures.items()):
        console.print(f"[yellow]warning:[/] plugin {plugin!r} not loaded: {reason}", markup=True,
                      highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("connectors")
    @friendly_errors
    def connectors(
        name: Optional[str] = typer.Argument(None, help="Show the options of this connector."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """List installed connectors, or show one connector's options."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            registry = load_registry()
        out = Console(highlight=False, soft_wrap=True)
        err = Console(stderr=True, highlight=False)
        if name is None:
            rows = [
                {
                    "name": info.name, "package": info.package, "version": info.version,
                    "plugin": info.plugin, "source_platform": info.source_platform,
                    "description": info.description,
                }
                for info in sorted(registry.connectors.values(), key=lambda i: i.name)
            ]
            if as_json:
                typer.echo(json.dumps({"connectors": rows, "failures": registry.failures}, indent=2))
                return
            table = Table("name", "package", "version", "source_platform", "description")
            for row in rows:
                table.add_row(row["name"], row["package"], row["version"],
                              row["source_platform"] or "-", row["description"])
            out.print(table)
            _warn_failures(registry, err)
            return
        info = registry.get(name)
        options = _option_rows(info)
        if as_json:
            typer.echo(json.dumps({
                "name": info.name, "package": info.package, "version": info.version,
                "plugin": info.plugin, "source_platform": info.source_platform,
                "description": info.description, "positional": info.cls.positional,
                "options": options,
            }, indent=2, default=str))
            return
        out.print(f"{info.name} — {info.description}")
        out.print(f"package {info.package} {info.version}; MEGA source_platform: "
                  f"{info.source_platform or '-'}")
        if info.cls.positional:
            out.print(f"positional argument: {info.cls.positional.upper()} (fills option "
                      f"{info.cls.positional!r})")
        table = Table("option", "type", "required", "default", "env", "help")
        for row in options:
            table.add_row(str(row["name"]), str(row["type"]), "yes" if row["required"] else "no",
                          "" if row["default"] is None else str(row["default"]),
                          row["env"] or "", str(row["help"]))
        out.print(table)

    @app.command("plugins")
    @friendly_errors
    def plugins() -> None:
        """Print the loaded plugins, their connectors and any load failures as JSON."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            registry = load_registry()
        by_plugin: dict[str, dict[str, object]] = {}
        for info in registry.connectors.values():
            entry = by_plugin.setdefault(info.plugin, {
                "name": info.plugin, "package": info.package, "version": info.version,
                "connectors": [],
            })
            entry["connectors"].append(info.name)  # type: ignore[union-attr]
        typer.echo(json.dumps({
            "plugins": sorted(by_plugin.values(), key=lambda p: str(p["name"])),
            "failures": registry.failures,
        }, indent=2))
