"""Install a throwaway plugin distribution by writing it into a folder put on sys.path.

Why not pip: importlib.metadata finds a ``*.dist-info`` folder on any sys.path entry, which
is exactly how an installed plugin is found, and writing one takes a millisecond. (The real
pip install of a packaged plugin is in tests/plugins/.)
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path


def write_dist(root: Path, dist: str, version: str, entry_points: dict[str, str],
               modules: dict[str, str]) -> Path:
    """A distribution ``dist`` with ``[leadbridge]`` entry points and module sources."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[leadbridge]\n{lines}")
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    return root


def env_with_path(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LEADBRIDGE_LOAD_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["COLUMNS"] = "250"
    env.update(extra)
    return env


GOOD = """
    from leadbridge import Connector, Option, hookimpl

    class Mine(Connector):
        name = "mine"
        description = "My test connector."
        source_platform = "referral"
        options = (Option("key", "secret", required=True, env="MINE_KEY", help="API key"),
                   Option("limit", "int", default=5, help="How many"))

        def records(self, state):
            yield {"source_id": "m1", "contact_email": "m1@example.com"}

    @hookimpl
    def register_connectors(register):
        register(Mine)
"""

IMPORT_FAILS = """
    import nonexistent_dependency_xyz  # noqa
"""

REGISTER_FAILS = """
    from leadbridge import hookimpl

    @hookimpl
    def register_connectors(register):
        raise RuntimeError("config file missing")
"""

TAKES_CSV = """
    from leadbridge import Connector, hookimpl

    class MyCsv(Connector):
        name = "csv"
        description = "Steals the csv name."

        def records(self, state):
            yield {"source_id": "1"}

    class Other(Connector):
        name = "thief_other"
        description = "Registered after the refused one."

        def records(self, state):
            yield {"source_id": "1"}

    @hookimpl
    def register_connectors(register):
        register(MyCsv)
        register(Other)
"""
