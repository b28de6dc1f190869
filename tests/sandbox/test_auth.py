"""MEGA's 401/403 split (reference section 2) and per-customer isolation."""

from __future__ import annotations

import uuid

import httpx
from sandbox_support import Api, OpenAPI, grant

from leadbridge.mega_model import SCOPE_READ, SCOPE_WEBHOOKS, SCOPE_WRITE

LEADS = "/api/agents/crm/leads"


def _raw(sandbox, openapi: OpenAPI, method: str, template: str, hdrs: dict[str, str],
         **kwargs) -> httpx.Response:
    response = httpx.request(method, sandbox.base_url + template, headers=hdrs, **kwargs)
    openapi.validate(response, method, template)
    return response


def test_authentication_failures_are_401(sandbox, openapi: OpenAPI) -> None:
    g = sandbox.config.tokens[0]
    cases = [
        {},
        {"x-customer-id": g.customer_id},
        {"Authorization": g.token, "x-customer-id": g.customer_id},  # no Bearer
        {"Authorization": "Bearer mega_" + "0" * 64, "x-customer-id": g.customer_id},
        {"Authorization": f"Bearer {g.token}x", "x-customer-id": g.customer_id},
        {"Authorization": f"Bearer {g.token}"},  # x-customer-id missing
        {"Authorization": f"Bearer {g.token}", "x-customer-id": ""},
    ]
    for hdrs in cases:
        answer = _raw(sandbox, openapi, "GET", LEADS, hdrs)
        assert answer.status_code == 401, hdrs
        assert answer.json()["error"]["type"] == "authentication_error"
        assert g.token not in answer.text


def test_wrong_customer_and_missing_scope_are_403(make_sandbox, openapi: OpenAPI) -> None:
    reader = grant((SCOPE_READ,))
    writer = grant((SCOPE_WRITE,))
    sandbox = make_sandbox(tokens=(reader, writer))
    other = {"Authorization": f"Bearer {reader.token}", "x-customer-id": writer.customer_id}
    answer = _raw(sandbox, openapi, "GET", LEADS, other)
    assert answer.status_code == 403
    assert answer.json()["error"]["type"] == "authorization_error"
    read_hdrs = {"Authorization": f"Bearer {reader.token}", "x-customer-id": reader.customer_id}
    assert _raw(sandbox, openapi, "GET", LEADS, read_hdrs).status_code == 200
    for template, body in ((LEADS, {"contact_name": "x"}),
                           (LEADS + "/bulk", {"leads": [{"contact_name": "x"}]})):
        denied = _raw(sandbox, openapi, "POST", template, read_hdrs, json=body)
        assert denied.status_code == 403 and SCOPE_WRITE in denied.json()["error"]["message"]
    hooks = _raw(sandbox, openapi, "GET", "/api/agents/crm/lead-webhooks", read_hdrs)
    assert hooks.status_code == 403 and SCOPE_WEBHOOKS in hooks.json()["error"]["message"]
    write_hdrs = {"Authorization": f"Bearer {writer.token}", "x-customer-id": writer.customer_id}
    assert _raw(sandbox, openapi, "GET", LEADS, write_hdrs).status_code == 403
    assert _raw(sandbox, openapi, "POST", LEADS, write_hdrs,
                json={"contact_name": "x"}).status_code == 201


def test_customers_are_isolated(make_sandbox, api_for) -> None:
    a, b = grant(), grant()
    sandbox = make_sandbox(tokens=(a, b))
    api_a, api_b = api_for(sandbox, a), api_for(sandbox, b)
    lead = api_a.create({"contact_email": "same@example.com"}).json()["lead"]
    created = api_b.bulk([{"contact_email": "same@example.com"}]).json()["results"][0]
    assert created["status"] == "created" and created["lead_id"] != lead["id"]
    assert [x["id"] for x in api_a.all_pages()] == [lead["id"]]
    assert [x["id"] for x in api_b.all_pages()] == [created["lead_id"]]
    foreign = api_b.call("POST", LEADS + "/{id}/stage", path=f"{LEADS}/{lead['id']}/stage",
                         json={"stage_slug": "won"})
    assert foreign.status_code == 404


def test_two_keys_of_one_customer_share_its_data(make_sandbox, api_for) -> None:
    customer = str(uuid.uuid4())
    first, second = grant(customer=customer), grant(customer=customer)
    sandbox = make_sandbox(tokens=(first, second))
    api_for(sandbox, first).create({"contact_name": "shared"})
    assert len(api_for(sandbox, second).all_pages()) == 1


def test_api_checker_has_teeth(openapi: OpenAPI, api: Api) -> None:
    """The OpenAPI checker used everywhere rejects a body that breaks the schema."""
    import jsonschema
    import pytest

    bad = httpx.Response(400, json={"error": {"type": "oops", "code": 400, "message": "m"}})
    with pytest.raises(jsonschema.ValidationError):
        openapi.validate(bad, "GET", LEADS)
    wrong = httpx.Response(200, json={"leads": [{"id": "x"}], "total": 1, "limit": 20,
                                      "offset": 0, "next_cursor": None})
    with pytest.raises(jsonschema.ValidationError):
        openapi.validate(wrong, "GET", LEADS)
