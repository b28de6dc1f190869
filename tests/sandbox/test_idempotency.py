"""Idempotency-Key per customer and endpoint: replay, 409 on another body, dry runs uncached."""

from __future__ import annotations

import uuid

from sandbox_support import grant

LEADS = "/api/agents/crm/leads"


def test_bulk_replay_returns_the_stored_answer(api) -> None:
    key = str(uuid.uuid4())
    rows = [{"row_ref": "a", "contact_email": "a@example.com"},
            {"row_ref": "b", "contact_phone": "206-555-0100"}]
    first = api.bulk(rows, idempotency_key=key)
    again = api.bulk(rows, idempotency_key=key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(api.sandbox.leads(api.grant.customer_id)) == 2
    # the same key with the body's keys reordered is the same request
    reordered = api.call("POST", LEADS + "/bulk", headers={"Idempotency-Key": key},
                         content=b'{"on_duplicate":"update","leads":' +
                         b'[{"contact_email":"a@example.com","row_ref":"a"},'
                         b'{"row_ref":"b","contact_phone":"206-555-0100"}]}')
    assert reordered.status_code == 409  # on_duplicate made explicit: a different body
    without_key = api.bulk(rows)
    assert [r["status"] for r in without_key.json()["results"]] == ["updated", "updated"]


def test_same_key_different_body_is_409_api_error(api) -> None:
    key = "k-" + uuid.uuid4().hex
    assert api.create({"contact_name": "one"}, key=key).status_code == 201
    conflict = api.create({"contact_name": "two"}, key=key)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["type"] == "api_error"
    assert [x["contact_name"] for x in api.sandbox.leads(api.grant.customer_id)] == ["one"]


def test_single_create_replay_does_not_create_twice(api) -> None:
    key = str(uuid.uuid4())
    first = api.create({"contact_name": "name only"}, key=key)
    again = api.create({"contact_name": "name only"}, key=key)
    assert again.json() == first.json()
    assert len(api.sandbox.leads(api.grant.customer_id)) == 1  # a name-only row always creates


def test_keys_are_scoped_per_endpoint_and_customer(make_sandbox, api_for) -> None:
    a, b = grant(), grant()
    sandbox = make_sandbox(tokens=(a, b))
    api_a, api_b = api_for(sandbox, a), api_for(sandbox, b)
    key = "shared-key"
    assert api_a.create({"contact_name": "x"}, key=key).status_code == 201
    assert api_a.bulk([{"contact_name": "y"}], idempotency_key=key).status_code == 200
    assert api_b.create({"contact_name": "z"}, key=key).status_code == 201
    assert len(sandbox.leads(a.customer_id)) == 2 and len(sandbox.leads(b.customer_id)) == 1


def test_dry_run_is_never_cached(api) -> None:
    key = str(uuid.uuid4())
    rows = [{"contact_email": "d@example.com"}]
    preview = api.bulk(rows, dry_run=True, idempotency_key=key)
    assert preview.json()["results"][0]["status"] == "created"
    other_preview = api.bulk([{"contact_name": "other"}], dry_run=True, idempotency_key=key)
    assert other_preview.status_code == 200  # not stored, so no conflict
    real = api.bulk(rows, idempotency_key=key)
    assert real.json()["dry_run"] is False and real.json()["results"][0]["lead_id"]
    assert len(api.sandbox.leads(api.grant.customer_id)) == 1
    assert api.bulk(rows, idempotency_key=key).json() == real.json()


def test_errors_are_not_stored(api) -> None:
    key = str(uuid.uuid4())
    assert api.create({"source_type": "form"}, key=key).status_code == 400
    assert api.create({"contact_name": "fixed"}, key=key).status_code == 201


def test_overlong_key_is_rejected(api) -> None:
    answer = api.create({"contact_name": "x"}, key="k" * 300)
    assert answer.status_code == 400
