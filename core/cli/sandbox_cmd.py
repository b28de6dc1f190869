"""`leadbridge sandbox`: serve a local MEGA CRM Lead API until Ctrl-C."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import List, Optional

import typer

from ._common import friendly_errors


def _split(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM and SIGINT stop the sandbox: the socket and the --db file close cleanly."""
    raise KeyboardInterrupt


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""

    @app.command("sandbox")
    @friendly_errors
    def sandbox(
        host: str = typer.Option("127.0.0.1", "--host",
                                 help="Interface to bind; loopback unless you mean otherwise."),
        port: int = typer.Option(0, "--port", help="Port to listen on (0 = any free port)."),
        token: Optional[List[str]] = typer.Option(
            None, "--token", help="TOKEN:CUSTOMER_UUID:SCOPE,SCOPE (repeatable). "
                                  "Without any, one is generated and printed."),
        stages: Optional[str] = typer.Option(None, "--stages",
                                             help="Pipeline stage slugs, comma-separated."),
        owners: Optional[str] = typer.Option(None, "--owners",
                                             help="Team member UUIDs, comma-separated."),
        custom_fields: Optional[str] = typer.Option(
            None, "--custom-fields", help="Custom-field slugs, comma-separated "
                                          "(lead_line is always defined)."),
        time_scale: float = typer.Option(1.0, "--time-scale",
                                         help="Multiply every rate-limit window (0.01: a "
                                              "minute lasts 0.6 s)."),
        fail_before: float = typer.Option(0.0, "--fail-before",
                                          help="Probability of a 5xx before any write."),
        fail_after: float = typer.Option(0.0, "--fail-after",
                                         help="Probability of a 5xx or dropped connection "
                                              "after a write."),
        latency: float = typer.Option(0.0, "--latency", help="Seconds added to each request."),
        seed: Optional[int] = typer.Option(None, "--seed", help="Seed for reproducible faults."),
        db: Optional[Path] = typer.Option(None, "--db",
                                          help="DuckDB file keeping state across restarts."),
    ) -> None:
        """Serve a local MEGA CRM Lead API (auth, scopes, idempotency, rate limits, dedup)."""
        from ..sandbox import Sandbox, SandboxConfig, TokenGrant
        from ..sandbox.config import ALL_SCOPES

        grants = tuple(TokenGrant.parse(spec) for spec in token or ())
        generated = not grants
        if generated:
            grants = (TokenGrant.generate(ALL_SCOPES),)
        options: dict[str, object] = {
            "tokens": grants, "host": host, "port": port, "time_scale": time_scale,
            "fail_before": fail_before, "fail_after": fail_after, "latency": latency,
            "seed": seed, "db_path": db,
        }
        for name, value in (("stages", _split(stages)), ("owners", _split(owners)),
                            ("custom_fields", _split(custom_fields))):
            if value is not None:
                options[name] = value
        config = SandboxConfig(**options)  # type: ignore[arg-type]
        try:
            sandbox = Sandbox(config).bind()
        except OSError as exc:
            from ..errors import ConfigError

            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                              "choose another --port") from None
        base_url = sandbox.base_url
        # SIGINT too: a process started in the background of a script (`cmd &`) or under
        # nohup inherits SIGINT *ignored*, and Ctrl-C / kill -INT would never reach it.
        # Installed before the address is printed: a script that reads it and stops the
        # sandbox at once must not find SIGINT still ignored (the signal would be lost).
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            typer.echo(f"MEGA sandbox listening on {base_url}")
            if generated:
                grant = grants[0]
                typer.echo(f"token:       {grant.token}")
                typer.echo(f"customer id: {grant.customer_id}")
                typer.echo(f"scopes:      {','.join(grant.scopes)}")
                typer.echo(f"export MEGA_BASE_URL={base_url}")
                typer.echo(f"export MEGA_TOKEN={grant.token}")
                typer.echo(f"export MEGA_CUSTOMER_ID={grant.customer_id}")
            else:
                typer.echo(f"export MEGA_BASE_URL={base_url}")
                for grant in grants:
                    typer.echo(f"customer {grant.customer_id}: scopes {','.join(grant.scopes)}")
            if db is not None:
                typer.echo(f"state kept in {db}")
            if host not in ("127.0.0.1", "localhost", "::1"):
                typer.echo(f"warning: listening on {host}, not loopback: anyone who can reach this "
                           "machine can reach the sandbox (it holds test data only)", err=True)
            typer.echo("Press Ctrl-C to stop.", err=True)
            sandbox.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            sandbox.stop()
            typer.echo("sandbox stopped", err=True)
