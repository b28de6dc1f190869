"""Engine fixtures: an in-memory workspace per test and a tiny in-process connector."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from leadbridge.connector import Connector
from leadbridge.workspace import Workspace


class ListConnector(Connector):
    """Yields the records it was given (the contract's smallest honest implementation)."""

    name: ClassVar[str] = "list"
    rows: ClassVar[list[dict[str, Any]]] = []

    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        yield from self.rows


@pytest.fixture
def ws() -> Iterator[Workspace]:
    with Workspace.open(None, threads=1) as workspace:
        yield workspace
