"""A sync against a MEGA that answers 2xx with results it should never send: every record still
ends in exactly one documented outcome, never a traceback; a snapshot pull takes leads whose
fields are of the wrong JSON type without raising. Real HTTP on 127.0.0.1 (tests/fakes/canned)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from leadbridge.httpserver import Response
from leadbridge.mega import MegaClient
from leadbridge.pipeline import pull, sync

from .conftest import FAST, ListConnector

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fakes.canned import Canned  # noqa: E402

CUSTOMER = "0b7e6a52-6f1e-4a5e-9d43-3f1f1c2d9a10"
TOKEN = "mega_" + "cd34" * 16
LIST = ("GET", "/api/agents/crm/leads")
BULK = ("POST", "/api/agents/crm/leads/bulk")
FINAL = {"created", "updated", "skipped", "failed"}
RECORDS = [{"source_id": f"s{i}", "contact_name": f"Person {i}",
            "contact_email": f"person{i}@example.com"} for i in range(4)]


def _client(fake: Canned) -> MegaClient:
    return MegaClient(fake.base_url, TOKEN, CUSTOMER, time_scale=FAST, env={}, max_attempts=2)


def _bulk(make: Callable[[list[dict[str, Any]]], list[Any]]) -> Callable[..., Response]:
    """A bulk answer whose results ``make`` builds from the rows sent."""
    def answer(request, _n):
        rows = json.loads(request.body)["leads"]
        return Response(200, {"dry_run": False, "results": make(rows),
                              "unknown_custom_fields": "made_up", "summary": {}})
    return answer


def _ok(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {"row_ref": row["row_ref"], "status": "created", "lead_id": "L-" + row["row_ref"],
            "matched_by": None, "errors": None, **changes}


@pytest.mark.parametrize("make,expected", [
    (lambda rows: [None] * len(rows), "failed"),
    (lambda rows: ["created"] * len(rows), "failed"),
    (lambda rows: [_ok(r, row_ref={"ref": r["row_ref"]}) for r in rows], "failed"),
    (lambda rows: [_ok(r, status="merged") for r in rows], "failed"),
    (lambda rows: [_ok(r, status=None) for r in rows], "failed"),
    (lambda rows: [_ok(r, status=1) for r in rows], "failed"),
    (lambda rows: [_ok(r, lead_id=12) for r in rows], "created"),
    (lambda rows: [_ok(r, lead_id={"id": 1}) for r in rows], "created"),
    (lambda rows: [_ok(r, status="updated", matched_by=3) for r in rows], "updated"),
    (lambda rows: [_ok(r, status="failed", lead_id=None, errors={"why": 1}) for r in rows],
     "failed"),
], ids=["null", "strings", "dict-row_ref", "unknown-status", "no-status", "int-status",
        "int-lead_id", "dict-lead_id", "int-matched_by", "dict-errors"])
def test_every_row_of_a_malformed_bulk_answer_ends_in_one_documented_outcome(
        tmp_path: Path, make, expected: str) -> None:
    """Before: null or string results and a dict row_ref raised AttributeError/TypeError, a
    non-string lead_id or status raised ArrowTypeError, an unknown status counted in no
    outcome (exit 0 with nothing created), and a missing one left rows pending in a chunk
    marked done (exit 3 for ever)."""
    with Canned({BULK: _bulk(make), LIST: {"leads": [], "next_cursor": None}}) as fake:
        result = sync(ListConnector(RECORDS), workspace=tmp_path / "ws.duckdb",
                      client=_client(fake), pull_first="never")
    statuses = [o["status"] for o in result.outcomes]
    assert len(statuses) == len(RECORDS) and set(statuses) == {expected}
    counts = result.summary["record_status"]
    assert set(counts) <= FINAL | {"rejected", "pending"} and counts[expected] == len(RECORDS)
    for outcome in result.outcomes:
        lead_id, errors = outcome.get("lead_id"), outcome.get("errors")
        assert lead_id is None or isinstance(lead_id, str)
        if expected == "failed":
            assert errors and all(isinstance(e, str) for e in errors)


def test_a_bulk_answer_without_results_stops_the_run_to_resume(tmp_path: Path) -> None:
    """MEGA answered 200 but said nothing per row: the rows stay pending and the next sync
    resends the same bytes under the same key (MEGA replays), not fails rows it wrote."""
    answers = iter([Response(200, {"summary": {}})] * 2)

    def bulk(request, n):
        return next(answers, None) or _bulk(lambda rows: [_ok(r) for r in rows])(request, n)

    ws = tmp_path / "ws.duckdb"
    with Canned({BULK: bulk, LIST: {"leads": [], "next_cursor": None}}) as fake:
        stopped = sync(ListConnector(RECORDS), workspace=ws, client=_client(fake),
                       pull_first="never")
        assert stopped.exit_code == 3
        assert stopped.summary["record_status"]["pending"] == len(RECORDS)
        assert "results is not a list" in stopped.summary["stopped_reason"]
        resumed = sync(ListConnector(RECORDS), workspace=ws, client=_client(fake),
                       pull_first="never")
    assert resumed.run_id == stopped.run_id and resumed.exit_code == 0
    assert resumed.summary["record_status"]["created"] == len(RECORDS)
    keys = {s for s in fake.calls}  # one route, three requests (two refused shapes, then ok)
    assert keys == {BULK} and fake.calls[BULK] == 3


@pytest.mark.parametrize("field,value", [
    ("updated_at", 1767225600), ("updated_at", {"at": 1}), ("custom_fields", [1, 2]),
    ("custom_fields", "ab"), ("contact_email", 5), ("contact_phone", 2065550123),
    ("contact_name", {"first": "A"}), ("status", 3), ("created_at", 3),
    ("current_stage", {"slug": 3}), ("owner", {"id": ["x"]}),
])
def test_a_pulled_lead_with_a_mistyped_field_is_stored_without_it(field: str, value: Any) -> None:
    """Before: ``updated_at`` as a number raised TypeError comparing with text, a list as
    ``custom_fields`` ValueError, an int email AttributeError and an int status
    ArrowTypeError, so one odd lead stopped the whole snapshot pull with a traceback."""
    good = {"id": "a0", "contact_email": "a@example.com", "updated_at": "2026-01-02T00:00:00Z",
            "custom_fields": {"budget": 5}}
    page = {"leads": [good, {**good, "id": "a1", field: value}], "next_cursor": None}
    con = duckdb.connect()
    with Canned({LIST: page}) as fake, _client(fake) as client:
        first = pull.pull(con, client)
        again = pull.pull(con, client)  # incremental: reads max(updated_at) back
    assert first.fetched == 2 and first.leads == 2 and again.leads == 2
    stored = dict(con.execute("SELECT id, updated_at FROM mega_leads").fetchall())
    assert stored["a0"] == "2026-01-02T00:00:00Z"
    assert all(v is None or isinstance(v, str) for v in con.execute(
        "SELECT * FROM mega_leads WHERE id = 'a1'").fetchall()[0])


@pytest.mark.parametrize("route", [LIST, BULK])
def test_a_redirecting_base_url_is_a_config_error_not_a_stop_to_resume(tmp_path: Path,
                                                                        route) -> None:
    """Before: a 301 stopped the run (exit 3) telling the user to run the same sync again,
    which met the same redirect every time; now it names MEGA_BASE_URL and exits 2."""
    from leadbridge.errors import ConfigError

    moved = Response(301, b"", headers={"Location": "https://mega.example/api/agents/crm/leads"})
    answers = {LIST: {"leads": [], "next_cursor": None},
               BULK: _bulk(lambda rows: [_ok(r) for r in rows]), route: moved}
    with Canned(answers) as fake, pytest.raises(ConfigError) as info:
        sync(ListConnector(RECORDS), workspace=tmp_path / "ws.duckdb", client=_client(fake),
             pull_first="always" if route == LIST else "never")
    assert "MEGA_BASE_URL" in str(info.value) and info.value.exit_code == 2


class _Lister:
    """A client whose listing yields given leads (pull needs customer_id and list_leads)."""

    customer_id = "c-1"

    def __init__(self, leads: list[dict[str, Any]]) -> None:
        self.leads = leads

    def list_leads(self, **filters: Any) -> Any:
        yield from self.leads


def test_a_lead_that_comes_twice_in_one_pull_is_stored_once_as_its_last_version() -> None:
    """Paging by updated_at, a lead updated during the pull comes again later. Stored per
    page, two versions on one page were both kept (two snapshot rows, one id); across pages
    the later page won. Now the last version wins wherever they fall."""
    def lead(i: int, name: str = "Old", at: str = "2026-01-02T00:00:00Z") -> dict[str, Any]:
        return {"id": f"L{i}", "contact_name": name, "contact_email": f"p{i}@example.com",
                "updated_at": at}

    leads = [lead(i) for i in range(1500)]
    leads.insert(20, lead(5, "New", "2026-01-03T00:00:00Z"))      # same page as the first
    leads.append(lead(1200, "Newer", "2026-01-04T00:00:00Z"))     # a later page
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 1")  # not a fresh database: a pull must not care
    pages: list[int] = []
    result = pull.pull(con, _Lister(leads), on_page=pages.append)
    assert result.fetched == 1502 and result.leads == 1500
    rows = dict(con.execute("SELECT id, contact_name FROM mega_leads").fetchall())
    assert len(rows) == 1500
    assert rows["L5"] == "New" and rows["L1200"] == "Newer" and rows["L7"] == "Old"
    assert pages == [1000]
    # an incremental pull replaces what the snapshot holds, and keeps the rest
    again = pull.pull(con, _Lister([lead(7, "Changed", "2026-01-05T00:00:00Z")]))
    assert again.incremental and again.leads == 1500
    assert con.execute("SELECT contact_name FROM mega_leads WHERE id = 'L7'").fetchall() == [
        ("Changed",)]
