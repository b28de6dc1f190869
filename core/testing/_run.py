"""The conformance suite as one call, for scripts and runners other than pytest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..connector import Connector
from . import _checks as c
from ._source import ConformanceSource


def _plan(cls: type[Connector], source: ConformanceSource, incremental: bool,
          check_registration: bool) -> list[tuple[str, Callable[[], Any]]]:
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("metadata", lambda: c.check_metadata(cls)),
        ("options_valid", lambda: c.check_options_valid(cls, source)),
        ("options_missing_required", lambda: c.check_options_missing_required(cls)),
        ("options_all_problems_at_once", lambda: c.check_options_all_problems_at_once(cls, source)),
        ("secrets_from_env", lambda: c.check_secrets_from_env(cls, source)),
        ("secrets_not_shown", lambda: c.check_secrets_not_shown(cls, source)),
        ("secrets_not_logged", lambda: c.check_secrets_not_logged(cls, source)),
        ("records_shape", lambda: c.check_records_shape(cls, source)),
        ("source_ids_unique", lambda: c.check_source_ids_unique(cls, source)),
        ("source_ids_stable", lambda: c.check_source_ids_stable(cls, source)),
        ("state_json", lambda: c.check_state_json(cls, source)),
    ]
    if check_registration:
        steps.insert(1, ("registered", lambda: c.check_registered(cls)))
    if source.refused_options is not None:
        steps.append(("secrets_not_in_errors", lambda: c.check_secrets_not_in_errors(cls, source)))
    if incremental:  # last: change() edits the source
        steps.append(("incremental_unchanged", lambda: c.check_incremental_unchanged(cls, source)))
        steps.append(("incremental_changed", lambda: c.check_incremental_changed(cls, source)))
    return steps


def check_connector(cls: type[Connector], source: ConformanceSource, *, incremental: bool = True,
                    check_registration: bool = True) -> list[str]:
    """Run every check; return the names that passed, or raise one ConformanceFailure
    listing every failed check (their names in its ``failed`` attribute).
    ``source.change`` is called once, at the end."""
    passed: list[str] = []
    failed: list[tuple[str, str]] = []
    for name, step in _plan(cls, source, incremental, check_registration):
        try:
            step()
        except c.ConformanceFailure as exc:
            failed.append((name, f"[{name}] {exc}"))
        except Exception as exc:  # noqa: BLE001 - the connector's own error fails the check
            failed.append((name, f"[{name}] raised {type(exc).__name__}: {exc}"))
        else:
            passed.append(name)
    if failed:
        secrets = c.secret_values(cls, source.options, source.env) + \
            c.secret_values(cls, source.refused_options or {}, source.env)
        report = "\n".join(text for _, text in failed)
        for secret in sorted(secrets, key=len, reverse=True):
            report = report.replace(secret, "***")  # a leaking error must not leak again here
        exc = c.ConformanceFailure(f"{cls.__name__} fails {len(failed)} conformance check(s):\n"
                                   + report)
        exc.failed = [name for name, _ in failed]
        raise exc
    return passed
