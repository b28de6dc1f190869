"""The workspace connection is set up for a library: it never writes to its caller's output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_SHOW = """
import sys
from leadbridge.workspace import Workspace
with Workspace.open(sys.argv[1] or None) as ws:
    print(ws.con.execute("SELECT current_setting('enable_progress_bar')").fetchall()[0][0])
"""


@pytest.mark.parametrize("where", ["memory", "file"])
def test_duckdb_never_draws_its_progress_bar(tmp_path: Path, where: str) -> None:
    # DuckDB's default draws a bar on stdout for any statement over two seconds: from a
    # Python script, a wide file's dedupe printed four of them into the script's output.
    # A process of its own: DuckDB's default differs under pytest's capture.
    path = "" if where == "memory" else str(tmp_path / "ws.duckdb")
    shown = subprocess.run([sys.executable, "-c", _SHOW, path], capture_output=True,
                           text=True, timeout=120, check=True)
    assert shown.stdout.strip() == "False"
