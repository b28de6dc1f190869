"""The README's two commands are the contract for a fresh machine; CI must run the second."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_readme_starts_with_the_two_commands() -> None:
    commands = _readme_commands()
    demo, tests = commands[0], commands[1]
    assert "leadbridge demo" in demo and "pip install" in demo
    assert "'.[test]'" in tests and "pytest" in tests
    # Both come before the tour: nothing else is needed on a fresh machine.
    text = (ROOT / "README.md").read_text()
    assert text.index(demo) < text.index("## A short tour")
    assert text.index(tests) < text.index("## A short tour")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci_lines = [
        line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert _readme_commands()[1] in ci_lines
