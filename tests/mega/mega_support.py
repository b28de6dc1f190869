"""Helpers shared by the MEGA client tests (constants, scripted-server records, envelopes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from leadbridge.httpserver import JSONServer, Response
from leadbridge.mega import MegaClient
from leadbridge.sandbox import Sandbox, TokenGrant

#: Shrinks every rate window 100x (a minute becomes 0.6 s); the client uses the same scale.
SCALE = 0.01
CUSTOMER = "0b7e6a52-6f1e-4a5e-9d43-3f1f1c2d9a10"
TOKEN = "mega_" + "ab12" * 16


def client_for(sb: Sandbox, grant: TokenGrant | None = None, **kw: object) -> MegaClient:
    grant = grant or sb.config.tokens[0]
    kw.setdefault("time_scale", sb.config.time_scale)
    return MegaClient(sb.base_url, grant.token, grant.customer_id, **kw)  # type: ignore[arg-type]


@dataclass
class Seen:
    """One request a scripted server received."""

    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: dict = field(default_factory=dict)


@dataclass
class Scripted:
    """A real loopback server answering from a script; records every request it got."""

    server: JSONServer
    seen: list[Seen] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def client(self, **kw: object) -> MegaClient:
        kw.setdefault("time_scale", SCALE)
        return MegaClient(self.base_url, TOKEN, CUSTOMER, **kw)  # type: ignore[arg-type]


def envelope(status: int, etype: str, message: str, headers: dict[str, str] | None = None
             ) -> Response:
    return Response(status, {"error": {"type": etype, "code": status, "message": message}},
                    headers=headers or {})


BULK_OK = Response(200, {"dry_run": False, "results": [], "unknown_custom_fields": [],
                         "summary": {"total": 0, "created": 0, "updated": 0, "skipped": 0,
                                     "failed": 0}})
