"""Loading plugins from the ``leadbridge`` entry-point group and collecting their connectors.

Built-in connectors are found through our own entry points, exactly like third-party ones.
A plugin that fails to import or register is recorded in ``Registry.failures`` (and warned
about) while every other plugin keeps working.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType

import pluggy

from . import hookspecs
from .connector import Connector, ConnectorInfo
from .errors import ConfigError, PluginError

ENTRY_POINT_GROUP = "leadbridge"
#: Comma-separated plugin (entry point) names to load; unset loads all, empty loads none.
LOAD_PLUGINS_ENV = "LEADBRIDGE_LOAD_PLUGINS"

hookimpl = pluggy.HookimplMarker("leadbridge")


class PluginWarning(UserWarning):
    """A plugin could not be loaded; the others still work."""


@dataclass
class Registry:
    """Every connector that registered, and every plugin that failed."""

    connectors: dict[str, ConnectorInfo] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> ConnectorInfo:
        try:
            return self.connectors[name]
        except KeyError:
            known = ", ".join(sorted(self.connectors)) or "none installed"
            raise ConfigError(
                f"no connector named {name!r} (installed: {known}); "
                "run `leadbridge connectors` to list them"
            ) from None


def get_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with our hook specifications and nothing registered."""
    pm = pluggy.PluginManager("leadbridge")
    pm.add_hookspecs(hookspecs)
    return pm


def _wanted(ep: EntryPoint) -> bool:
    selection = os.environ.get(LOAD_PLUGINS_ENV)
    if selection is None:
        return True
    return ep.name in {s.strip() for s in selection.split(",") if s.strip()}


def _distribution(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown", ""
    return dist.metadata["Name"], dist.version


def _ordered(eps: Iterable[EntryPoint]) -> list[tuple[EntryPoint, str, str]]:
    """Each entry point with its distribution's name and version (read once): our own
    distribution's first, then the others by distribution and name.

    Why: when two plugins claim one connector name the first keeps it, so the order must not
    depend on sys.path order; a third-party plugin never shadows a built-in connector.
    """
    found = [(ep, *_distribution(ep)) for ep in eps]
    return sorted(found, key=lambda f: (f[1] != "leadbridge", f[1].lower(), f[0].name))


def load_registry(extra_plugins: list[tuple[str, ModuleType | object]] | None = None) -> Registry:
    """Load every plugin in the entry-point group (plus ``extra_plugins``, for tests) and
    collect their connectors."""
    registry = Registry()
    pm = get_plugin_manager()
    sources: dict[str, tuple[str, str]] = {}
    for ep, package, version in _ordered(entry_points(group=ENTRY_POINT_GROUP)):
        if not _wanted(ep):
            continue
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # any failure in third-party code must not stop the others
            _fail(registry, ep.name, f"{package}: import failed: {type(exc).__name__}: {exc}")
            continue
        sources[ep.name] = (package, version)
    for name, plugin in extra_plugins or []:
        pm.register(plugin, name=name)
        sources[name] = ("(registered in process)", "")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        _fail(registry, getattr(exc, "plugin_name", "?"), str(exc))
    for impl in pm.hook.register_connectors.get_hookimpls():
        plugin_name = impl.plugin_name
        package, version = sources.get(plugin_name, ("unknown", ""))

        def register(cls: type[Connector], _plugin: str = plugin_name,
                     _package: str = package, _version: str = version) -> None:
            # A refused class is recorded, not raised: the plugin's other connectors still
            # register (one duplicate name must not take a whole plugin down).
            try:
                _register(registry, cls, _plugin, _package, _version)
            except PluginError as exc:
                _fail(registry, _plugin, exc.reason)

        try:
            impl.function(register=register)
        except Exception as exc:
            _fail(registry, plugin_name, f"register_connectors failed: {type(exc).__name__}: {exc}")
    return registry


def _register(registry: Registry, cls: type[Connector], plugin: str, package: str, version: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise PluginError(plugin, f"{cls!r} is not a leadbridge.Connector subclass")
    if not cls.name or not cls.name.replace("_", "").isalnum():
        raise PluginError(plugin, f"{cls.__name__} needs a `name` of letters, digits and _")
    if cls.records is Connector.records:
        raise PluginError(plugin, f"{cls.__name__} does not implement records(state)")
    existing = registry.connectors.get(cls.name)
    if existing is not None:
        raise PluginError(
            plugin, f"connector name {cls.name!r} is already registered by plugin "
                    f"{existing.plugin!r} ({' '.join(filter(None, (existing.package, existing.version)))})"
        )
    registry.connectors[cls.name] = ConnectorInfo(
        name=cls.name, cls=cls, plugin=plugin, package=package, version=version,
        source_platform=cls.source_platform, description=cls.description,
        options=tuple(cls.options),
    )


def _fail(registry: Registry, plugin: str, reason: str) -> None:
    earlier = registry.failures.get(plugin)
    registry.failures[plugin] = f"{earlier}; {reason}" if earlier else reason
    warnings.warn(f"leadbridge plugin {plugin!r} not loaded: {reason}", PluginWarning, stacklevel=3)
