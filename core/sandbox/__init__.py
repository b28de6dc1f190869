"""A faithful local MEGA CRM Lead API for tests, demos and rehearsals (`leadbridge sandbox`)."""

from __future__ import annotations

from .config import SandboxConfig, TokenGrant
from .server import Sandbox

__all__ = sorted(["Sandbox", "SandboxConfig", "TokenGrant"])
