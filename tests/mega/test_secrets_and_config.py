"""The token never shows itself; configuration errors name the variable to set."""

from __future__ import annotations

import logging
import pickle
import traceback

import pytest
from mega_support import CUSTOMER, TOKEN, client_for

import leadbridge.mega as mega
from leadbridge.errors import ConfigError, MegaError
from leadbridge.httpserver import Response
from leadbridge.mega import (
    MegaAuthenticationError,
    MegaClient,
    MegaServerError,
    MegaTransportError,
)
from leadbridge.mega.config import resolve_settings
from leadbridge.sandbox import TokenGrant


def _everything_said(exc: BaseException) -> str:
    """str, repr, the formatted traceback *with every frame's locals*, and the chain."""
    tb = traceback.TracebackException.from_exception(exc, capture_locals=True)
    chain = tb
    while chain is not None:  # the test's own frames hold the token on purpose: skip them
        for frame in chain.stack:
            if "/tests/" in frame.filename:
                frame.locals = None
        chain = chain.__cause__ or chain.__context__
    return "\n".join([str(exc), repr(exc), "".join(tb.format(chain=True)), repr(exc.__dict__)])


def test_token_never_in_repr_logs_errors_or_tracebacks(sandbox, scripted, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # root: includes leadbridge.mega, httpx and httpcore
    for name in ("httpx", "httpcore", "leadbridge"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    grant = sandbox.config.tokens[0]
    said: list[str] = []
    with client_for(sandbox) as client:
        said += [repr(client), str(client), repr(client.__dict__), repr(client._http.headers)]
        client.bulk_import([{"contact_email": "x@example.com"}])
        list(client.list_leads(limit=1))
        with pytest.raises(MegaError) as info:  # 400 from the sandbox
            client.move_stage("not-a-uuid", "won")
        said.append(_everything_said(info.value))
    wrong = TokenGrant(grant.token[:-4] + "0000", grant.customer_id)
    with client_for(sandbox, wrong) as client, pytest.raises(MegaAuthenticationError) as info:
        client.list_leads_page()
    said.append(_everything_said(info.value))

    server = scripted([Response(drop=True)])
    with MegaClient(server.base_url, grant.token, CUSTOMER, max_attempts=2,
                    time_scale=0.01) as client:
        with pytest.raises(MegaTransportError) as t_info:
            client.bulk_import([{"contact_email": "y@example.com"}], idempotency_key="k1")
        said.append(_everything_said(t_info.value))
    with MegaClient(server.base_url, grant.token, CUSTOMER, max_attempts=1,
                    time_scale=0.01) as client:
        scripted([Response(503, "down")])
        with pytest.raises(MegaServerError) as s_info:
            client.list_leads_page()
        said.append(_everything_said(s_info.value))
        said.append(repr(pickle.loads(pickle.dumps(s_info.value)).__dict__))

    logged = caplog.text + "\n".join(repr(r.args) + repr(r.__dict__) for r in caplog.records)
    assert "httpx" in {r.name for r in caplog.records}  # httpx's own logger was captured
    assert any(r.name == "leadbridge.mega" for r in caplog.records)
    secret_part = grant.token[len("mega_"):]
    for text in [*said, logged]:
        assert grant.token not in text and secret_part not in text
    assert "Bearer" not in logged


def test_errors_carry_method_path_and_no_headers(scripted) -> None:
    server = scripted([Response(500, {"error": {"type": "api_error", "code": 500,
                                                "message": "kaput"}})])
    with server.client(max_attempts=1) as client, pytest.raises(MegaServerError) as info:
        client.list_leads_page(search="ann")
    err = info.value
    assert (err.method, err.path, err.status, err.message) == (
        "GET", "/api/agents/crm/leads", 500, "kaput")
    assert "search" not in str(err)  # no query string (search terms are personal data)


def test_missing_token_and_customer_name_the_variables() -> None:
    with pytest.raises(ConfigError) as info:
        MegaClient(env={})
    text = str(info.value)
    assert "MEGA_TOKEN" in text and "MEGA_CUSTOMER_ID" in text
    with pytest.raises(ConfigError, match="MEGA_CUSTOMER_ID"):
        MegaClient(token=TOKEN, env={})
    with pytest.raises(ConfigError, match="UUID"):
        MegaClient(token=TOKEN, customer_id="acme", env={})


def test_settings_come_from_the_environment_and_arguments_win() -> None:
    env = {"MEGA_TOKEN": TOKEN, "MEGA_CUSTOMER_ID": CUSTOMER}
    with MegaClient(env=env) as client:
        assert client.base_url == "https://app.gomega.ai" and client.customer_id == CUSTOMER
    env["MEGA_BASE_URL"] = "http://127.0.0.1:9/"
    with MegaClient(env=env) as client:
        assert client.base_url == "http://127.0.0.1:9"
    with MegaClient("https://mega.example", env=env) as client:
        assert client.base_url == "https://mega.example"


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ConfigError, match="unencrypted"):
        MegaClient("http://mega.example", TOKEN, CUSTOMER)
    with MegaClient("http://mega.example", TOKEN, CUSTOMER, allow_http=True):
        pass


def test_config_error_never_echoes_the_token() -> None:
    with pytest.raises(ConfigError) as info:
        MegaClient("ftp://x", TOKEN, "not-a-uuid")
    assert TOKEN not in _everything_said(info.value)


def test_public_names_are_exported() -> None:
    assert mega.__all__ == sorted(mega.__all__)
    for name in mega.__all__:
        assert getattr(mega, name) is not None
    assert issubclass(mega.MegaAPIError, MegaError)
    assert issubclass(mega.MegaTransportError, MegaError)


@pytest.mark.parametrize("url", ["http://127.0.0.1:abc", "http://[::1", "http://127.0.0.1:99999",
                                 "http://127.0.0.1:0", "localhost:8080"])
def test_a_malformed_base_url_is_a_config_error(url: str) -> None:
    """A port that is not a number, or an unclosed IPv6 bracket, was a ValueError/InvalidURL
    traceback from urlsplit or httpx; the URL is not echoed (it may carry credentials), and
    the message names where it came from (a job's [target] base_url is not the variable)."""
    with pytest.raises(ConfigError, match="MEGA_BASE_URL must be an http") as info:
        resolve_settings(env={"MEGA_BASE_URL": url, "MEGA_TOKEN": TOKEN,
                              "MEGA_CUSTOMER_ID": CUSTOMER})
    assert url not in str(info.value)
    with pytest.raises(ConfigError, match=r"base_url \(\[target\] base_url") as info:
        MegaClient(url, TOKEN, CUSTOMER)
    assert url not in str(info.value) and "MEGA_BASE_URL" not in str(info.value)


def test_a_base_url_carrying_credentials_is_refused_without_echoing_them() -> None:
    """A URL's user:pass@ would be stored with every run (sync_runs.base_url); MEGA never
    needs it, so it is refused, and the message does not repeat it."""
    for url in ("https://admin:hunter2-secret@mega.example", "https://tok3n-only@mega.example"):
        with pytest.raises(ConfigError, match="must not carry a user name or password") as info:
            resolve_settings(env={"MEGA_BASE_URL": url, "MEGA_TOKEN": TOKEN,
                                  "MEGA_CUSTOMER_ID": CUSTOMER})
        assert "hunter2" not in str(info.value) and "tok3n" not in str(info.value)
