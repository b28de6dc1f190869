"""The connector contract: a class with typed options and a ``records(state)`` generator.

Kept deliberately tiny (one method to write) so a connector for a new CRM is an afternoon's
work. Options are declared, validated all at once before anything runs, and secrets are read
from environment variables and never shown.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from .errors import OptionsError


class Secret:
    """A secret value that never shows itself in ``repr``, ``str``, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value: call only where it goes on the wire."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "bool": bool, "path": Path}
#: What a user is told a value must be ("must be path, not 5" read as nonsense).
_NOUNS: dict[str, str] = {"str": "text", "int": "a whole number", "float": "a number",
                          "path": "a file path"}


@dataclass(frozen=True)
class Option:
    """One declared connector option.

    ``type`` is one of ``str``, ``int``, ``float``, ``bool``, ``path``, ``secret`` or
    ``choice`` (with ``choices``). ``env`` names an environment variable the value is read
    from when not given (always set it for secrets).
    """

    name: str
    type: str = "str"
    required: bool = False
    default: Any = None
    help: str = ""
    env: str | None = None
    choices: tuple[str, ...] = ()

    @property
    def secret(self) -> bool:
        return self.type == "secret"

    def convert(self, raw: Any) -> Any:
        """Convert a raw value (often a CLI string) to this option's type, or raise ValueError."""
        if self.type == "secret":
            return raw if isinstance(raw, Secret) else Secret(str(raw))
        if self.type == "choice":
            value = str(raw)
            if value not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}, not {value!r}")
            return value
        if self.type == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"must be true or false, not {raw!r}")
        typ = _TYPES.get(self.type)
        if typ is None:
            raise ValueError(f"unknown option type {self.type!r}")
        wrong = ValueError(f"must be {_NOUNS.get(self.type, self.type)}, not {raw!r}")
        if typ in (int, float) and isinstance(raw, bool):  # a job file's `batch_size = true`
            raise wrong
        if typ is int and isinstance(raw, float) and not raw.is_integer():  # 2.5 is not 2
            raise wrong
        if isinstance(raw, typ):
            return raw
        try:
            return typ(raw)
        except (TypeError, ValueError):
            raise wrong from None


@dataclass(frozen=True)
class ConnectorInfo:
    """What `leadbridge connectors` shows about a registered connector class."""

    name: str
    cls: type[Connector]
    plugin: str
    package: str
    version: str
    source_platform: str | None = None
    description: str = ""
    options: tuple[Option, ...] = field(default_factory=tuple)


class Connector:
    """Base class for every connector, built-in or third-party.

    Subclasses set the class attributes and implement :meth:`records`. The host builds the
    instance with ``Connector(**options)`` (validated here, all problems at once), hands it a
    mutable ``state`` dict that it persists in the workspace between runs (the incremental
    cursor), and stages whatever ``records`` yields: canonical dicts (see
    ``leadbridge.records``) or ``pyarrow.RecordBatch``es.
    """

    name: ClassVar[str] = ""
    source_platform: ClassVar[str | None] = None
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    #: Name of the option filled by the CLI's positional argument (``sync csv PATH``).
    positional: ClassVar[str | None] = None

    def __init__(self, **given: Any) -> None:
        self.config: dict[str, Any] = self.validate_options(given)

    @classmethod
    def validate_options(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """Validate options; raise one OptionsError naming every problem."""
        declared = {opt.name: opt for opt in cls.options}
        problems: list[str] = []
        values: dict[str, Any] = {}
        for name in given:
            if name not in declared:
                known = ", ".join(sorted(declared)) or "none"
                problems.append(f"unknown option {name!r} (known: {known})")
        for opt in cls.options:
            raw = given.get(opt.name)
            source = "option"
            if raw is None and opt.env and os.environ.get(opt.env):
                raw, source = os.environ[opt.env], f"environment variable {opt.env}"
            if raw is None:
                if opt.required:
                    hint = f" (or set {opt.env})" if opt.env else ""
                    problems.append(f"option {opt.name!r} is required{hint}")
                values[opt.name] = opt.default
                continue
            try:
                values[opt.name] = opt.convert(raw)
            except ValueError as exc:
                shown = "<secret>" if opt.secret else ""
                where = "" if source == "option" else f" from {source}"
                problems.append(f"option {opt.name!r}{where} {exc}{shown}")
        if problems:
            raise OptionsError(cls.name or cls.__name__, problems)
        return values

    def records(self, state: dict[str, Any]) -> Iterator[Mapping[str, Any] | pa.RecordBatch]:
        """Yield canonical records; update ``state`` with the cursor to resume from."""
        raise NotImplementedError

    def describe_mapping(self) -> list[tuple[str, str, str]]:
        """(source column, canonical field, how it was decided) for the user to see.

        File connectors fill this after opening the file; API connectors may leave it empty.
        """
        return []

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({shown})"
