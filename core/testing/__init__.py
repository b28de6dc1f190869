"""Kit for connector authors: the conformance suite and helpers to test a connector.

Use it from your own tests::

    from leadbridge.testing import ConformanceSource, ConnectorConformance

    class TestMyCRM(ConnectorConformance):
        connector_class = MyCRMConnector

        @pytest.fixture
        def conformance_source(self, fake_mycrm):
            return ConformanceSource(options={...}, change=...)

or without pytest: ``check_connector(MyCRMConnector, ConformanceSource(...))``. The pytest
plugin (``leadbridge.testing.pytest_plugin``, loaded automatically) adds the
``leadbridge_sandbox`` and ``leadbridge_mega_env`` fixtures. See docs/connectors.md.
"""

from __future__ import annotations

from typing import Any

from ._checks import ConformanceFailure
from ._read import canonical_rows, isolated_env, read_items, read_rows
from ._run import check_connector
from ._source import ConformanceSource

__all__ = sorted([
    "ConformanceFailure",
    "ConformanceSource",
    "ConnectorConformance",
    "canonical_rows",
    "check_connector",
    "isolated_env",
    "read_items",
    "read_rows",
])


def __getattr__(name: str) -> Any:
    # The suite needs pytest (the `test` extra); import it only when asked for.
    if name == "ConnectorConformance":
        try:
            from . import _suite
        except ImportError as exc:  # pragma: no cover - only without pytest
            raise ImportError(f"leadbridge.testing.{name} needs pytest: "
                              "pip install 'leadbridge[test]' (or pytest)") from exc
        value = getattr(_suite, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'leadbridge.testing' has no attribute {name!r}")
