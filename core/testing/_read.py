"""Running a connector the way the host does, for tests: isolated environment, canonical rows.

Why: a check is only honest when a variable left in the author's shell (``MYCRM_TOKEN``)
cannot fill an option the test meant to leave out, and when records are compared in the
form the host stages them (``records.to_batches``), not in whatever form the connector
happened to yield.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from ..connector import Connector
from ..records import to_batches


@contextmanager
def isolated_env(cls: type[Connector], env: Mapping[str, str] | None = None) -> Iterator[None]:
    """Unset every environment variable ``cls``'s options read, set ``env``; restore after."""
    names = {opt.env for opt in cls.options if opt.env} | set(env or {})
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            os.environ.pop(name, None)
        os.environ.update(env or {})
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def read_items(connector: Connector, state: dict[str, Any] | None = None
               ) -> list[Mapping[str, Any] | pa.RecordBatch]:
    """Everything ``records(state)`` yields, as yielded (``state`` is updated in place)."""
    return list(connector.records({} if state is None else state))


def canonical_rows(items: list[Mapping[str, Any] | pa.RecordBatch]) -> list[dict[str, Any]]:
    """The rows the host would stage: dicts and batches through ``to_batches``, as dicts.

    ``custom_fields`` comes back parsed (a dict), so two reads compare by content.
    """
    rows: list[dict[str, Any]] = []
    for batch in to_batches(items):
        for row in batch.to_pylist():
            custom = row.get("custom_fields")
            if isinstance(custom, str):
                try:
                    row["custom_fields"] = json.loads(custom)
                except ValueError:
                    pass
            rows.append(row)
    return rows


def read_rows(connector: Connector, state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """``records(state)`` as canonical row dicts (see :func:`canonical_rows`)."""
    return canonical_rows(read_items(connector, state))
