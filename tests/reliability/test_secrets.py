"""Tokens for MEGA and the connectors never appear anywhere leadbridge writes.

Syncs run with distinctive tokens — through the CLI (debug logging on the root logger,
``--json``, progress bars forced on by a pseudo-terminal, report files, failing runs: wrong
token, unreachable MEGA, faults and retries) and through the Python API (caplog at DEBUG,
progress on, exception messages and tracebacks) — then every output is searched: stdout,
stderr, log records, report files, every file in the workspace folder (DuckDB file and WAL).
"""

from __future__ import annotations

import json
import logging
import os
import pty
import subprocess
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from reliability_support import FAST, check_no_duplicates

from leadbridge.errors import LeadbridgeError
from leadbridge.mega import MegaClient
from leadbridge.pipeline import sync
from leadbridge.sandbox import Sandbox, SandboxConfig, TokenGrant
from tests.fakes.followupboss import FakeFUB
from tests.fakes.ghl import FakeGHL
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.lead_docket import FakeLeadDocket
from tests.fakes.pipedrive import FakePipedrive
from tests.fakes.salesforce import FakeSalesforce
from tests.fakes.shopify import FakeShopify
from tests.fakes.zoho import FakeZoho
from tests.pipeline.conftest import ListConnector, cli_env, messy_records, write_csv

MEGA_TOKEN = "mega_" + "5ec7e7a1" * 8
CUSTOMER = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
WRONG_MEGA = "mega_" + "badc0ffe" * 8
PIPEDRIVE = "pd-LEAKCHECK-7f3a9c1e2b4d"
HUBSPOT = "pat-na1-LEAKCHECK-91c2d3e4f5"
FUB = "fub-LEAKCHECK-a8b7c6d5e4"
FUB_SYSTEM = "fubsys-LEAKCHECK-0a9b8c7d"
GHL = "pit-LEAKCHECK-3e4f5a6b7c8d"
SHOPIFY = "shpat_LEAKCHECK_9d8c7b6a5f"
LEAD_DOCKET = "ld-LEAKCHECK-1a2b3c4d5e6f"
ZOHO_SECRET = "zohosecret-LEAKCHECK-4c5d6e"
ZOHO_REFRESH = "1000.LEAKCHECK-refresh-7e8f9a"
SALESFORCE_SECRET = "sfsecret-LEAKCHECK-2b3c4d5e"
GOOD = (MEGA_TOKEN, PIPEDRIVE, HUBSPOT, FUB, FUB_SYSTEM, GHL, SHOPIFY, LEAD_DOCKET, ZOHO_SECRET,
        ZOHO_REFRESH, SALESFORCE_SECRET)
#: wrong tokens (refused by the server) must not be printed either: they are often real ones
SECRETS = (*GOOD, WRONG_MEGA, *(s[::-1] for s in GOOD))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)

#: the CLI with every logger at DEBUG on stderr (there is no --verbose flag: this is stronger)
_DEBUG_MAIN = ("import logging, sys; logging.basicConfig(level=logging.DEBUG, "
               "stream=sys.stderr); from leadbridge.cli import main; main(sys.argv[1:])")


def leaked(text: str | bytes) -> list[str]:
    """Secrets found in ``text``, whole or as any 12-character piece of one."""
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    found = []
    for secret in SECRETS:
        pieces = {secret[i:i + 12] for i in range(len(secret) - 11)}
        if any(p.encode() in data for p in pieces if not p.startswith("mega_")):
            found.append(secret)
    return found


def _folder_leaks(folder: Path, skip: tuple[Path, ...] = ()) -> dict[str, list[str]]:
    out = {}
    for path in folder.rglob("*"):
        if path.is_file() and path not in skip:
            hits = leaked(path.read_bytes())
            if hits:
                out[str(path)] = hits
    return out


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _DEBUG_MAIN, *args], env=env,
                          capture_output=True, text=True, timeout=120)


def _cli_tty(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run on a pseudo-terminal, so progress bars and the rich summary are on."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", _DEBUG_MAIN, *args], env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return proc.wait(120), out.decode("utf-8", "replace")


@pytest.fixture
def mega() -> Sandbox:
    config = SandboxConfig(tokens=(TokenGrant(MEGA_TOKEN, CUSTOMER),), time_scale=FAST,
                           fail_before=0.3, fail_after=0.5, seed=2)
    with Sandbox(config) as box:
        yield box


def _env(box: Sandbox, **extra: str) -> dict[str, str]:
    env = cli_env(LEADBRIDGE_TIME_SCALE=str(FAST), MEGA_BASE_URL=box.base_url,
                  MEGA_TOKEN=MEGA_TOKEN, MEGA_CUSTOMER_ID=CUSTOMER, TERM="xterm",
                  COLUMNS="120", **extra)
    for name in list(env):
        if name.split("_")[0] in ("PIPEDRIVE", "HUBSPOT", "FUB", "GHL", "SHOPIFY", "LEAD",
                                  "ZOHO", "SALESFORCE"):
            env.pop(name)
    env.update({k: v for k, v in extra.items()})
    return env


def test_cli_outputs_and_workspace_never_hold_a_token(mega: Sandbox, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "leads.csv", messy_records(300, seed=4))
    ws = tmp_path / "work" / "ws.duckdb"
    env = _env(mega)
    outputs: dict[str, str] = {}

    code, text = _cli_tty(["sync", "csv", str(data), "--workspace", str(ws)], env)
    assert code in (0, 1), text[-2000:]
    assert "chunks" in text and "DEBUG" in text  # progress bars and debug logs were on
    outputs["sync (tty, progress, debug)"] = text
    again = _cli(["sync", "csv", str(data), "--workspace", str(ws), "--json"], env)
    assert again.returncode in (0, 1), again.stderr
    outputs["sync --json stdout"], outputs["sync --json stderr"] = again.stdout, again.stderr
    for fmt in ("csv", "json"):
        out = tmp_path / "work" / f"outcomes.{fmt}"
        rep = _cli(["report", "--format", fmt, "--output", str(out), "--workspace", str(ws)], env)
        assert rep.returncode == 0 and out.stat().st_size > 0, rep.stderr
        outputs[f"report {fmt}"] = rep.stdout + rep.stderr
    # failures: MEGA refuses the token; MEGA cannot be reached (retries, then a stop)
    wrong = _cli(["sync", "csv", str(data), "--workspace", str(tmp_path / "work" / "w2.duckdb")],
                 {**env, "MEGA_TOKEN": WRONG_MEGA})
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    outputs["wrong token"] = wrong.stdout + wrong.stderr
    down = _cli(["sync", "csv", str(data), "--workspace", str(tmp_path / "work" / "w3.duckdb")],
                {**env, "MEGA_BASE_URL": "http://127.0.0.1:9"})
    assert down.returncode != 0
    outputs["unreachable"] = down.stdout + down.stderr
    check_no_duplicates(mega.leads(CUSTOMER))
    assert {k: leaked(v) for k, v in outputs.items() if leaked(v)} == {}
    assert _folder_leaks(tmp_path / "work") == {}
    assert ws.stat().st_size > 0 and sum(mega.faults.counts.values()) > 0  # retries happened


def _pipedrive() -> tuple[Any, dict[str, str], list[str]]:
    fake = FakePipedrive(tokens={PIPEDRIVE}).start()
    fake.add(T0, name="A", emails=[{"value": "a@example.com", "primary": True}])
    return fake, {"PIPEDRIVE_TOKEN": PIPEDRIVE}, []


def _hubspot() -> tuple[Any, dict[str, str], list[str]]:
    fake = FakeHubSpot(tokens={HUBSPOT}).start()
    fake.add("101", 1_700_000_000_000, email="b@example.com", firstname="B")
    return fake, {"HUBSPOT_TOKEN": HUBSPOT}, []


def _followupboss() -> tuple[Any, dict[str, str], list[str]]:
    fake = FakeFUB(api_keys={FUB}).start()
    fake.add(T0, name="C", stage="New", emails=[{"value": "c@example.com", "isPrimary": True}])
    return fake, {"FUB_API_KEY": FUB, "FUB_SYSTEM_KEY": FUB_SYSTEM}, []


def _ghl() -> tuple[Any, dict[str, str], list[str]]:
    fake = FakeGHL(tokens={GHL}).start()
    fake.add(T0, firstName="D", email="d@example.com")
    return fake, {"GHL_TOKEN": GHL, "GHL_LOCATION_ID": fake.location_id}, []


def _shopify() -> tuple[Any, dict[str, str], list[str]]:
    fake = FakeShopify(tokens={SHOPIFY}).start()
    fake.add(T0, firstName="E", defaultEmailAddress={"emailAddress": "e@example.com"})
    return fake, {"SHOPIFY_TOKEN": SHOPIFY}, []


def _lead_docket() -> tuple[Any, dict[str, str], list[str]]:
    fake = FakeLeadDocket(api_keys={LEAD_DOCKET}).start()
    fake.add(T0, FirstName="F", Email="f@example.com", StatusName="New")
    return fake, {"LEAD_DOCKET_API_KEY": LEAD_DOCKET}, ["--option", "requests_per_second=0"]


def _zoho() -> tuple[Any, dict[str, str], list[str]]:
    fake = FakeZoho(client_secret=ZOHO_SECRET, refresh_token=ZOHO_REFRESH).start()
    fake.add("Leads", T0, Last_Name="G", Email="g@example.com")
    return fake, {"ZOHO_REFRESH_TOKEN": ZOHO_REFRESH, "ZOHO_CLIENT_ID": fake.client_id,
                  "ZOHO_CLIENT_SECRET": ZOHO_SECRET, "ZOHO_ACCOUNTS_URL": fake.base_url}, []


def _salesforce() -> tuple[Any, dict[str, str], list[str]]:
    fake = FakeSalesforce(client_secret=SALESFORCE_SECRET).start()
    fake.add("Lead", "00QA", "2026-02-01T10:00:01.000+0000", Email="h@example.com", Name="H")
    return fake, {"SALESFORCE_CLIENT_ID": fake.client_id,
                  "SALESFORCE_CLIENT_SECRET": SALESFORCE_SECRET,
                  "SALESFORCE_LOGIN_URL": fake.base_url}, ["--option", "objects=Lead"]


SOURCES = {"pipedrive": _pipedrive, "hubspot": _hubspot, "followupboss": _followupboss,
           "ghl": _ghl, "shopify": _shopify, "lead_docket": _lead_docket, "zoho": _zoho,
           "salesforce": _salesforce}


def _cli_in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The CLI's own entry point in this process (the same code as the console script, without
    a second interpreter's start-up): exit code and everything printed."""
    from leadbridge.cli import main

    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("name", list(SOURCES))
def test_connector_tokens_never_leak(name: str, mega: Sandbox, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch,
                                     caplog: pytest.LogCaptureFixture,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from leadbridge.connectors import _http

    monkeypatch.setattr(_http, "BACKOFF_SCALE", 0.01)  # as the connectors' own tests do
    work = tmp_path / "work"
    outputs: dict[str, str] = {}
    fake, secret_env, extra = SOURCES[name]()
    quiet = logging.NullHandler()  # so the CLI keeps our DEBUG level instead of setting INFO
    logging.getLogger("leadbridge").addHandler(quiet)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="leadbridge")
    try:
        for key, value in _env(mega, **secret_env).items():
            monkeypatch.setenv(key, value)
        args = ["sync", name, "--option", f"base_url={fake.base_url}", *extra,
                "--workspace", str(work / f"{name}.duckdb")]
        code, text = _cli_in_process([*args, "--json"], capsys)
        assert code in (0, 1), text[-2000:]
        assert json.loads(text[text.index("{"):])["records"] >= 1
        outputs["json"] = text
        # the source refuses the token: its error must not quote it (reversed: a secret too)
        for key, value in secret_env.items():
            if value in GOOD:
                monkeypatch.setenv(key, value[::-1])
        code, text = _cli_in_process([*args[:-1], str(work / f"{name}-bad.duckdb")], capsys)
        assert code != 0
        outputs["refused"] = text
    finally:
        fake.stop()
        logging.getLogger("leadbridge").removeHandler(quiet)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    # httpx's own request lines (URLs with their query strings) were captured too
    assert any(r.name.startswith("httpx") for r in caplog.records)
    outputs["logs"] = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert {k: leaked(v) for k, v in outputs.items() if leaked(v)} == {}
    assert _folder_leaks(work) == {}


def test_connector_progress_output_on_a_terminal(mega: Sandbox, tmp_path: Path) -> None:
    """A connector sync as a real process on a pseudo-terminal (progress bars, rich summary,
    every logger at DEBUG), then a refused token, searched for every secret."""
    fake, secret_env, extra = _pipedrive()
    try:
        env = _env(mega, **secret_env)
        args = ["sync", "pipedrive", "--option", f"base_url={fake.base_url}", "--workspace",
                str(tmp_path / "work" / "pd.duckdb")]
        code, text = _cli_tty(args, env)
        assert code in (0, 1), text[-2000:]
        assert "records" in text and "DEBUG" in text
        bad = _cli([*args[:-1], str(tmp_path / "work" / "bad.duckdb")],
                   {**env, "PIPEDRIVE_TOKEN": PIPEDRIVE[::-1]})
        assert bad.returncode != 0
    finally:
        fake.stop()
    assert leaked(text) == [] and leaked(bad.stdout + bad.stderr) == []
    assert _folder_leaks(tmp_path / "work") == {}


def test_python_api_logs_progress_and_errors_never_hold_a_token(
        mega: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    ws = tmp_path / "work" / "ws.duckdb"
    with MegaClient(mega.base_url, MEGA_TOKEN, CUSTOMER, time_scale=FAST, env={}) as client:
        result = sync(ListConnector(messy_records(200, seed=6)), workspace=ws, client=client,
                      stages=mega.config.stages, progress=True)
        texts = [repr(client), str(client), repr(result), str(result.summary)]
        assert client.stats.retries > 0  # faults happened, so retry logs were written
    errors: list[str] = []
    with MegaClient(mega.base_url, WRONG_MEGA, CUSTOMER, time_scale=FAST, env={}) as bad, \
            pytest.raises(LeadbridgeError) as refused:
        sync(ListConnector(messy_records(5, seed=1)), workspace=tmp_path / "work" / "w2.duckdb",
             client=bad)
    errors.append("".join(traceback.format_exception(refused.value)))
    with pytest.raises(LeadbridgeError) as down:
        with MegaClient("http://127.0.0.1:9", MEGA_TOKEN, CUSTOMER, time_scale=FAST, env={},
                        allow_http=True, max_attempts=2) as dead:
            dead.bulk_import([{"contact_email": "x@example.com"}])
    errors.append("".join(traceback.format_exception(down.value)) + repr(down.value.__dict__))
    captured = capsys.readouterr()
    assert "records" in captured.err  # the progress bars were drawn
    logs = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert any(r.levelno == logging.DEBUG and r.name.startswith("leadbridge")
               for r in caplog.records)
    for name, text in {"logs": logs, "stdout": captured.out, "stderr": captured.err,
                       "errors": "\n".join(errors), "objects": "\n".join(texts)}.items():
        assert leaked(text) == [], name
    assert _folder_leaks(tmp_path / "work") == {}


def test_the_leak_detector_finds_whole_and_partial_tokens() -> None:
    assert leaked(f"Authorization: Bearer {MEGA_TOKEN}") == [MEGA_TOKEN]
    assert leaked(f"token={PIPEDRIVE[3:17]}...") == [PIPEDRIVE]
    assert leaked(b"\x00" + FUB[::-1].encode() + b"\x00") == [FUB[::-1]]
    assert leaked("mega_ and nothing else, customer " + CUSTOMER) == []
