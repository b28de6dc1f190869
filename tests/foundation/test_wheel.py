"""The built wheel holds the whole package and runs from a fresh virtualenv, far from the
source tree.

How, without the network: the wheel is built from a copy of the source tree; a fresh venv
(no pip, no site packages) gets the wheel installed by this venv's pip (``pip --python``,
``--no-deps --no-index``) and sees the already-installed dependencies through a ``.pth``
pointing at a folder of links to them — every distribution of this venv except leadbridge
itself, so nothing of the source tree or the editable install can leak in.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import leadbridge

ROOT = Path(__file__).resolve().parents[2]


def _declared_entry_points() -> set[str]:
    """The [project.entry-points.leadbridge] names of pyproject.toml."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: what the editable install recorded from it
        dist = importlib.metadata.distribution("leadbridge")
        return {ep.name for ep in dist.entry_points if ep.group == "leadbridge"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["entry-points"]["leadbridge"])


def _dev_connectors() -> set[str]:
    import warnings

    from leadbridge.plugins import load_registry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {n for n, i in load_registry().connectors.items() if i.package == "leadbridge"}


def _run(*cmd, cwd=None, env=None, timeout=180) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _setuptools_ok() -> bool:
    """The build requirement (setuptools>=77, for the SPDX license string) is installed."""
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return False
    return major >= 77


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")
    for name in ("core", "connectors"):
        shutil.copytree(ROOT / name, src / name, ignore=skip)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    # Without the declared backend here, build's own isolated env fetches it (network).
    isolation = ["--no-isolation"] if _setuptools_ok() else []
    _run(sys.executable, "-m", "build", "--wheel", *isolation, "--outdir", out, src, timeout=240)
    (whl,) = out.glob("leadbridge-*.whl")
    return whl


def test_wheel_holds_every_module_data_file_and_entry_point(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, prefix in ((ROOT / "core", "leadbridge"),
                           (ROOT / "connectors", "leadbridge/connectors")):
        for py in folder.rglob("*.py"):
            if "__pycache__" in py.parts:
                continue
            rel = f"{prefix}/{py.relative_to(folder).as_posix()}"
            assert rel in names, f"{rel} missing from the wheel (list its package in pyproject)"
    assert {"leadbridge/py.typed", "leadbridge/data/sample_leads.csv"} <= names
    (ep_file,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    eps = zipfile.ZipFile(wheel).read(ep_file).decode()
    assert "leadbridge = leadbridge.cli:main" in eps
    assert "leadbridge = leadbridge.testing.pytest_plugin" in eps
    section = eps.split("[leadbridge]")[1].split("[")[0]
    assert {line.split("=")[0].strip() for line in section.splitlines() if "=" in line} \
        == _declared_entry_points()


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    py = venv / "bin" / "python"
    target = Path(_run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                  .stdout.strip())
    deps = tmp_path_factory.mktemp("deps")
    ours = Path(sysconfig.get_paths()["purelib"])
    for entry in ours.iterdir():
        low = entry.name.lower()
        if low.startswith(("leadbridge", "__editable__", "_virtualenv")) or \
                entry.suffix == ".pth" or entry.name == "__pycache__":
            continue
        (deps / entry.name).symlink_to(entry)
    (target / "_leadbridge_test_deps.pth").write_text(f"{deps}\n")
    _run(sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index",
         "--no-compile", "--disable-pip-version-check", wheel)
    return venv


def _clean_env() -> dict[str, str]:
    drop = ("PYTHONPATH", "LEADBRIDGE_LOAD_PLUGINS", "VIRTUAL_ENV", "MEGA_TOKEN",
            "MEGA_BASE_URL", "MEGA_CUSTOMER_ID")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, "COLUMNS": "200"}


def test_the_installed_wheel_imports_from_the_venv_not_the_source_tree(fresh_venv, tmp_path):
    code = ("import leadbridge, leadbridge.connectors, leadbridge.testing, leadbridge.sandbox;"
            "print(leadbridge.__file__); print(leadbridge.connectors.__file__);"
            "print(leadbridge.__version__)")
    out = _run(fresh_venv / "bin" / "python", "-c", code, cwd=tmp_path,
               env=_clean_env()).stdout.split()
    assert all(Path(p).resolve().is_relative_to(fresh_venv.resolve()) for p in out[:2]), out
    assert out[2] == leadbridge.__version__


def test_leadbridge_connectors_runs_from_the_wheel(fresh_venv, tmp_path):
    exe = fresh_venv / "bin" / "leadbridge"
    data = json.loads(_run(exe, "connectors", "--json", cwd=tmp_path, env=_clean_env()).stdout)
    rows = {r["name"]: r for r in data["connectors"]}
    assert set(rows) == _dev_connectors() and len(rows) >= 11 and data["failures"] == {}
    assert {(r["package"], r["version"]) for r in rows.values()} == \
        {("leadbridge", leadbridge.__version__)}


def test_the_demo_runs_from_the_wheel_with_its_bundled_sample(fresh_venv, tmp_path):
    proc = _run(fresh_venv / "bin" / "leadbridge", "demo", cwd=tmp_path, env=_clean_env())
    assert "created lead" in proc.stdout
    assert (tmp_path / ".leadbridge").is_dir()  # its workspace is where it ran
