"""The sandbox server: MEGA's routes behind auth, rate limits and fault switches.

Every route goes through one pipeline, in this order: latency, authentication (401), rate
limit of the key's bucket (429), customer and scope (403), fail-before (5xx, nothing
written), the handler, fail-after (for writes: the write is committed, then a 5xx or a dropped
connection). Every answer after authentication carries the ``RateLimit-*`` headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..httpserver import JSONServer, Request, Response, Router
from ..mega_model import SCOPE_READ, SCOPE_WEBHOOKS, SCOPE_WRITE
from .auth import Authenticator
from .config import SandboxConfig
from .delivery import Deliverer
from .envelope import ApiError, error_response
from .faults import Faults
from .ratelimit import BULK_BUCKET, DEFAULT_BUCKET, RateLimiter
from .routes_leads import LeadRoutes
from .routes_webhooks import WebhookRoutes
from .shapes import render_lead
from .store import Store

Handler = Callable[[Request, str], Response]
LEADS = "/api/agents/crm/leads"
HOOKS = "/api/agents/crm/lead-webhooks"


def _server_error(status: int, message: str) -> Response:
    """Answers the shared server gives by itself (unknown route, body too large, crash)."""
    if status == 413:
        message = "Request body is too large"
    elif status == 404:
        message = "No such endpoint"
    elif status == 405:
        message = "Method not allowed on this endpoint"
    elif status >= 500:
        message = "Internal sandbox error; safe to retry"
    return error_response(status, message)


class Sandbox:
    """A local MEGA on a real socket. ``with Sandbox(config) as sb: sb.base_url``."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig.default()
        self.store: Store | None = None
        self.faults = Faults(self.config.fail_before, self.config.fail_after,
                             self.config.latency, self.config.seed)
        self._server: JSONServer | None = None
        self.deliverer: Deliverer | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def _build(self) -> JSONServer:
        config = self.config
        self.store = store = Store(config.db_path)
        self.auth = Authenticator(config.tokens)
        self.limiter = RateLimiter.for_config(config.default_per_minute,
                                              config.default_per_hour, config.bulk_per_minute,
                                              config.time_scale)
        self.deliverer = Deliverer(store, config)
        leads = LeadRoutes(store, config, on_created=self.deliverer.lead_created)
        hooks = WebhookRoutes(store, config.allow_private_webhooks)
        router = Router()
        add = self._add
        add(router, "GET", LEADS, SCOPE_READ, DEFAULT_BUCKET, leads.list_leads)
        add(router, "POST", LEADS, SCOPE_WRITE, DEFAULT_BUCKET, leads.create_lead, write=True)
        add(router, "POST", LEADS + "/bulk", SCOPE_WRITE, BULK_BUCKET, leads.bulk_import,
            write=True)
        add(router, "POST", LEADS + "/{id}/stage", SCOPE_WRITE, DEFAULT_BUCKET,
            leads.move_stage, write=True)
        add(router, "GET", HOOKS, SCOPE_WEBHOOKS, DEFAULT_BUCKET, hooks.list)
        add(router, "POST", HOOKS, SCOPE_WEBHOOKS, DEFAULT_BUCKET, hooks.create)
        add(router, "PATCH", HOOKS + "/{id}", SCOPE_WEBHOOKS, DEFAULT_BUCKET, hooks.update)
        add(router, "DELETE", HOOKS + "/{id}", SCOPE_WEBHOOKS, DEFAULT_BUCKET, hooks.delete)
        try:
            return JSONServer(router, config.host, config.port, max_body=config.max_body,
                              error=_server_error, poll_interval=0.05)
        except OSError:
            store.close()
            self.store = None
            raise

    def start(self) -> Sandbox:
        if self._server is None:
            self._server = self._build()
            self._server.start()
        return self

    def bind(self) -> Sandbox:
        """Open the socket without serving yet (so the CLI can print the address first)."""
        if self._server is None:
            self._server = self._build()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the CLI)."""
        self.bind()
        assert self._server is not None
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.deliverer is not None:
            self.deliverer.stop()
        if self.store is not None:
            self.store.close()
            self.store = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started; call start() first")
        return self._server.base_url

    # --- inspection --------------------------------------------------------------------------

    def leads(self, customer_id: str) -> list[dict[str, Any]]:
        """Every stored lead of a customer in the pull shape (with custom fields), oldest first."""
        if self.store is None:
            raise RuntimeError("the sandbox is not started; call start() first")
        return [render_lead(lead, self.config, True) for lead in self.store.leads(customer_id)]

    def __repr__(self) -> str:
        where = self._server.base_url if self._server else "stopped"
        return f"Sandbox({where}, customers={len(self.config.customers)})"

    # --- the request pipeline ------------------------------------------------------------

    def _add(self, router: Router, method: str, path: str, scope: str, bucket: str,
             handler: Handler, write: bool = False) -> None:
        def endpoint(request: Request) -> Response:
            self.faults.delay()
            try:
                grant = self.auth.authenticate(request.headers)
            except ApiError as exc:
                return exc.response()
            decision = self.limiter.hit(self.auth.key_id(grant), bucket)
            rate_headers = decision.headers()
            if not decision.allowed:
                return error_response(429, "Rate limit exceeded. Please retry later.",
                                      rate_headers)
            try:
                customer_id = self.auth.authorize(grant, request.headers, scope)
                if self.faults.before():
                    return error_response(503, "Service temporarily unavailable "
                                               "(sandbox fail-before); safe to retry",
                                          rate_headers)
                response = handler(request, customer_id)
            except ApiError as exc:
                response = exc.response()
            if write and response.status < 300:
                fault = self.faults.after()
                if fault == "drop":
                    return Response(drop=True)
                if fault == "error":
                    return error_response(500, "Internal server error after the write "
                                               "(sandbox fail-after); retry with the same "
                                               "Idempotency-Key", rate_headers)
            response.headers.update(rate_headers)
            return response

        router.add(method, path, endpoint)
