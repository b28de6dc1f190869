"""The plugin framework: entry points, failure isolation, duplicate names, selection."""

from __future__ import annotations

import json
import types

import pytest
from plugin_tools import GOOD, IMPORT_FAILS, REGISTER_FAILS, TAKES_CSV, env_with_path, write_dist

from clitools import leadbridge_cli
from leadbridge import Connector, hookimpl
from leadbridge.hookspecs import register_connectors as spec
from leadbridge.plugins import PluginWarning, load_registry

BUILTINS = {"csv", "jsonl", "hubspot", "salesforce", "zoho", "ghl", "shopify", "followupboss",
            "pipedrive", "mega", "lead_docket"}


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path holding three plugin distributions: one good, two broken."""
    root = write_dist(tmp_path / "site", "leadbridge-mine", "1.2.3", {"mine": "mine_plugin"},
                      {"mine_plugin": GOOD})
    write_dist(root, "leadbridge-broken", "0.1", {"broken": "broken_plugin"},
               {"broken_plugin": IMPORT_FAILS})
    write_dist(root, "leadbridge-angry", "0.2", {"angry": "angry_plugin"},
               {"angry_plugin": REGISTER_FAILS})
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("LEADBRIDGE_LOAD_PLUGINS", raising=False)
    return root


def test_builtins_load_through_our_own_entry_points():
    registry = load_registry()
    assert BUILTINS <= set(registry.connectors)
    for name in BUILTINS:
        info = registry.connectors[name]
        assert info.package == "leadbridge" and info.version
        assert info.plugin in {"files", "hubspot", "salesforce", "zoho", "ghl", "shopify",
                               "followupboss", "pipedrive", "mega", "lead_docket"}


def test_a_broken_plugin_is_reported_by_name_and_the_others_keep_working(site):
    with pytest.warns(PluginWarning) as warned:
        registry = load_registry()
    assert BUILTINS | {"mine"} <= set(registry.connectors)
    mine = registry.connectors["mine"]
    assert (mine.package, mine.version, mine.plugin) == ("leadbridge-mine", "1.2.3", "mine")
    assert set(registry.failures) == {"broken", "angry"}
    assert "leadbridge-broken: import failed: ModuleNotFoundError" in registry.failures["broken"]
    assert "nonexistent_dependency_xyz" in registry.failures["broken"]
    assert "register_connectors failed: RuntimeError: config file missing" in \
        registry.failures["angry"]
    assert {str(w.message).split("'")[1] for w in warned} == {"broken", "angry"}


def test_a_duplicate_connector_name_is_refused_naming_both_plugins(tmp_path, monkeypatch):
    root = write_dist(tmp_path / "dup", "leadbridge-thief", "9.9", {"thief": "thief_plugin"},
                      {"thief_plugin": TAKES_CSV})
    monkeypatch.syspath_prepend(str(root))
    with pytest.warns(PluginWarning):
        registry = load_registry()
    # the built-in keeps its name whatever the sys.path order; its other connectors stay
    assert registry.connectors["csv"].package == "leadbridge" and "jsonl" in registry.connectors
    assert registry.connectors["thief_other"].package == "leadbridge-thief"  # not taken down
    assert "connector name 'csv' is already registered by plugin 'files' (leadbridge " in \
        registry.failures["thief"]


def test_load_plugins_env_selects_plugins(site, monkeypatch):
    monkeypatch.setenv("LEADBRIDGE_LOAD_PLUGINS", "files, mine")
    registry = load_registry()
    assert set(registry.connectors) == {"csv", "jsonl", "mine"} and not registry.failures
    monkeypatch.setenv("LEADBRIDGE_LOAD_PLUGINS", "")
    assert load_registry().connectors == {}


@pytest.mark.parametrize("cls_body, reason", [
    ("class X:\n    name = 'x'", "is not a leadbridge.Connector subclass"),
    ("class X(Connector):\n    name = 'bad name!'\n    def records(self, s): yield {}",
     "needs a `name` of letters, digits and _"),
    ("class X(Connector):\n    name = 'norecords'", "does not implement records(state)"),
])
def test_register_refuses_bad_classes_with_the_reason(cls_body, reason):
    ns: dict = {"Connector": Connector}
    exec(cls_body, ns)
    plugin = types.SimpleNamespace(register_connectors=hookimpl(
        lambda register: register(ns["X"])))
    with pytest.warns(PluginWarning):
        registry = load_registry(extra_plugins=[("inproc", plugin)])
    assert reason in registry.failures["inproc"]
    assert BUILTINS <= set(registry.connectors)


def test_a_misspelled_hook_is_reported():
    plugin = types.SimpleNamespace(register_conectors=hookimpl(lambda register: None))
    with pytest.warns(PluginWarning):
        registry = load_registry(extra_plugins=[("typo", plugin)])
    assert "register_conectors" in " ".join(registry.failures.values())


def test_the_hook_is_documented():
    assert "register(ConnectorClass)" in (spec.__doc__ or "")


def test_cli_lists_third_party_connectors_and_warns_about_broken_plugins(site):
    proc = leadbridge_cli("connectors", env=env_with_path(site))
    assert proc.returncode == 0, proc.stderr
    assert "mine" in proc.stdout and "leadbridge-mine" in proc.stdout and "1.2.3" in proc.stdout
    assert "csv" in proc.stdout and "referral" in proc.stdout
    assert "plugin 'broken' not loaded" in proc.stderr
    assert "nonexistent_dependency_xyz" in proc.stderr
    assert "plugin 'angry' not loaded" in proc.stderr and "Traceback" not in proc.stderr
    data = json.loads(leadbridge_cli("connectors", "--json", env=env_with_path(site)).stdout)
    rows = {r["name"]: r for r in data["connectors"]}
    assert rows["mine"] == {"name": "mine", "package": "leadbridge-mine", "version": "1.2.3",
                            "plugin": "mine", "source_platform": "referral",
                            "description": "My test connector."}
    assert set(data["failures"]) == {"broken", "angry"}
    plugins = json.loads(leadbridge_cli("plugins", env=env_with_path(site)).stdout)
    assert {"name": "mine", "package": "leadbridge-mine", "version": "1.2.3",
            "connectors": ["mine"]} in plugins["plugins"]
