"""Salesforce OAuth: the token request for each flow the connector offers.

Why a module of its own: three flows (client credentials, refresh token, JWT bearer) share one
token endpoint and one answer (``access_token`` + ``instance_url``), and the JWT flow needs RS256
signing from the optional ``cryptography`` package, imported only here and only when used, so
installs without the ``salesforce-jwt`` extra keep working for the other flows.
"""

from __future__ import annotations

import base64
import importlib
import json
import time
from pathlib import Path
from typing import Any

from ..errors import OptionsError

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: Salesforce accepts an assertion whose ``exp`` is at most 3 minutes ahead.
JWT_LIFETIME = 180
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"
INSTALL_HINT = "pip install 'leadbridge[salesforce-jwt]'"


def default_audience(login_url: str) -> str:
    """The JWT ``aud``: test.salesforce.com for sandboxes, login.salesforce.com otherwise."""
    return SANDBOX_AUDIENCE if "test.salesforce.com" in login_url else PRODUCTION_AUDIENCE


CRYPTO_MODULES = ("hashes", "asymmetric.padding", "asymmetric.rsa", "serialization")


def _crypto() -> dict[str, Any]:
    """cryptography's modules by short name, or a clear error naming the extra to install."""
    try:
        return {name.rsplit(".", 1)[-1]: importlib.import_module(
                    f"cryptography.hazmat.primitives.{name}") for name in CRYPTO_MODULES}
    except ImportError:
        raise OptionsError("salesforce", [
            "auth=jwt signs with RS256 and needs the optional 'cryptography' package: "
            f"{INSTALL_HINT}"]) from None


def load_private_key(path: Path) -> Any:
    """Read and parse the PEM private key once, before the run, so a bad file fails early.

    The key's bytes never appear in an error: only the path and what is wrong with it.
    """
    crypto = _crypto()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise OptionsError("salesforce", [
            f"private_key_file {str(path)!r} cannot be read ({exc.strerror or exc}); set "
            "SALESFORCE_PRIVATE_KEY_FILE to the connected app's PEM private key"]) from None
    try:
        key = crypto["serialization"].load_pem_private_key(data, password=None)
    except Exception:  # ValueError, TypeError (encrypted), UnsupportedAlgorithm
        raise OptionsError("salesforce", [
            f"private_key_file {str(path)!r} is not an unencrypted PEM private key "
            "(expected '-----BEGIN PRIVATE KEY-----' or '-----BEGIN RSA PRIVATE KEY-----')"]
        ) from None
    if not isinstance(key, crypto["rsa"].RSAPrivateKey):
        raise OptionsError("salesforce", [f"private_key_file {str(path)!r} is not an RSA key "
                                          "(Salesforce JWT bearer uses RS256)"])
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_assertion(key: Any, *, client_id: str, username: str, audience: str,
                  now: float | None = None) -> str:
    """An RS256-signed JWT with the claims Salesforce checks: iss, sub, aud, exp."""
    crypto = _crypto()
    issued = int(time.time() if now is None else now)
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = _b64(json.dumps({"iss": client_id, "sub": username, "aud": audience,
                              "exp": issued + JWT_LIFETIME}, separators=(",", ":")).encode())
    signing_input = f"{header}.{claims}".encode("ascii")
    signature = key.sign(signing_input, crypto["padding"].PKCS1v15(),
                         crypto["hashes"].SHA256())
    return f"{header}.{claims}.{_b64(signature)}"


def token_form(config: dict[str, Any], key: Any, audience: str,
               refresh_token: str | None = None) -> dict[str, str]:
    """The form body of ``POST /services/oauth2/token`` for the configured flow
    (``refresh_token``: a rotated one received earlier in this run)."""
    flow = config["auth"]
    if flow == "jwt":
        return {"grant_type": JWT_GRANT,
                "assertion": jwt_assertion(key, client_id=config["client_id"],
                                           username=config["username"], audience=audience)}
    form = {"client_id": config["client_id"], "client_secret": config["client_secret"].reveal()}
    if flow == "refresh_token":
        form.update(grant_type="refresh_token",
                    refresh_token=refresh_token or config["refresh_token"].reveal())
    else:
        form["grant_type"] = "client_credentials"
    return form
