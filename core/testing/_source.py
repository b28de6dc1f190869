"""What a connector author hands the conformance suite: options and how to change the source.

Why a small value object: the suite must not know any CRM. The author says how to build a
working connector (options pointing at their fake server or sample file), how to change the
source between two runs (for the incremental check) and, optionally, options the source
refuses (for the "secrets stay out of errors" check).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ConformanceSource:
    """How to run one connector against a test source.

    ``options``: keyword options that build a working connector whose source holds at least
    one record (secret values should be distinctive, e.g. ``"tok-secret-123"``, so a leak is
    unmistakable).

    ``change``: called once between two runs; it edits and/or adds records in the source and
    returns the ``source_id``s a correct incremental run must now yield (exactly those).
    Required unless the connector is declared not incremental.

    ``refused_options``: options the source refuses (a wrong token, say). Reading with them
    must raise a ``LeadbridgeError`` whose message and traceback hold none of their secrets.

    ``env``: environment variables to set while the connector runs (besides ``options``).
    """

    options: Mapping[str, Any]
    change: Callable[[], Iterable[str]] | None = None
    refused_options: Mapping[str, Any] | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        # pytest prints fixture values in failure reports: show option names, never values
        # (they hold the test's secrets).
        refused = sorted(self.refused_options) if self.refused_options is not None else None
        return (f"ConformanceSource(options={sorted(self.options)}, "
                f"change={'yes' if self.change else 'no'}, refused_options={refused}, "
                f"env={sorted(self.env)})")
