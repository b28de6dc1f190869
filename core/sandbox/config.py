"""What a sandbox is configured with: tokens, pipeline, team, custom fields and switches.

One frozen value object, so the CLI, tests and the demo all describe a sandbox the same way.
"""

from __future__ import annotations

import math
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..mega_model import SCOPE_READ, SCOPE_WEBHOOKS, SCOPE_WRITE, is_uuid

ALL_SCOPES: tuple[str, ...] = (SCOPE_READ, SCOPE_WRITE, SCOPE_WEBHOOKS)
LEAD_SCOPES: tuple[str, ...] = (SCOPE_READ, SCOPE_WRITE)

DEFAULT_STAGES: tuple[str, ...] = ("new", "contacted", "qualified", "proposal", "won", "lost")
DEFAULT_OWNERS: tuple[str, ...] = (
    "5f0c6d8e-1b2a-4c3d-9e8f-0a1b2c3d4e5f",
    "8a7b6c5d-4e3f-4a1b-8c9d-0e1f2a3b4c5d",
)
DEFAULT_CUSTOM_FIELDS: tuple[str, ...] = ("budget", "timeline", "phone_extension")
#: Always defined: MEGA reserves it (reference section 6).
RESERVED_CUSTOM_FIELDS: tuple[str, ...] = ("lead_line",)

#: Request bodies above this are refused with 413 before they are read.
DEFAULT_MAX_BODY = 5 * 1024 * 1024

def new_token() -> str:
    """A token in MEGA's shape: ``mega_`` + 64 hex."""
    return "mega_" + secrets.token_hex(32)


@dataclass(frozen=True)
class TokenGrant:
    """One API key: locked to one customer, carrying only its scopes."""

    token: str = field(repr=False)
    customer_id: str
    scopes: tuple[str, ...] = ALL_SCOPES

    def __post_init__(self) -> None:
        object.__setattr__(self, "scopes", tuple(self.scopes))
        if not self.token:
            raise ConfigError("a sandbox token cannot be empty")
        if not is_uuid(self.customer_id):
            raise ConfigError(f"customer id {self.customer_id!r} is not a UUID; "
                              "give one like 123e4567-e89b-12d3-a456-426614174000")
        unknown = [s for s in self.scopes if s not in ALL_SCOPES]
        if unknown:
            raise ConfigError(f"unknown scope(s) {', '.join(unknown)}; "
                              f"choose from {', '.join(ALL_SCOPES)}")

    @classmethod
    def generate(cls, scopes: tuple[str, ...] = ALL_SCOPES) -> TokenGrant:
        return cls(new_token(), str(uuid.uuid4()), scopes)

    @classmethod
    def parse(cls, spec: str) -> TokenGrant:
        """Parse the CLI form ``TOKEN:CUSTOMER_UUID:SCOPE,SCOPE``.

        Scopes contain colons themselves, so the token is everything before the first colon,
        the customer the next 36 characters, and the rest the scope list.
        """
        token, sep, rest = spec.partition(":")
        customer, sep2, scopes = rest[:36], rest[36:37], rest[37:]
        if not sep or not token or not is_uuid(customer) or (rest[36:] and sep2 != ":"):
            raise ConfigError("--token expects TOKEN:CUSTOMER_UUID:SCOPE,SCOPE "
                              "(e.g. mega_abc:123e4567-e89b-12d3-a456-426614174000:"
                              "public_api:leads:read)")
        parsed = tuple(s.strip() for s in scopes.split(",") if s.strip()) if scopes else LEAD_SCOPES
        return cls(token, customer, parsed)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a sandbox needs; ``SandboxConfig.default()`` gives a ready one."""

    tokens: tuple[TokenGrant, ...] = ()
    stages: tuple[str, ...] = DEFAULT_STAGES
    owners: tuple[str, ...] = DEFAULT_OWNERS
    custom_fields: tuple[str, ...] = DEFAULT_CUSTOM_FIELDS
    #: Multiplies every rate-limit window (0.01 makes a minute 0.6 s).
    time_scale: float = 1.0
    #: Probability of a 5xx before anything is written.
    fail_before: float = 0.0
    #: Probability, for a write, of committing and then answering 5xx or dropping the socket.
    fail_after: float = 0.0
    #: Seconds added to every request.
    latency: float = 0.0
    seed: int | None = None
    #: DuckDB file keeping state across restarts; None keeps everything in memory.
    db_path: str | Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    #: (per minute, per hour) for the Default bucket, per minute for the Bulk bucket.
    default_per_minute: int = 60
    default_per_hour: int = 1000
    bulk_per_minute: int = 10
    max_body: int = DEFAULT_MAX_BODY
    #: Accept http:// and loopback/private webhook URLs (tests with a local receiver only;
    #: MEGA itself refuses them).
    allow_private_webhooks: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "tokens", tuple(self.tokens))
        object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "owners", tuple(self.owners))
        object.__setattr__(self, "custom_fields", tuple(self.custom_fields))
        if not math.isfinite(self.time_scale) or self.time_scale <= 0:  # nan passes "<= 0"
            raise ConfigError(f"--time-scale must be > 0, got {self.time_scale}")
        for name in ("fail_before", "fail_after"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"--{name.replace('_', '-')} is a probability in 0..1, "
                                  f"got {value}")
        if not math.isfinite(self.latency) or self.latency < 0:
            raise ConfigError(f"--latency must be >= 0 seconds, got {self.latency}")
        if not 0 <= self.port <= 65535:  # else bind() raises OverflowError, not OSError
            raise ConfigError(f"--port must be 0 (any free port) to 65535, got {self.port}")
        bad_owners = [o for o in self.owners if not is_uuid(o)]
        if bad_owners:
            raise ConfigError(f"--owners takes UUIDs; not a UUID: {', '.join(bad_owners)}")
        bad_stages = [s for s in self.stages if not s or not s.strip()]
        if bad_stages or not self.stages:
            raise ConfigError("--stages needs at least one non-empty stage slug")
        for name in ("default_per_minute", "default_per_hour", "bulk_per_minute", "max_body"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")

    @classmethod
    def default(cls, **overrides: object) -> SandboxConfig:
        """One generated ``mega_<64 hex>`` token and customer with every scope."""
        overrides.setdefault("tokens", (TokenGrant.generate(ALL_SCOPES),))
        return cls(**overrides)  # type: ignore[arg-type]

    @property
    def defined_custom_fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.custom_fields, *RESERVED_CUSTOM_FIELDS)))

    @property
    def customers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.customer_id for g in self.tokens))
