"""Keyset cursors over (sort key, id): every lead exactly once, even with tied timestamps."""

from __future__ import annotations

import time

import pytest

LEADS = "/api/agents/crm/leads"


@pytest.fixture
def seeded(api):
    """250 leads from 3 bulk requests: each request's leads share one updated_at."""
    for part in range(3):
        rows = [{"contact_name": f"Lead {part}-{i}", "contact_phone": f"+1 (415) 55{part}-{i:04d}",
                 "contact_email": f"p{part}.{i}@example.com",
                 "lead_line": "buyer" if i % 2 else "seller",
                 "stage_slug": "qualified" if i % 5 == 0 else "new"}
                for i in range(84 if part < 2 else 82)]
        assert api.bulk(rows).status_code == 200
        time.sleep(0.002)
    return api


@pytest.mark.parametrize("sort_by", ["updated_at", "created_at", "last_interaction_at"])
@pytest.mark.parametrize("sort_dir", ["asc", "desc"])
def test_each_lead_exactly_once(seeded, sort_by: str, sort_dir: str) -> None:
    leads = seeded.all_pages(limit=17, sort_by=sort_by, sort_dir=sort_dir)
    ids = [lead["id"] for lead in leads]
    assert len(ids) == len(set(ids)) == 250
    stamps = [lead[sort_by] for lead in leads]
    if sort_by != "last_interaction_at":
        assert stamps == sorted(stamps, reverse=sort_dir == "desc")
        assert len(set(stamps)) <= 3  # the ties are real


def test_page_fields_total_and_offset(seeded) -> None:
    first = seeded.list(limit=100).json()
    assert (first["total"], first["limit"], first["offset"], len(first["leads"])) == (
        250, 100, 0, 100)
    assert first["next_cursor"].startswith("eyJ")
    by_offset = seeded.list(limit=100, offset=200).json()
    assert len(by_offset["leads"]) == 50 and by_offset["offset"] == 200
    assert by_offset["next_cursor"] is None
    everything = seeded.all_pages(limit=100)
    assert [x["id"] for x in by_offset["leads"]] == [x["id"] for x in everything[200:]]
    assert "custom_fields" not in first["leads"][0]


def test_cursor_under_another_sort_is_400(seeded) -> None:
    cursor = seeded.list(limit=5).json()["next_cursor"]
    for params in ({"sort_dir": "desc"}, {"sort_by": "created_at"}):
        answer = seeded.list(cursor=cursor, **params)
        assert answer.status_code == 400
    assert seeded.list(cursor="garbage!").status_code == 400
    assert seeded.list(cursor=cursor).status_code == 200


def test_filters(seeded) -> None:
    sellers = seeded.all_pages(lead_line="seller", include_custom_fields="true", limit=100)
    assert len(sellers) == 125 and all(x["custom_fields"]["lead_line"] == "seller"
                                       for x in sellers)
    page = seeded.list(lead_line="seller", limit=10).json()
    assert page["total"] == 125
    everyone = seeded.all_pages(limit=100)
    stage = next(x["current_stage"]["id"] for x in everyone
                 if x["current_stage"]["slug"] == "qualified")
    qualified = seeded.all_pages(limit=100, stageId=stage)
    assert len(qualified) == 51 and {x["current_stage"]["slug"] for x in qualified} == {"qualified"}
    for term in ("4155510007", "(415) 551-0007", "+14155510007", "P1.7@EXAMPLE", "lead 1-7"):
        found = seeded.list(search=term, limit=100).json()
        assert any(x["contact_email"] == "p1.7@example.com" for x in found["leads"]), term
    assert seeded.list(search="415-551-0007").json()["total"] == 1
    assert seeded.list(status="active").json()["total"] == 250
    assert seeded.list(status="archived").json()["total"] == 0
    newest = everyone[-1]["updated_at"]
    assert seeded.list(updated_since=newest).json()["total"] == 82
    assert seeded.list(created_since="2999-01-01T00:00:00Z").json()["total"] == 0


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 101}, {"limit": "x"}, {"offset": -1}, {"sort_by": "name"},
    {"sort_dir": "up"}, {"lead_line": "renter"}, {"stageId": "nope"},
    {"updated_since": "yesterday"}, {"include_custom_fields": "maybe"},
])
def test_bad_parameters_are_400(api, params) -> None:
    answer = api.list(**params)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_updates_move_leads_in_updated_at_order(api) -> None:
    first = api.create({"contact_email": "first@example.com"}).json()["lead"]
    time.sleep(0.002)
    second = api.create({"contact_email": "second@example.com"}).json()["lead"]
    time.sleep(0.002)
    api.bulk([{"contact_email": "first@example.com", "contact_name": "changed"}])
    assert [x["id"] for x in api.all_pages()] == [second["id"], first["id"]]
    # an identical merge changes nothing, so it does not bump updated_at
    api.bulk([{"contact_email": "first@example.com", "contact_name": "changed"}])
    assert [x["id"] for x in api.all_pages()] == [second["id"], first["id"]]
    before = api.all_pages()[-1]["updated_at"]
    api.bulk([{"contact_email": "second@example.com", "contact_name": "Second"}])
    assert api.all_pages()[0]["updated_at"] == before


def test_pages_copy_the_leads_once_per_change_not_once_per_page(make_sandbox_once,
                                                                monkeypatch) -> None:
    # copying every lead for each page made reading 3.3M leads take over 20 minutes
    api = make_sandbox_once
    rows = [{"contact_name": f"Lead {i}", "contact_email": f"p{i}@example.com"}
            for i in range(120)]
    assert api.bulk(rows).status_code == 200
    store = api.sandbox.store
    copies = []
    real = store.snapshot

    def counted(customer_id: str):  # type: ignore[no-untyped-def]
        copies.append(customer_id)
        return real(customer_id)

    monkeypatch.setattr(store, "snapshot", counted)
    for sort_by in ("updated_at", "created_at"):
        assert len(api.all_pages(limit=10, sort_by=sort_by)) == 120  # 12 pages each
    assert len(copies) == 2  # one per sort order
    assert api.bulk([{"contact_name": "New", "contact_email": "new@example.com"}]
                    ).status_code == 200
    after = api.all_pages(limit=10)
    assert len(after) == 121 and after[-1]["contact_email"] == "new@example.com"
    assert len(copies) == 3  # the change, and only it, made a new copy
