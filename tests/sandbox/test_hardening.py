"""Bad input never crashes the sandbox: envelope answers for junk, caps, loopback by default."""

from __future__ import annotations

import json
import socket

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_support import grant

from leadbridge.sandbox import SandboxConfig

LEADS = "/api/agents/crm/leads"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=12,
)
row_fields = st.sampled_from(["row_ref", "contact_name", "contact_phone", "contact_email",
                              "source_platform", "source_type", "stage_slug", "owner_id",
                              "lead_line", "custom_fields", "junk"])
hostile_rows = st.dictionaries(row_fields, json_values | st.sampled_from(
    ["", " ", "a@b.co", "(206) 555-0123", "new", "buyer", "hubspot", "form"]), max_size=6)


def test_binds_loopback_by_default(sandbox) -> None:
    assert SandboxConfig().host == "127.0.0.1"
    assert sandbox.base_url.startswith("http://127.0.0.1:")


def test_malformed_json_and_wrong_types(api) -> None:
    for raw in (b"{bad", b"\xff\xfe", b"", b"null", b"[1,2]", b'"text"', b"1e999999",
                b'{"leads": [{"contact_name": "x", "custom_fields": {"budget": NaN}}]}',
                b'{"leads": [{"contact_name": "x", "custom_fields": {"budget": 1e400}}]}',
                b"[" * 100_000 + b"]" * 100_000):
        for template in (LEADS, LEADS + "/bulk"):
            answer = api.call("POST", template, content=raw)
            assert answer.status_code == 400, (template, raw)
            assert answer.json()["error"]["type"] == "invalid_request_error"


def test_oversized_body_is_413_envelope(make_sandbox, api_for) -> None:
    g = grant()
    api = api_for(make_sandbox(tokens=(g,), max_body=4096), g)
    rows = [{"contact_name": "x" * 100} for _ in range(100)]
    answer = api.call("POST", LEADS + "/bulk", json={"leads": rows})
    assert answer.status_code == 413
    assert answer.json()["error"] == {"type": "invalid_request_error", "code": 413,
                                      "message": "Request body is too large"}
    assert api.list().status_code == 200  # and the server keeps serving


def test_unknown_routes_and_methods(api) -> None:
    missing = api.http.get("/api/agents/crm/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    wrong = api.http.delete(LEADS)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == 405


def test_protocol_garbage_gets_an_envelope(sandbox) -> None:
    host, port = sandbox.base_url.removeprefix("http://").split(":")
    for raw in (b"\x00\xff junk\r\n\r\n",
                b"POST /api/agents/crm/leads HTTP/1.1\r\nContent-Length: nope\r\n\r\n{}",
                b"POST /api/agents/crm/leads HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"2\r\n{}\r\n0\r\n\r\n"):
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(raw)
            data = b""
            while chunk := conn.recv(4096):
                data += chunk
        # http.server answers a junk request line as HTTP/0.9: a body without headers
        body = json.loads(data.split(b"\r\n\r\n", 1)[-1])
        assert body["error"]["type"] == "invalid_request_error", raw
    assert httpx.get(sandbox.base_url + LEADS).status_code == 401


def test_non_ascii_and_huge_headers_are_401(sandbox) -> None:
    g = sandbox.config.tokens[0]
    for token in ("mega_ü" + "0" * 60, "x" * 5000):
        answer = httpx.get(sandbox.base_url + LEADS, headers={
            "Authorization": ("Bearer " + token).encode("utf-8"), "x-customer-id": g.customer_id})
        assert answer.status_code == 401


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values, st.fixed_dictionaries(
    {"leads": st.lists(hostile_rows, min_size=1, max_size=5)},
    optional={"on_duplicate": json_values | st.sampled_from(["update", "skip"]),
              "dry_run": json_values})))
def test_fuzzed_bulk_bodies_get_schema_valid_answers(make_sandbox_once, body) -> None:
    api = make_sandbox_once
    answer = api.call("POST", LEADS + "/bulk", json=body)  # validated against OpenAPI
    assert answer.status_code in (200, 400)
    if answer.status_code == 200:
        summary = answer.json()["summary"]
        assert summary["total"] == len(body["leads"]) == sum(
            summary[k] for k in ("created", "updated", "skipped", "failed"))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=hostile_rows, params=st.dictionaries(
    st.sampled_from(["status", "stageId", "search", "created_since", "updated_since", "sort_by",
                     "sort_dir", "lead_line", "include_custom_fields", "cursor", "limit",
                     "offset"]), st.text(max_size=15), max_size=4))
def test_fuzzed_create_and_list_get_schema_valid_answers(make_sandbox_once, body,
                                                         params) -> None:
    api = make_sandbox_once
    assert api.call("POST", LEADS, json=body).status_code in (201, 400)
    assert api.call("GET", LEADS, params=params).status_code in (200, 400)


webhook_fields = st.sampled_from(["url", "event_types", "timeout_seconds", "retry_attempts",
                                  "description", "is_active", "rotate_secret"])
webhook_values = json_values | st.sampled_from(
    ["https://hooks.example.com/x", ["lead.created"], 10, True])
webhook_bodies = st.one_of(json_values,
                           st.dictionaries(webhook_fields, webhook_values, max_size=5))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(create=webhook_bodies, patch=webhook_bodies,
       stage=st.one_of(json_values, st.dictionaries(st.sampled_from(["stage_slug", "reason"]),
                                                    json_values | st.sampled_from(["won", "new"]),
                                                    max_size=2)),
       lead_id=st.one_of(st.text(alphabet="abcdef0123456789-", max_size=40), st.uuids().map(str)))
def test_fuzzed_webhook_and_stage_bodies(make_sandbox_once, create, patch, stage,
                                         lead_id) -> None:
    api = make_sandbox_once
    hooks = "/api/agents/crm/lead-webhooks"
    made = api.call("POST", hooks, json=create)
    assert made.status_code in (201, 400, 409)
    hook_id = made.json()["webhook"]["id"] if made.status_code == 201 else "wh_missing"
    assert api.call("PATCH", hooks + "/{id}", path=f"{hooks}/{hook_id}",
                    json=patch).status_code in (200, 400, 404, 409)
    if made.status_code == 201:
        assert api.call("DELETE", hooks + "/{id}", path=f"{hooks}/{hook_id}").status_code == 200
    path = f"{LEADS}/{lead_id or 'x'}/stage"
    assert api.call("POST", LEADS + "/{id}/stage", path=path,
                    json=stage).status_code in (200, 400, 404)
