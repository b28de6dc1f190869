"""Fixtures for the mapping layer: an in-memory source and a real sandbox on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadbridge.connector import Connector, Option
from leadbridge.sandbox import Sandbox, SandboxConfig

FAST = 0.002  # time scale: rate-limit windows and backoffs shrink alike
OWNER_ANA = "5f0c6d8e-1b2a-4c3d-9e8f-0a1b2c3d4e5f"
OWNER_TOM = "8a7b6c5d-4e3f-4a1b-8c9d-0e1f2a3b4c5d"


class ListConnector(Connector):
    """An in-memory source: yields the records it was given."""

    name = "maplist"
    options = (Option("label", default="maplist"),)

    def __init__(self, records: list[dict[str, Any]], **options: Any) -> None:
        super().__init__(**options)
        self._records = records

    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield from self._records


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig.default(time_scale=FAST, seed=5)) as box:
        yield box


def customer(box: Sandbox) -> str:
    return box.config.tokens[0].customer_id


def cli_env(box: Sandbox | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEGA_")}
    env["COLUMNS"] = "200"
    env["LEADBRIDGE_TIME_SCALE"] = str(FAST)
    if box is not None:
        env.update(MEGA_BASE_URL=box.base_url, MEGA_TOKEN=box.config.tokens[0].token,
                   MEGA_CUSTOMER_ID=customer(box))
    return env


_MAIN = "import sys; from leadbridge.cli import main; main(sys.argv[1:])"


def run_cli(*args: str, env: dict[str, str], cwd: Path,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _MAIN, *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
