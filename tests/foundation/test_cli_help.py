"""Every command's --help shows its option texts whole.

Why: help texts name job-file sections ("[engine]", "[mapping]"); rendered as rich markup
those words vanished ("TOML job file: its source,  and  (as sync uses).")."""

from __future__ import annotations

import re

import typer
from typer.testing import CliRunner

from leadbridge.cli import app


def _commands() -> list[tuple[str, typer.core.TyperCommand]]:
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    return [(name, root.commands[name]) for name in sorted(root.commands)]


def _words(text: str) -> list[str]:
    return " ".join(text.split()).split(" ")


def test_every_option_help_with_brackets_is_shown_whole():
    runner = CliRunner()
    checked = 0
    for name, command in _commands():
        result = runner.invoke(app, [name, "--help"], terminal_width=200)
        assert result.exit_code == 0, result.output
        shown = " ".join(result.output.split())
        for param in command.params:
            help_text = getattr(param, "help", None) or ""
            if not re.search(r"\[[a-z_]+\]", help_text):
                continue
            # every word of the help, brackets included, in order on the page
            assert " ".join(_words(help_text)) in shown, (name, help_text)
            checked += 1
        for section in re.findall(r"\[[a-z_.]+\]", command.help or ""):
            assert section in shown, (name, section)
            checked += 1
    assert checked >= 3  # dedupe --job, sync/plan --send-anyway at least
