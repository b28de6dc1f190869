"""`leadbridge connectors` (table and --json) and `leadbridge connectors NAME`, run as a user
runs them: the installed console script in a subprocess."""

from __future__ import annotations

import json
import os

from clitools import leadbridge_cli

from leadbridge.plugins import load_registry

ENV = {**{k: v for k, v in os.environ.items() if k != "LEADBRIDGE_LOAD_PLUGINS"},
       "COLUMNS": "250"}


def test_list_shows_every_registered_connector_with_package_version_platform_description():
    registry = load_registry()
    proc = leadbridge_cli("connectors", env=ENV)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for info in registry.connectors.values():
        row = next(line for line in lines if line.startswith(f"│ {info.name} "))
        assert info.package in row and info.version in row
        assert (info.source_platform or "-") in row
        assert info.description[:40] in row


def test_list_json_matches_the_registry():
    registry = load_registry()
    data = json.loads(leadbridge_cli("connectors", "--json", env=ENV).stdout)
    got = {r["name"]: r for r in data["connectors"]}
    assert set(got) == set(registry.connectors)
    for name, info in registry.connectors.items():
        assert got[name] == {"name": name, "package": info.package, "version": info.version,
                             "plugin": info.plugin, "source_platform": info.source_platform,
                             "description": info.description}
    assert data["failures"] == {}


def test_one_connector_shows_its_options_with_env_vars_and_no_secret_defaults():
    proc = leadbridge_cli("connectors", "pipedrive", env=ENV)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Pipedrive persons" in out and "package leadbridge" in out
    token_row = next(line for line in out.splitlines() if "│ token " in line)
    assert "secret" in token_row and "yes" in token_row and "PIPEDRIVE_TOKEN" in token_row
    page_row = next(line for line in out.splitlines() if "│ page_size " in line)
    assert "int" in page_row and "500" in page_row and "no" in page_row


def test_one_connector_json_has_metadata_and_every_option():
    registry = load_registry()
    shown = {name: json.loads(leadbridge_cli("connectors", name, "--json", env=ENV).stdout)
             for name in ("csv", "hubspot")}
    for name, data in shown.items():
        info = registry.connectors[name]
        assert {k: data[k] for k in ("name", "package", "version", "source_platform",
                                     "description")} == {
            "name": name, "package": info.package, "version": info.version,
            "source_platform": info.source_platform, "description": info.description}
        assert [o["name"] for o in data["options"]] == [o.name for o in info.options]
        for row, opt in zip(data["options"], info.options):
            assert row["required"] == opt.required and row["help"] == opt.help
            assert row["env"] == opt.env
            if opt.secret:
                assert row["type"] == "secret" and row["default"] is None and opt.env
    csv = shown["csv"]
    assert csv["positional"] == "path"
    platform = next(o for o in csv["options"] if o["name"] == "source_platform")
    assert "zenmaid" in platform["type"].split("|")


def test_an_unknown_connector_is_exit_2_naming_the_installed_ones():
    proc = leadbridge_cli("connectors", "nosuch", env=ENV)
    assert proc.returncode == 2
    assert "no connector named 'nosuch'" in proc.stderr and "csv" in proc.stderr
    assert "Traceback" not in proc.stderr
