"""Where a run sends: MEGA from the environment, or a sandbox (in-process or given).

``--sandbox`` keeps the sandbox's state next to the workspace (``<ws>.sandbox.duckdb``) and its
customer id in the workspace; its token is derived from that id, so no secret is ever stored.
"""

from __future__ import annotations

import hashlib
import math
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..errors import ConfigError
from . import ledger
from .planner import Known

NO_TOKEN = ("no MEGA token: set MEGA_TOKEN and MEGA_CUSTOMER_ID (and MEGA_BASE_URL if not "
            "https://app.gomega.ai) to sync to MEGA, or add --sandbox to rehearse the same job "
            "against an in-process sandbox")


def time_scale() -> float:
    """``LEADBRIDGE_TIME_SCALE`` shrinks rate-limit windows (rehearsals against a sandbox
    started with the same ``--time-scale``, and tests); 1 against MEGA itself."""
    raw = os.environ.get("LEADBRIDGE_TIME_SCALE", "1")
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"LEADBRIDGE_TIME_SCALE must be a number, not {raw!r}") from None
    if not math.isfinite(value) or value <= 0:  # nan and inf parse, then break the pacing
        raise ConfigError(f"LEADBRIDGE_TIME_SCALE must be a number > 0, not {raw!r}")
    return value


def _sandbox_identity(con: Any) -> tuple[str, str]:
    """The --sandbox customer (kept in the workspace) and its token (derived, never stored)."""
    customer = ledger.get_meta(con, "sandbox_customer_id")
    if customer is None:
        customer = str(uuid.uuid4())
        with ledger.transaction(con):
            ledger.set_meta(con, "sandbox_customer_id", customer)
    token = "mega_" + hashlib.sha256(f"leadbridge-sandbox:{customer}".encode()).hexdigest()
    return customer, token


@contextmanager
def open_target(ws: Any, *, sandbox: Any, base_url: str | None, token: str | None,
            customer_id: str | None, client: Any,
            known: Known) -> Iterator[tuple[Any, Known]]:
    """A MegaClient for the run's target: MEGA from the environment, or a sandbox."""
    from ..mega import MegaClient

    if client is not None:
        yield client, known
        return
    if sandbox:
        from ..sandbox import Sandbox, SandboxConfig, TokenGrant

        own = not isinstance(sandbox, Sandbox)
        if own:
            customer, tok = _sandbox_identity(ws.con)
            db = None if ws.path is None else ws.path.with_name(ws.path.stem + ".sandbox.duckdb")
            overrides = dict(sandbox) if isinstance(sandbox, Mapping) else {}
            overrides.setdefault("time_scale", time_scale())
            box = Sandbox(SandboxConfig(tokens=(TokenGrant(tok, customer),), db_path=db,
                                        **overrides)).start()
        else:
            box = sandbox
            grant = box.config.tokens[0]
            customer, tok = grant.customer_id, grant.token
        cfg = box.config
        known = Known(known.stages or frozenset(cfg.stages), known.owners or frozenset(cfg.owners))
        try:
            with MegaClient(box.base_url, tok, customer, time_scale=cfg.time_scale,
                            env={}) as mega:
                yield mega, known
        finally:
            if own:
                box.stop()
        return
    if not (token or os.environ.get("MEGA_TOKEN")):
        raise ConfigError(NO_TOKEN)
    with MegaClient(base_url, token, customer_id, time_scale=time_scale()) as mega:
        yield mega, known
