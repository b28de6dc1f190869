"""MEGA's documented requests give the documented answers, and every answer fits the schema."""

from __future__ import annotations

import uuid

from leadbridge.mega_model import BULK_MAX_ROWS

from sandbox_support import Api

LEADS = "/api/agents/crm/leads"


def test_bulk_example_r1_created_r2_merged_by_phone(api: Api) -> None:
    existing = api.create({"contact_name": "Jane Doe", "contact_phone": "(206) 555-0123"})
    assert existing.status_code == 201
    lead_id = existing.json()["lead"]["id"]
    answer = api.bulk([
        {"row_ref": "r1", "contact_email": "buyer@example.com", "lead_line": "buyer"},
        {"row_ref": "r2", "contact_phone": "+12065550123",
         "custom_fields": {"budget": "500000", "made_up": "x"}},
    ])
    assert answer.status_code == 200
    body = answer.json()
    assert body["dry_run"] is False
    assert body["summary"] == {"total": 2, "created": 1, "updated": 1, "skipped": 0, "failed": 0}
    r1, r2 = body["results"]
    assert (r1["row_ref"], r1["status"], r1["matched_by"], r1["errors"]) == ("r1", "created",
                                                                             None, None)
    assert "ignored_custom_fields" not in r1 and r1["lead_id"]
    assert (r2["row_ref"], r2["status"], r2["matched_by"]) == ("r2", "updated", "phone")
    assert r2["lead_id"] == lead_id and r2["ignored_custom_fields"] == ["made_up"]
    assert body["unknown_custom_fields"] == ["made_up"]
    pulled = {lead["id"]: lead for lead in api.all_pages(include_custom_fields="true")}
    assert pulled[lead_id]["custom_fields"] == {"budget": "500000"}
    assert pulled[r1["lead_id"]]["custom_fields"] == {"lead_line": "buyer"}
    assert pulled[lead_id]["contact_name"] == "Jane Doe"  # empty incoming fields leave it


def test_single_create_shape_and_merge_returns_same_lead(api: Api) -> None:
    first = api.create({"contact_name": "Ann", "contact_phone": "(206) 555-0123",
                        "contact_email": "ann@example.com", "source_platform": "google_ads",
                        "source_type": "form", "stage_slug": "new"})
    assert first.status_code == 201
    lead = first.json()["lead"]
    assert lead["status"] == "active" and lead["current_stage"]["slug"] == "new"
    assert lead["customer_id"] == api.grant.customer_id
    again = api.create({"contact_email": " ANN@example.com ", "stage_slug": "won",
                        "contact_name": "Ann B"})
    assert again.status_code == 201
    merged = again.json()["lead"]
    assert merged["id"] == lead["id"]
    assert merged["current_stage"]["slug"] == "new"  # 1.1.0: a merge keeps the stage
    assert merged["contact_name"] == "Ann B"
    assert len(api.sandbox.leads(api.grant.customer_id)) == 1


def test_single_create_needs_a_contact_field(api: Api) -> None:
    answer = api.create({"source_platform": "direct"})
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "type": "invalid_request_error", "code": 400,
        "message": "At least one of contact_name, contact_phone, or contact_email is required"}


def test_whole_request_rejections(api: Api) -> None:
    too_many = [{"contact_name": f"n{i}"} for i in range(BULK_MAX_ROWS + 1)]
    for body in ({"leads": []}, {"leads": too_many}, [], "x", {"rows": []},
                 {"leads": [{"contact_name": "a"}], "on_duplicate": "merge"},
                 {"leads": [{"contact_name": "a"}], "dry_run": "yes"}):
        answer = api.call("POST", f"{LEADS}/bulk", json=body)
        assert answer.status_code == 400, body
        assert answer.json()["error"]["type"] == "invalid_request_error"
    assert api.sandbox.leads(api.grant.customer_id) == []
    exactly_max = api.bulk([{"contact_name": f"n{i}"} for i in range(BULK_MAX_ROWS)])
    assert exactly_max.json()["summary"]["created"] == BULK_MAX_ROWS


def test_row_failures_keep_the_batch(api: Api) -> None:
    owner = api.sandbox.config.owners[0]
    rows = [
        {"row_ref": "ok", "contact_name": "fine", "stage_slug": "contacted", "owner_id": owner},
        {"row_ref": "stage", "contact_name": "x", "stage_slug": "nowhere"},
        {"row_ref": "owner", "contact_name": "x", "owner_id": str(uuid.uuid4())},
        {"row_ref": "email", "contact_email": "not-an-address"},
        {"row_ref": "none", "source_type": "form"},
        {"row_ref": "enum", "contact_name": "x", "source_platform": "myspace"},
        {"row_ref": "line", "contact_name": "x", "lead_line": "renter"},
        {"row_ref": "type", "contact_name": 42},
    ]
    body = api.bulk(rows).json()
    statuses = {r["row_ref"]: r["status"] for r in body["results"]}
    assert statuses == {"ok": "created", **{r["row_ref"]: "failed" for r in rows[1:]}}
    assert body["summary"] == {"total": 8, "created": 1, "updated": 0, "skipped": 0, "failed": 7}
    failed = {r["row_ref"]: r for r in body["results"] if r["status"] == "failed"}
    assert failed["stage"]["errors"] == ["Stage not found: nowhere"]
    assert all(r["errors"] and r["lead_id"] is None for r in failed.values())
    [stored] = api.sandbox.leads(api.grant.customer_id)
    assert stored["owner"]["id"] == owner and stored["current_stage"]["slug"] == "contacted"


def test_dry_run_writes_nothing_and_previews(api: Api) -> None:
    api.create({"contact_email": "old@example.com"})
    body = api.bulk([{"contact_email": "old@example.com"}, {"contact_email": "new@example.com"},
                     {"contact_phone": "555 000 1111"}, {"contact_phone": "5550001111"}],
                    dry_run=True).json()
    assert body["dry_run"] is True
    assert [r["status"] for r in body["results"]] == ["updated", "created", "created", "updated"]
    assert body["results"][0]["lead_id"] is not None
    assert [r["lead_id"] for r in body["results"][1:]] == [None, None, None]
    assert len(api.sandbox.leads(api.grant.customer_id)) == 1


def test_skip_reports_the_matched_lead_and_changes_nothing(api: Api) -> None:
    lead = api.create({"contact_email": "a@example.com", "contact_name": "A"}).json()["lead"]
    body = api.bulk([{"contact_email": "A@EXAMPLE.COM", "contact_name": "B"}],
                    on_duplicate="skip").json()
    [row] = body["results"]
    assert (row["status"], row["lead_id"], row["matched_by"]) == ("skipped", lead["id"], "email")
    assert api.sandbox.leads(api.grant.customer_id)[0]["contact_name"] == "A"


def test_stage_move_examples(api: Api) -> None:
    lead = api.create({"contact_name": "Mover", "stage_slug": "new"}).json()["lead"]
    path = f"{LEADS}/{lead['id']}/stage"
    template = f"{LEADS}/{{id}}/stage"
    moved = api.call("POST", template, path=path, json={"stage_slug": "won", "reason": "paid"})
    assert moved.status_code == 200 and moved.json() == {"success": True}
    again = api.call("POST", template, path=path, json={"stage_slug": "won"})
    assert again.json() == {"success": True, "already_in_stage": True}
    assert api.sandbox.leads(api.grant.customer_id)[0]["current_stage"]["slug"] == "won"
    unknown = api.call("POST", template, path=path, json={"stage_slug": "mars"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"].startswith("Stage not found: ")
    missing = api.call("POST", template, path=path, json={})
    assert missing.status_code == 400
    bad_id = api.call("POST", template, path=f"{LEADS}/not-a-uuid/stage",
                      json={"stage_slug": "won"})
    assert bad_id.status_code == 400
    nobody = api.call("POST", template, path=f"{LEADS}/{uuid.uuid4()}/stage",
                      json={"stage_slug": "won"})
    assert nobody.status_code == 404 and nobody.json()["error"]["type"] == "not_found_error"


def test_configured_pipeline_team_and_custom_fields(make_sandbox, api_for) -> None:
    owner = str(uuid.uuid4())
    sandbox = make_sandbox(stages=("lead", "closed"), owners=(owner,),
                           custom_fields=("budget",))
    api = api_for(sandbox, sandbox.config.tokens[0])
    body = api.bulk([
        {"contact_name": "a", "stage_slug": "lead", "owner_id": owner,
         "custom_fields": {"budget": 1, "timeline": "soon", "lead_line": "seller"}},
        {"contact_name": "b", "stage_slug": "new"},
    ]).json()
    assert [r["status"] for r in body["results"]] == ["created", "failed"]
    assert body["results"][0]["ignored_custom_fields"] == ["timeline"]
    [lead] = api.sandbox.leads(api.grant.customer_id)
    assert lead["custom_fields"] == {"budget": 1, "lead_line": "seller"}
