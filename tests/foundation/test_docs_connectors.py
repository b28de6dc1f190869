"""docs/connectors.md stays true: the example it shows is the tested plugin, verbatim; every
hook, conformance check and pytest fixture is documented."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from leadbridge import hookspecs
from leadbridge.testing import ConnectorConformance
from leadbridge.testing import pytest_plugin

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "connectors.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "tests" / "plugins" / "leadbridge-example"


def test_the_example_in_the_doc_is_the_tested_plugin_verbatim():
    for rel in ("pyproject.toml", "leadbridge_example/__init__.py", "tests/test_example.py"):
        text = (EXAMPLE / rel).read_text(encoding="utf-8").rstrip()
        assert text in DOC, f"docs/connectors.md shows an outdated copy of {rel}"


def test_every_hook_is_documented_with_its_signature():
    hooks = [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
             if hasattr(f, "leadbridge_spec")]
    assert hooks
    for hook in hooks:
        params = ", ".join(inspect.signature(hook).parameters)
        assert f"{hook.__name__}({params})" in DOC, hook.__name__


def test_every_conformance_check_is_in_the_doc_table():
    checks = [n for n in dir(ConnectorConformance) if n.startswith("test_")]
    assert len(checks) >= 10
    documented = set(re.findall(r"^\| `(test_\w+)` \|", DOC, flags=re.M))
    assert documented == set(checks)


def test_every_pytest_fixture_is_documented():
    fixtures = [n for n in vars(pytest_plugin) if n.startswith("leadbridge_")]
    assert len(fixtures) >= 3
    for name in fixtures:
        assert f"| `{name}` |" in DOC, name
