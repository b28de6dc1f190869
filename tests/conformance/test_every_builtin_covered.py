"""Every connector our own distribution registers has a conformance class here, so a new
built-in connector cannot skip the suite."""

import importlib.util
import warnings
from pathlib import Path

from leadbridge.plugins import load_registry
from leadbridge.testing import ConnectorConformance


def _suite_classes():
    found = set()
    for path in sorted(Path(__file__).parent.glob("test_*_conformance.py")):
        spec = importlib.util.spec_from_file_location(f"_coverage_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found |= {obj.connector_class for obj in vars(module).values()
                  if isinstance(obj, type) and issubclass(obj, ConnectorConformance)
                  and obj is not ConnectorConformance}
    return found


def test_every_builtin_connector_runs_the_conformance_suite():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registry = load_registry()
    builtins = {info.cls for info in registry.connectors.values() if info.package == "leadbridge"}
    assert len(builtins) >= 11
    missing = sorted(cls.name for cls in builtins - _suite_classes())
    assert not missing, f"no conformance class for built-in connector(s) {missing}"
