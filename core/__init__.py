"""leadbridge: move leads from CRMs and files into MEGA's CRM Lead API, exactly once.

Public names are imported lazily so ``import leadbridge`` stays fast for plugins that only
need ``hookimpl`` and ``Connector``.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .connector import Connector, ConnectorInfo, Option, Secret
from .errors import (
    ConfigError,
    LeadbridgeError,
    MegaError,
    OptionsError,
    PluginError,
    SourceDataError,
    SourceError,
    WorkspaceError,
)
from .plugins import hookimpl

_LAZY: dict[str, str] = {
    "dedupe": "leadbridge.engine",
    "DedupeResult": "leadbridge.engine",
    "MegaClient": "leadbridge.mega",
    "Sandbox": "leadbridge.sandbox",
    "SandboxConfig": "leadbridge.sandbox",
    "plan": "leadbridge.pipeline",
    "sync": "leadbridge.pipeline",
}

__all__ = sorted([
    "ConfigError",
    "Connector",
    "ConnectorInfo",
    "LeadbridgeError",
    "MegaError",
    "Option",
    "OptionsError",
    "PluginError",
    "Secret",
    "SourceDataError",
    "SourceError",
    "WorkspaceError",
    "__version__",
    "hookimpl",
    *_LAZY,
])


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'leadbridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
