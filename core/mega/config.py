"""Where the client's base URL, token and customer come from: arguments first, then the env.

The token is wrapped in :class:`leadbridge.connector.Secret` as soon as it is read, so it
never shows itself in a ``repr``, a log line or a traceback's locals.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..connector import Secret
from ..errors import ConfigError
from ..mega_model import is_uuid

__all__ = ["DEFAULT_BASE_URL", "ENV_BASE_URL", "ENV_CUSTOMER_ID", "ENV_TOKEN", "MegaSettings",
           "resolve_settings"]

DEFAULT_BASE_URL = "https://app.gomega.ai"
ENV_BASE_URL = "MEGA_BASE_URL"
ENV_TOKEN = "MEGA_TOKEN"
ENV_CUSTOMER_ID = "MEGA_CUSTOMER_ID"



@dataclass(frozen=True)
class MegaSettings:
    """Resolved connection settings; the token is a Secret."""

    base_url: str
    token: Secret
    customer_id: str


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_settings(base_url: str | None = None, token: str | Secret | None = None,
                     customer_id: str | None = None, *, env: Mapping[str, str] | None = None,
                     allow_http: bool = False) -> MegaSettings:
    """Arguments win over ``MEGA_BASE_URL`` / ``MEGA_TOKEN`` / ``MEGA_CUSTOMER_ID``.

    Raises ConfigError naming every missing or malformed variable at once.
    """
    # Nothing secret stays in a plain local: a traceback printed with its locals (rich,
    # pytest --showlocals) must not reveal the token or the environment holding it.
    token = token if isinstance(token, Secret) else Secret((token or "").strip())
    if not token:
        token = Secret((_lookup(env, ENV_TOKEN) or "").strip())
    env_url, env_customer = _lookup(env, ENV_BASE_URL), _lookup(env, ENV_CUSTOMER_ID)
    del env
    url = (base_url or env_url or DEFAULT_BASE_URL).strip().rstrip("/")
    customer = (customer_id or env_customer or "").strip()

    problems: list[str] = []
    if not token.reveal().strip():
        problems.append(f"no MEGA token: set {ENV_TOKEN} (or pass token=...); MEGA issues "
                        "keys that look like mega_<64 hex>")
    if not customer:
        problems.append(f"no MEGA customer: set {ENV_CUSTOMER_ID} (or pass customer_id=...) "
                        "to the customer UUID the key is locked to")
    elif not is_uuid(customer):
        problems.append(f"{ENV_CUSTOMER_ID} must be a UUID like "
                        "123e4567-e89b-12d3-a456-426614174000")
    try:  # '[::1' or a port like ':abc' / ':99999' raise ValueError here (or later in httpx)
        parts = urlsplit(url)
        valid = (parts.scheme in ("http", "https") and bool(parts.hostname)
                 and parts.port != 0)
    except ValueError:
        valid = False
    # name where the URL came from: a job's [target] base_url wins over the variable
    url_name = "base_url ([target] base_url or base_url=...)" if base_url else ENV_BASE_URL
    if not valid:  # the URL itself is not repeated: it may carry credentials
        problems.append(f"{url_name} must be an http(s) URL like {DEFAULT_BASE_URL} "
                        "(a scheme, a host, and an optional port from 1 to 65535)")
    elif parts.username is not None or parts.password is not None:
        # MEGA authenticates with the token alone; credentials in the URL would be stored
        # with the run (sync_runs.base_url) and shown wherever the URL is
        problems.append(f"{url_name} must not carry a user name or password (user:pass@): "
                        f"MEGA authenticates with {ENV_TOKEN}")
    elif parts.scheme == "http" and not allow_http and not _is_loopback(parts.hostname):
        problems.append(f"{url_name} uses plain http to a non-loopback host "
                        f"({parts.hostname}): the token would travel unencrypted; use https")
    if problems:
        raise ConfigError("MEGA client configuration: " + "; ".join(problems))
    return MegaSettings(base_url=url, token=token, customer_id=customer)


def _lookup(env: Mapping[str, str] | None, name: str) -> str | None:
    return (os.environ if env is None else env).get(name)
