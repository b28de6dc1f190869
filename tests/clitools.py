"""Run the installed ``leadbridge`` console script the way a user does (a real subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys


def leadbridge_cli(*args: str, env: dict[str, str],
                   timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``leadbridge ARGS`` from this interpreter's venv, with its output captured as text."""
    exe = os.path.join(os.path.dirname(sys.executable), "leadbridge")
    return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=timeout)
