"""Every error leadbridge raises on purpose.

The tree (catch the branch you can act on)::

    LeadbridgeError                  base; ``str()`` is a message a user can act on
    ├── ConfigError                  bad options, job file, mapping or environment (exit 2)
    │   └── OptionsError             connector options failed validation (lists every problem)
    ├── PluginError                  a plugin failed to import or register
    ├── SourceError                  a source could not be read (file missing, API refused)
    │   └── SourceDataError          the data itself is unusable (empty file, no header)
    ├── WorkspaceError               the DuckDB workspace is missing, locked or from another run
    └── MegaError                    anything to do with the MEGA API (see leadbridge.mega.errors)
        ├── MegaTransportError       network failure after every retry (retriable later)
        └── MegaAPIError             MEGA answered with its error envelope
            ├── MegaAuthenticationError  401
            ├── MegaAuthorizationError   403
            ├── MegaInvalidRequestError  400
            ├── MegaNotFoundError        404
            ├── MegaConflictError        409
            ├── MegaRateLimitError       429 (after every retry)
            └── MegaServerError          5xx (after every retry)

Messages never contain secrets and never contain ANSI codes; the CLI prints them as-is.
"""

from __future__ import annotations


class LeadbridgeError(Exception):
    """Base class of every error leadbridge raises on purpose."""

    exit_code: int = 1


class ConfigError(LeadbridgeError):
    """A configuration problem the user must fix before anything runs."""

    exit_code = 2


class OptionsError(ConfigError):
    """Connector options failed validation; ``problems`` lists each one."""

    def __init__(self, connector: str, problems: list[str]) -> None:
        self.connector = connector
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"connector {connector!r}: invalid options:\n{lines}")


class PluginError(LeadbridgeError):
    """A plugin could not be imported or registered."""

    def __init__(self, plugin: str, reason: str) -> None:
        self.plugin = plugin
        self.reason = reason
        super().__init__(f"plugin {plugin!r} failed: {reason}")


class SourceError(LeadbridgeError):
    """A source could not be read at all."""

    exit_code = 2

    def __init__(self, message: str, *, connector: str | None = None) -> None:
        self.connector = connector
        super().__init__(message)


class SourceDataError(SourceError):
    """The source was read but holds nothing usable (empty file, header only...)."""


class WorkspaceError(LeadbridgeError):
    """The workspace cannot be used."""

    exit_code = 2


class MegaError(LeadbridgeError):
    """Base of every MEGA API problem."""
