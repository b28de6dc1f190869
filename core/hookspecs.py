"""The plugin hooks. Few and small on purpose; each takes keyword arguments so it can grow.

A plugin module (named in the ``leadbridge`` entry-point group) implements any of these with
``@leadbridge.hookimpl``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .connector import Connector

hookspec = pluggy.HookspecMarker("leadbridge")


@hookspec
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Register connector classes by calling ``register(ConnectorClass)`` once per class.

    The host checks each class (a name, a ``records`` method, valid options) and refuses
    a name that is already taken, naming both plugins.
    """
