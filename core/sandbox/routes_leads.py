"""The lead endpoints: list with keyset cursors, single create, bulk import, stage move.

Handlers receive the request and the authorised customer id; auth, rate limits and faults
are applied around them by the server (server.py).
"""

from __future__ import annotations

import base64
import bisect
import json
import math
import re
from collections.abc import Callable
from typing import Any

from ..httpserver import Request, Response
from ..mega_model import (
    BULK_ENDPOINT,
    BULK_MAX_ROWS,
    CREATE_ENDPOINT,
    DEFAULT_SOURCE_TYPE_CREATE,
    LEAD_LINES,
    ON_DUPLICATE,
)
from . import idempotency
from .config import SandboxConfig, is_uuid
from .envelope import ApiError
from .ingest import Transaction, apply_bulk, now_ms, validate_row
from .shapes import parse_instant, render_lead, stage_id
from .store import Lead, Store, StoredResponse

SORT_FIELDS = {"created_at": "created_ms", "updated_at": "updated_ms",
               "last_interaction_at": "last_interaction_ms"}
_DIGITS = re.compile(r"[^0-9]")
_PHONEISH = re.compile(r"^[0-9+().\-\s]+$")

SortKey = tuple[bool, int, str]


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _no_constants(text: str) -> Any:
    raise ValueError(f"{text} is not valid JSON")


def parse_json(request: Request) -> Any:
    """The body as strict JSON: no NaN/Infinity, no numbers that overflow, bounded nesting."""
    if not request.body:
        raise ApiError(400, "Request body is empty; send a JSON object")
    try:
        return json.loads(request.body.decode("utf-8"), parse_float=_finite,
                          parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "Request body is not valid JSON") from None


def _sort_key(lead: Lead, field: str) -> SortKey:
    value = lead.get(field)
    return (value is None, value or 0, lead["id"])


def encode_cursor(sort_by: str, sort_dir: str, key: SortKey) -> str:
    raw = json.dumps({"s": sort_by, "d": sort_dir, "k": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort_by: str, sort_dir: str) -> SortKey:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        s, d, (is_null, value, lead_id) = data["s"], data["d"], data["k"]
        key = (bool(is_null), int(value), str(lead_id))
    except Exception:
        raise ApiError(400, "cursor is not a valid cursor from next_cursor") from None
    if (s, d) != (sort_by, sort_dir):
        raise ApiError(400, f"cursor was issued for sort_by={s}&sort_dir={d}; replay it with "
                            "the same sort_by and sort_dir")
    return key


class LeadRoutes:
    def __init__(self, store: Store, config: SandboxConfig,
                 on_created: Callable[[str, Lead], None] | None = None) -> None:
        self.store, self.config = store, config
        self.on_created = on_created  # fired for a genuine insert by single create only
        self._sorted: dict[tuple[str, str], tuple[int, list[SortKey], list[Lead]]] = {}

    # --- GET /leads -----------------------------------------------------------------------

    def _ordered(self, customer_id: str, field: str) -> tuple[list[SortKey], list[Lead]]:
        """Leads sorted ascending by (field, id), cached until the customer's data changes.

        The version is checked before anything is copied: copying the leads for every page
        made reading 3.3M leads 100 at a time take over 20 minutes (each page O(all leads))."""
        cached = self._sorted.get((customer_id, field))
        if cached is not None and cached[0] == self.store.version(customer_id):
            return cached[1], cached[2]
        version, leads = self.store.snapshot(customer_id)
        pairs = sorted(((_sort_key(lead, field), lead) for lead in leads), key=lambda p: p[0])
        keys, ordered = [p[0] for p in pairs], [p[1] for p in pairs]
        self._sorted[(customer_id, field)] = (version, keys, ordered)
        return keys, ordered

    def _filters(self, request: Request) -> Callable[[Lead], bool] | None:
        tests: list[Callable[[Lead], bool]] = []
        status = request.arg("status")
        if status:
            tests.append(lambda lead: lead["status"] == status)
        stage = request.arg("stageId")
        if stage:
            if not is_uuid(stage):
                raise ApiError(400, f"stageId must be a UUID, got {stage!r}")
            tests.append(lambda lead: bool(lead.get("stage_slug"))
                         and stage_id(lead["stage_slug"]) == stage.lower())
        for param, field in (("created_since", "created_ms"), ("updated_since", "updated_ms")):
            value = request.arg(param)
            if value:
                try:
                    since = parse_instant(value)
                except ValueError:
                    raise ApiError(400, f"{param} must be an ISO-8601 date-time, "
                                        f"got {value!r}") from None
                tests.append(lambda lead, f=field, s=since: lead[f] >= s)
        line = request.arg("lead_line")
        if line:
            if line not in LEAD_LINES:
                raise ApiError(400, f"lead_line must be one of {', '.join(LEAD_LINES)}")
            tests.append(lambda lead: (lead.get("custom_fields") or {}).get("lead_line") == line)
        search = (request.arg("search") or "").strip()
        if search:
            tests.append(_search(search))
        if not tests:
            return None
        return lambda lead: all(test(lead) for test in tests)

    def list_leads(self, request: Request, customer_id: str) -> Response:
        sort_by = request.arg("sort_by") or "updated_at"
        sort_dir = request.arg("sort_dir") or "asc"
        if sort_by not in SORT_FIELDS:
            raise ApiError(400, f"sort_by must be one of {', '.join(SORT_FIELDS)}")
        if sort_dir not in ("asc", "desc"):
            raise ApiError(400, "sort_dir must be asc or desc")
        limit = _int_arg(request, "limit", 20, 1, 100)
        offset = _int_arg(request, "offset", 0, 0, None)
        include = _bool_arg(request, "include_custom_fields")
        predicate = self._filters(request)
        cursor = request.arg("cursor")
        after = decode_cursor(cursor, sort_by, sort_dir) if cursor else None
        if after is not None:
            offset = 0
        with self.store.lock:
            keys, ordered = self._ordered(customer_id, SORT_FIELDS[sort_by])
            total = len(ordered) if predicate is None else sum(1 for x in ordered if predicate(x))
            if sort_dir == "asc":
                start = 0 if after is None else bisect.bisect_right(keys, after)
                indexes = range(start, len(ordered))
            else:
                start = len(ordered) if after is None else bisect.bisect_left(keys, after)
                indexes = range(start - 1, -1, -1)
            page: list[Lead] = []
            skipped = 0
            more = False
            for i in indexes:
                lead = ordered[i]
                if predicate is not None and not predicate(lead):
                    continue
                if skipped < offset:
                    skipped += 1
                    continue
                if len(page) == limit:
                    more = True
                    break
                page.append(lead)
            body = {
                "leads": [render_lead(lead, self.config, include) for lead in page],
                "total": total,
                "limit": limit,
                "offset": offset,
                "next_cursor": (encode_cursor(sort_by, sort_dir,
                                              _sort_key(page[-1], SORT_FIELDS[sort_by]))
                                if more and page else None),
            }
        return Response(200, body)

    # --- POST /leads ------------------------------------------------------------------------

    def _idempotent(self, request: Request, customer_id: str, endpoint: str, body: Any,
                    run: Callable[[], tuple[int, Any, list[Lead]]],
                    cache: bool = True) -> Response:
        """Run a write under the store lock, replaying or storing its answer by key."""
        key = idempotency.read_key(request.headers) if cache else None
        print_ = idempotency.fingerprint(body)
        with self.store.lock:
            if key is not None:
                stored = idempotency.lookup(self.store, customer_id, endpoint, key, print_)
                if stored is not None:
                    return Response(stored.status, stored.body, {"Idempotent-Replayed": "true"})
            status, answer, changes = run()
            record = None
            if key is not None and status < 300:
                record = (endpoint, key, StoredResponse(print_, status, answer))
            if changes or record is not None:
                self.store.commit(customer_id, changes, record)
        return Response(status, answer)

    def create_lead(self, request: Request, customer_id: str) -> Response:
        body = parse_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object (LeadCreateRequest)")
        row = validate_row(body, self.config, bulk=False)
        if row.errors:
            raise ApiError(400, "; ".join(row.errors))

        inserted: list[Lead] = []

        def run() -> tuple[int, Any, list[Lead]]:
            txn = Transaction(self.store, self.config, customer_id,
                              source_type=DEFAULT_SOURCE_TYPE_CREATE)
            outcome = txn.apply(row, "update")
            assert outcome.lead is not None
            if outcome.status == "created":
                inserted.append(outcome.lead)
            return 201, {"lead": render_lead(outcome.lead, self.config, True)}, txn.changes()

        response = self._idempotent(request, customer_id, CREATE_ENDPOINT, body, run)
        if inserted and self.on_created is not None:
            self.on_created(customer_id, inserted[0])
        return response

    # --- POST /leads/bulk -------------------------------------------------------------------

    def bulk_import(self, request: Request, customer_id: str) -> Response:
        body = parse_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object (BulkImportRequest)")
        rows = body.get("leads")
        if not isinstance(rows, list):
            raise ApiError(400, "leads is required and must be an array of lead rows")
        if not 1 <= len(rows) <= BULK_MAX_ROWS:
            raise ApiError(400, f"leads must contain 1 to {BULK_MAX_ROWS} rows, got {len(rows)}")
        on_duplicate = body.get("on_duplicate", "update")
        if on_duplicate not in ON_DUPLICATE:
            raise ApiError(400, f"on_duplicate must be one of {', '.join(ON_DUPLICATE)}")
        dry_run = body.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise ApiError(400, "dry_run must be a boolean")

        def run() -> tuple[int, Any, list[Lead]]:
            answer, changes = apply_bulk(self.store, self.config, customer_id, rows,
                                         on_duplicate, dry_run)
            return 200, answer, changes

        return self._idempotent(request, customer_id, BULK_ENDPOINT, body, run,
                                cache=not dry_run)

    # --- POST /leads/{id}/stage (1.1.0) ----------------------------------------------------

    def move_stage(self, request: Request, customer_id: str) -> Response:
        lead_id = request.params["id"]
        if not is_uuid(lead_id):
            raise ApiError(400, f"Invalid lead id {lead_id!r}: expected a UUID")
        body = parse_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "Request body must be a JSON object (LeadStageMoveRequest)")
        slug = body.get("stage_slug")
        if not isinstance(slug, str) or not slug:
            raise ApiError(400, "stage_slug is required")
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise ApiError(400, "reason must be a string")
        if slug not in self.config.stages:
            raise ApiError(400, f"Stage not found: {slug}")
        with self.store.lock:
            lead = self.store.get(customer_id, lead_id)
            if lead is None:
                raise ApiError(404, f"Lead {lead_id} not found")
            if lead.get("stage_slug") == slug:
                return Response(200, {"success": True, "already_in_stage": True})
            moved = dict(lead, stage_slug=slug, updated_ms=max(now_ms(), lead["updated_ms"]))
            moved["stage_history"] = [*lead.get("stage_history", []),
                                      {"from": lead.get("stage_slug"), "to": slug,
                                       "reason": reason, "at": moved["updated_ms"]}]
            self.store.commit(customer_id, [moved])
        return Response(200, {"success": True})


def _int_arg(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise ApiError(400, f"{name} must be {bound}, got {value}")
    return value


def _bool_arg(request: Request, name: str) -> bool:
    raw = (request.arg(name) or "false").lower()
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise ApiError(400, f"{name} must be true or false, got {raw!r}")


def _search(term: str) -> Callable[[Lead], bool]:
    """Case-insensitive substring over name/email/phone; digits-only match for phone-ish terms."""
    lowered = term.lower()
    digits = _DIGITS.sub("", term) if _PHONEISH.match(term) else ""

    def test(lead: Lead) -> bool:
        for name in ("contact_name", "contact_email", "contact_phone"):
            value = lead.get(name)
            if value and lowered in value.lower():
                return True
        phone = lead.get("contact_phone")
        return bool(digits and phone and digits in _DIGITS.sub("", phone))

    return test
