"""Webhook management routes, and the `leadbridge sandbox` command line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from leadbridge.sandbox import TokenGrant
from leadbridge.errors import ConfigError

HOOKS = "/api/agents/crm/lead-webhooks"


def test_webhook_lifecycle(api) -> None:
    created = api.call("POST", HOOKS, json={"url": "https://hooks.example.com/mega",
                                            "description": "crm"})
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("mega_whsec_")
    hook = body["webhook"]
    assert (hook["event_types"], hook["timeout_seconds"], hook["retry_attempts"],
            hook["is_active"]) == (["lead.created"], 10, 5, True)
    listed = api.call("GET", HOOKS).json()["webhooks"]
    assert listed == [hook] and "secret" not in listed[0]
    path = f"{HOOKS}/{hook['id']}"
    updated = api.call("PATCH", HOOKS + "/{id}", path=path,
                       json={"is_active": False, "timeout_seconds": 30})
    assert updated.status_code == 200 and "secret" not in updated.json()
    assert updated.json()["webhook"]["is_active"] is False
    rotated = api.call("PATCH", HOOKS + "/{id}", path=path, json={"rotate_secret": True})
    assert rotated.json()["secret"].startswith("mega_whsec_")
    assert rotated.json()["secret"] != body["secret"]
    duplicate = api.call("POST", HOOKS, json={"url": "https://hooks.example.com/mega"})
    assert duplicate.status_code == 409
    deleted = api.call("DELETE", HOOKS + "/{id}", path=path)
    assert deleted.json() == {"deleted": True}
    assert api.call("GET", HOOKS).json()["webhooks"] == []
    assert api.call("DELETE", HOOKS + "/{id}", path=path).status_code == 404
    assert api.call("PATCH", HOOKS + "/{id}", path=path, json={}).status_code == 404


@pytest.mark.parametrize("body", [
    {}, {"url": "http://hooks.example.com/x"}, {"url": "https://localhost/x"},
    {"url": "https://127.0.0.1/x"}, {"url": "https://10.1.2.3/x"}, {"url": "https://[::1]/x"},
    {"url": "https://169.254.169.254/latest"}, {"url": "https://intranet/x"},
    {"url": "https://svc.internal/x"}, {"url": "https://ok.example.com", "timeout_seconds": 61},
    {"url": "https://ok.example.com", "retry_attempts": -1},
    {"url": "https://ok.example.com", "event_types": ["lead.updated"]},
    {"url": "https://ok.example.com", "is_active": "yes"},
])
def test_webhook_registration_is_validated(api, body) -> None:
    answer = api.call("POST", HOOKS, json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_token_spec_parsing() -> None:
    customer = str(uuid.uuid4())
    parsed = TokenGrant.parse(f"mega_x:{customer}:public_api:leads:read,public_api:leads:write")
    assert (parsed.token, parsed.customer_id, parsed.scopes) == (
        "mega_x", customer, ("public_api:leads:read", "public_api:leads:write"))
    assert "mega_x" not in repr(parsed)
    for bad in ("nocolon", f"t:{customer[:-1]}:public_api:leads:read", f"t:{customer}:nope",
                f"t:{customer}x"):
        with pytest.raises(ConfigError):
            TokenGrant.parse(bad)


def _start_cli(*args: str, sigint_ignored: bool = False
               ) -> tuple[subprocess.Popen[str], dict[str, str]]:
    def ignore() -> None:  # what `cmd &` in a script or nohup hands a process
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-c", "from leadbridge.cli import main; main()", "sandbox", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=ignore if sigint_ignored else None)
    lines: dict[str, str] = {}
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = re.match(r"export (MEGA_\w+)=(\S+)", line)
        if match:
            lines[match.group(1)] = match.group(2)
        if "MEGA_BASE_URL" in lines and ("MEGA_CUSTOMER_ID" in lines or "--token" in args):
            break
    return proc, lines


def test_ctrl_c_stops_a_sandbox_started_with_sigint_ignored(tmp_path) -> None:
    # a background process inherits SIGINT ignored; "Press Ctrl-C to stop" must still hold
    proc, env = _start_cli("--port", "0", "--db", str(tmp_path / "sb.duckdb"),
                           sigint_ignored=True)
    assert env["MEGA_BASE_URL"].startswith("http://127.0.0.1:")
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("SIGINT did not stop the sandbox") from None
    assert proc.returncode == 0 and "sandbox stopped" in err


def test_cli_generates_a_token_serves_and_stops_cleanly(tmp_path) -> None:
    proc, env = _start_cli("--port", "0", "--db", str(tmp_path / "sb.duckdb"),
                           "--stages", "new,won", "--custom-fields", "budget")
    try:
        assert re.fullmatch(r"mega_[0-9a-f]{64}", env["MEGA_TOKEN"])
        hdrs = {"Authorization": f"Bearer {env['MEGA_TOKEN']}",
                "x-customer-id": env["MEGA_CUSTOMER_ID"]}
        assert env["MEGA_BASE_URL"].startswith("http://127.0.0.1:")
        body = {"leads": [{"contact_name": "cli", "stage_slug": "won"},
                          {"contact_name": "x", "stage_slug": "qualified"}]}
        answer = httpx.post(env["MEGA_BASE_URL"] + "/api/agents/crm/leads/bulk", json=body,
                            headers=hdrs)
        assert [r["status"] for r in answer.json()["results"]] == ["created", "failed"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "sandbox stopped" in err


def test_cli_with_tokens_and_bad_options() -> None:
    customer = str(uuid.uuid4())
    proc, env = _start_cli("--token", f"mega_one:{customer}:public_api:leads:read",
                           "--time-scale", "0.5")
    try:
        hdrs = {"Authorization": "Bearer mega_one", "x-customer-id": customer}
        url = env["MEGA_BASE_URL"] + "/api/agents/crm/leads"
        assert httpx.get(url, headers=hdrs).status_code == 200
        assert httpx.post(url, headers=hdrs, json={"contact_name": "x"}).status_code == 403
    finally:
        proc.terminate()  # SIGTERM stops it as cleanly as Ctrl-C
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    bad = subprocess.run([sys.executable, "-c", "from leadbridge.cli import main; main()",
                          "sandbox", "--fail-after", "2"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "--fail-after is a probability" in bad.stderr


def test_cli_db_that_is_not_duckdb_is_a_clear_error(tmp_path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database")
    bad = subprocess.run([sys.executable, "-c", "from leadbridge.cli import main; main()",
                          "sandbox", "--db", str(junk)], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "cannot open sandbox state file" in bad.stderr and "--db" in bad.stderr
