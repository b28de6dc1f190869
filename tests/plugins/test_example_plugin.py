"""A separately packaged plugin (leadbridge-example/) pip-installed like a user would:
`leadbridge connectors` lists it with its package and version, `leadbridge dedupe example`
runs it against its fake API, its own conformance tests pass against the installed copy,
and a broken plugin next to it is reported by name while it keeps working.

Installed with this venv's pip into a target folder put on PYTHONPATH (``--no-deps``: its
dependencies are this venv's), from a copy so no build files land in the tree.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from clitools import leadbridge_cli

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE / "leadbridge-example"
TOKEN = "example-secret-token"


def _offline_build_ok() -> bool:
    """setuptools can build a wheel here without fetching anything (>=70.1 has
    bdist_wheel built in; older ones need the wheel package)."""
    try:
        version = tuple(int(x) for x in importlib.metadata.version("setuptools").split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return False
    try:
        importlib.metadata.version("wheel")
        return True
    except importlib.metadata.PackageNotFoundError:
        return version >= (70, 1)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src") / "leadbridge-example"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("__pycache__", "build",
                                                               "*.egg-info"))
    target = tmp_path_factory.mktemp("site")
    offline = ["--no-build-isolation", "--no-index"] if _offline_build_ok() else []
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                           "--disable-pip-version-check", *offline, "--target", str(target),
                           str(src)], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # a broken plugin installed beside it: its module cannot import
    info = target / "leadbridge_broken-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: leadbridge-broken\n"
                                   "Version: 0.1\n")
    (info / "entry_points.txt").write_text("[leadbridge]\nbroken = leadbridge_broken\n")
    (target / "leadbridge_broken.py").write_text("raise ImportError('needs libfoo 2')\n")
    return target


def _env(site: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LEADBRIDGE_LOAD_PLUGINS", "EXAMPLE_TOKEN", "EXAMPLE_BASE_URL")}
    env["PYTHONPATH"] = str(site)
    env["COLUMNS"] = "250"
    env.update(extra)
    return env


@pytest.fixture
def crm():
    sys.path.insert(0, str(EXAMPLE / "tests"))
    try:
        from fake_example_crm import FakeExampleCRM
    finally:
        sys.path.remove(str(EXAMPLE / "tests"))
    with FakeExampleCRM(TOKEN) as fake:
        fake.add(1, "2026-03-01T10:00:00Z", name="Ann Lee", email="ann@example.com")
        fake.add(2, "2026-03-02T10:00:00Z", name="ANN LEE", email=" Ann@Example.com ")
        fake.add(3, "2026-03-03T10:00:00Z", name="Bo Chen", phone="(555) 555-0103")
        yield fake


def test_connectors_lists_the_plugin_with_package_and_version(site):
    data = json.loads(leadbridge_cli("connectors", "--json", env=_env(site)).stdout)
    rows = {r["name"]: r for r in data["connectors"]}
    assert rows["example"] == {
        "name": "example", "package": "leadbridge-example", "version": "0.3.0",
        "plugin": "example", "source_platform": "referral",
        "description": "ExampleCRM contacts (API token), full and incremental."}
    assert {"csv", "hubspot", "mega"} <= set(rows)  # built-ins unaffected
    assert data["failures"] == {"broken": "leadbridge-broken: import failed: ImportError: "
                                          "needs libfoo 2"}
    table = leadbridge_cli("connectors", env=_env(site))
    assert table.returncode == 0
    assert "plugin 'broken' not loaded" in table.stderr and "needs libfoo 2" in table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith("│ example "))
    assert "leadbridge-example" in row and "0.3.0" in row


def test_its_options_are_shown(site):
    proc = leadbridge_cli("connectors", "example", env=_env(site))
    assert proc.returncode == 0, proc.stderr
    token = next(line for line in proc.stdout.splitlines() if line.startswith("│ token "))
    assert "secret" in token and "yes" in token and "EXAMPLE_TOKEN" in token


def test_dedupe_runs_the_plugin_against_its_api(site, crm, tmp_path):
    out = tmp_path / "out"
    proc = leadbridge_cli("dedupe", "example", "--option", f"base_url={crm.base_url}",
                          "--out", str(out), env=_env(site, EXAMPLE_TOKEN=TOKEN))
    assert proc.returncode == 0, proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr
    lineage = duckdb.sql(f"SELECT * FROM read_parquet('{out / 'lineage.parquet'}')").fetchall()
    golden = duckdb.sql(f"SELECT count(*) FROM read_parquet('{out / 'golden.parquet'}')")
    assert len(lineage) == 3  # every source record accounted for
    assert golden.fetchall()[0][0] == 2  # the two Ann Lee records merge by email


def test_without_its_token_the_plugin_fails_with_one_clear_message(site, crm, tmp_path):
    proc = leadbridge_cli("dedupe", "example", "--option", f"base_url={crm.base_url}",
                          "--out", str(tmp_path / "out"), env=_env(site))
    assert proc.returncode == 2
    assert "option 'token' is required (or set EXAMPLE_TOKEN)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_plugins_own_conformance_tests_pass_against_the_installed_copy(site, tmp_path):
    work = tmp_path / "leadbridge-example"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(work / "leadbridge_example")  # only the installed copy can be imported
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=work, env=_env(site), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-4000:]
    from leadbridge.testing import ConnectorConformance

    checks = [n for n in dir(ConnectorConformance) if n.startswith("test_")]
    assert f"{len(checks) + 1} passed" in proc.stdout  # every check + its own test, no skip


def test_sync_into_a_sandbox_with_the_pytest_plugin_fixtures(site, crm, tmp_path,
                                                            leadbridge_sandbox,
                                                            leadbridge_mega_env):
    """The end-to-end test docs/connectors.md shows authors, on the installed plugin."""
    assert os.environ["MEGA_BASE_URL"] == leadbridge_sandbox.base_url  # fixture set it
    env = _env(site, EXAMPLE_TOKEN=TOKEN, **leadbridge_mega_env)
    proc = leadbridge_cli("sync", "example", "--option", f"base_url={crm.base_url}",
                          "--workspace", str(tmp_path / "ws.duckdb"), env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    customer = leadbridge_sandbox.config.tokens[0].customer_id
    leads = leadbridge_sandbox.leads(customer)
    # the two Ann Lee records became one lead (newest value wins), Bo Chen the other
    assert sorted((lead["contact_email"] or "").lower() for lead in leads) == \
        ["", "ann@example.com"]
    assert TOKEN not in proc.stdout + proc.stderr
    assert leadbridge_mega_env["MEGA_TOKEN"] not in proc.stdout + proc.stderr
