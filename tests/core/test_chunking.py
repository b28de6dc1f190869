"""Chunks and their idempotency keys: the exactly-once guarantee rests on these."""

from __future__ import annotations

import json

import pytest

from leadbridge.chunking import bulk_row, canonical_json, idempotency_key, make_chunks

CUSTOMER = "0b3c8a4e-1111-4222-8333-944455556666"


def _rows(n: int) -> list[dict[str, object]]:
    return [{"row_ref": f"r{i:05d}", "contact_email": f"p{i}@example.com",
             "custom_fields": {"budget": i}, "owner_id": None} for i in range(n)]


def test_chunks_hold_at_most_500_rows_and_every_row_once() -> None:
    chunks = make_chunks(_rows(1201), customer_id=CUSTOMER)
    assert [len(c.payload["leads"]) for c in chunks] == [500, 500, 201]
    refs = [ref for c in chunks for ref in c.row_refs]
    assert refs == [f"r{i:05d}" for i in range(1201)]


def test_same_rows_give_byte_identical_chunks_and_keys() -> None:
    first = make_chunks(_rows(700), customer_id=CUSTOMER)
    second = make_chunks(_rows(700), customer_id=CUSTOMER)
    assert [(c.body, c.idempotency_key) for c in first] == [(c.body, c.idempotency_key) for c in second]


def test_key_changes_with_body_customer_and_endpoint() -> None:
    body = canonical_json({"leads": [{"contact_email": "a@b.co"}], "on_duplicate": "update"})
    key = idempotency_key(CUSTOMER, "/api/agents/crm/leads/bulk", body)
    assert key != idempotency_key(CUSTOMER, "/api/agents/crm/leads", body)
    assert key != idempotency_key("another", "/api/agents/crm/leads/bulk", body)
    assert key != idempotency_key(CUSTOMER, "/api/agents/crm/leads/bulk", body + b" ")
    changed = make_chunks([{"row_ref": "r1", "contact_email": "a@b.co", "contact_name": "A"}],
                          customer_id=CUSTOMER)[0]
    same = make_chunks([{"row_ref": "r1", "contact_email": "a@b.co", "contact_name": "B"}],
                       customer_id=CUSTOMER)[0]
    assert changed.idempotency_key != same.idempotency_key


def test_body_is_canonical_and_drops_empty_fields() -> None:
    chunk = make_chunks([{"row_ref": "r1", "contact_email": "a@b.co", "owner_id": None,
                          "custom_fields": {}, "contact_name": "", "unknown": "x"}],
                        customer_id=CUSTOMER, on_duplicate="skip", dry_run=True)[0]
    assert chunk.body == b'{"dry_run":true,"leads":[{"contact_email":"a@b.co","row_ref":"r1"}],"on_duplicate":"skip"}'
    assert json.loads(chunk.body) == chunk.payload
    assert bulk_row({"lead_line": "buyer", "stage_slug": None}) == {"lead_line": "buyer"}


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        make_chunks(_rows(1), customer_id=CUSTOMER, on_duplicate="merge")
    with pytest.raises(ValueError):
        make_chunks(_rows(1), customer_id=CUSTOMER, size=501)
    assert make_chunks([], customer_id=CUSTOMER) == []
