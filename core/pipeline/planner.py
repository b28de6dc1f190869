"""Predict MEGA's answer for every golden row, and decide which rows need sending at all.

Minimal: a row whose content (the exact fields sent, plus ``on_duplicate``) already reached
a final answer for this customer is not sent again. Predictable: every row sent gets a
predicted status before any request — ``failed`` when MEGA's validation will refuse it, else
``created`` or ``updated``/``skipped`` with ``matched_by`` from ``mega_model.find_match``
against the ``mega_leads`` snapshot. The engine guarantees no two golden rows share a key,
so each row's outcome is independent of every other row in flight.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from ..chunking import bulk_row, canonical_json
from ..mega_model import (
    LEAD_LINES,
    SOURCE_PLATFORMS,
    SOURCE_TYPES,
    email_key,
    find_match,
    is_valid_email,
    mega_phone_key,
    strip_surrounding,
)
from . import ledger, pull

CONTACT_FIELDS = ("contact_name", "contact_phone", "contact_email")
#: Golden rows turned into bodies per batch by ``iter_plans``.
PLAN_BATCH_ROWS = 10_000
#: Fields the single-lead endpoint accepts (owner_id and row_ref are bulk-only; lead_line
#: travels as the reserved custom field).
LIVE_FIELDS = ("contact_name", "contact_phone", "contact_email", "source_platform",
               "source_type", "stage_slug", "custom_fields")


@dataclass(frozen=True)
class Known:
    """What is known of the customer's MEGA setup; ``None`` means unknown (not checked)."""

    stages: frozenset[str] | None = None
    owners: frozenset[str] | None = None

    @classmethod
    def of(cls, stages: Collection[str] | None = None,
           owners: Collection[str] | None = None) -> Known:
        return cls(frozenset(stages) if stages else None, frozenset(owners) if owners else None)


@dataclass
class RowPlan:
    """One golden row: what is sent (``body``), whether, and what MEGA should answer."""

    ord: int
    row_ref: str
    body: dict[str, Any]
    send_hash: str
    action: str  # "send" | "unchanged"
    predicted_status: str
    predicted_lead_id: str | None = None
    predicted_matched_by: str | None = None
    predicted_errors: list[str] | None = None
    #: for unchanged rows: the answer carried over from the run that sent it
    status: str | None = None
    lead_id: str | None = None
    matched_by: str | None = None
    errors: list[str] | None = field(default=None)
    chunk_index: int | None = None


def send_hash(body: Mapping[str, Any], on_duplicate: str, content_hash: str | None = None,
              *, row_ref: str | None = None) -> str:
    """Hash of what MEGA would receive for this row (row_ref excluded: it is only a label).

    The engine's ``content_hash`` (sha256 of the canonical row JSON without ``row_ref``) is
    used when present; otherwise the same content is hashed here. ``row_ref`` is added for a
    row with neither email nor phone: MEGA matches such a row to nothing, so another row of
    the same content is another lead, not "already sent".
    """
    if not content_hash:
        content = {k: v for k, v in body.items() if k != "row_ref"}
        content_hash = hashlib.sha256(canonical_json(content)).hexdigest()
    text = f"{content_hash}|{on_duplicate}" + (f"|{row_ref}" if row_ref is not None else "")
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _keyless(body: Mapping[str, Any]) -> bool:
    """No email and no phone: MEGA cannot match the row to any lead."""
    return not body.get("contact_email") and not body.get("contact_phone")


def _answered_before_row_hashes(con: duckdb.DuckDBPyConnection, customer_id: str,
                                row_refs: list[str]) -> set[tuple[str, str]]:
    """(row_ref, send_hash) pairs these rows were answered under, for this customer, before
    keyless rows got their own hash (a workspace from then must not send them again)."""
    if not row_refs:
        return set()
    con.register("_lb_keyless", pa.table({"row_ref": pa.array(row_refs, pa.string())}))
    try:
        return set(con.execute(
            "SELECT DISTINCT r.row_ref, r.send_hash FROM sync_rows r "
            "JOIN sync_runs u USING (run_id) SEMI JOIN _lb_keyless k ON k.row_ref = r.row_ref "
            "WHERE r.status IS NOT NULL AND u.customer_id = ?", [customer_id]).fetchall())
    finally:
        con.unregister("_lb_keyless")


def row_problems(row: Mapping[str, Any], known: Known) -> list[str]:
    """Why MEGA's validation would fail this row (empty when it would not).

    Mirrors the validation in DESIGN.md "The MEGA model": no contact field, an invalid
    email, an enum value outside MEGA's lists, a stage or owner the customer does not have.
    """
    problems: list[str] = []

    def present(name: str) -> bool:
        value = row.get(name)
        return isinstance(value, str) and strip_surrounding(value) != ""

    if not any(present(name) for name in CONTACT_FIELDS):
        problems.append("At least one of contact_name, contact_phone, or contact_email is required")
    if present("contact_email") and not is_valid_email(row["contact_email"]):
        problems.append(f"contact_email is not a valid email address: {row['contact_email']!r}")
    if present("source_platform") and row["source_platform"] not in SOURCE_PLATFORMS:
        problems.append(f"source_platform {row['source_platform']!r} is not a MEGA platform")
    if present("source_type") and row["source_type"] not in SOURCE_TYPES:
        problems.append(f"source_type {row['source_type']!r} is not a MEGA source type")
    if present("stage_slug") and known.stages is not None and row["stage_slug"] not in known.stages:
        problems.append(f"Stage not found: {row['stage_slug']}")
    if present("owner_id") and known.owners is not None and row["owner_id"] not in known.owners:
        problems.append(f"owner_id {row['owner_id']} is not a member of this customer's team")
    line = row.get("lead_line") or (row.get("custom_fields") or {}).get("lead_line")
    if line is not None and line not in LEAD_LINES:
        problems.append(f"lead_line {line!r} is not one of {', '.join(LEAD_LINES)}")
    return problems


def predict(row: Mapping[str, Any], by_email: Mapping[str, str], by_phone: Mapping[str, str],
            on_duplicate: str, known: Known) -> tuple[str, str | None, str | None, list[str] | None]:
    """(status, lead_id, matched_by, errors) MEGA should answer for one row."""
    problems = row_problems(row, known)
    if problems:
        return "failed", None, None, problems
    lead_id, matched_by = find_match(row.get("contact_email"), row.get("contact_phone"),
                                     by_email, by_phone)
    if lead_id is None:
        return "created", None, None, None
    return ("skipped" if on_duplicate == "skip" else "updated"), lead_id, matched_by, None


class _Holders(Mapping[str, str]):
    """key -> id of the oldest lead holding it, over a mutable key -> ids index."""

    def __init__(self, index: dict[str, set[str]], order: dict[str, int]) -> None:
        self._index, self._order = index, order

    def __getitem__(self, key: str) -> str:
        ids = self._index.get(key)
        if not ids:
            raise KeyError(key)
        return min(ids, key=self._order.__getitem__)

    def __contains__(self, key: object) -> bool:
        return bool(self._index.get(key))  # type: ignore[call-overload]

    def __iter__(self) -> Iterator[str]:
        return (k for k, v in self._index.items() if v)

    def __len__(self) -> int:
        return sum(1 for v in self._index.values() if v)


class LeadIndex:
    """The snapshot's match keys, updated row by row as MEGA will update them.

    Rows are applied in the order they are sent, so a row that merges into an existing lead
    and changes its phone (or email) is seen by every later row — two golden rows that share
    no key can still meet in one existing lead.
    """

    def __init__(self, leads: Iterable[tuple[str, str | None, str | None]]) -> None:
        self.keys: dict[str, list[str | None]] = {}
        self.order: dict[str, int] = {}
        self._email: dict[str, set[str]] = {}
        self._phone: dict[str, set[str]] = {}
        for lead_id, ek, pk in leads:  # oldest first
            self._put(lead_id, ek, pk)
        self.by_email = _Holders(self._email, self.order)
        self.by_phone = _Holders(self._phone, self.order)

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, customer_id: str,
             rows: str = "golden") -> LeadIndex:
        """The snapshot's leads that hold a key of one of ``rows`` (a relation with
        ``email_key`` and ``phone_key``: the golden rows to plan), oldest first.

        Why not every lead: a row can only ever match a lead holding one of the rows' keys
        (a lead's keys change only to those of a row merged into it), and the whole snapshot
        as Python objects is about 1 KB a lead: millions of leads, gigabytes.
        """
        pull.ensure(con)
        return cls(con.execute(f"""
            SELECT id, email_key, phone_key FROM mega_leads WHERE customer_id = ? AND (
              email_key IN (SELECT email_key FROM {rows} WHERE email_key IS NOT NULL)
              OR phone_key IN (SELECT phone_key FROM {rows} WHERE phone_key IS NOT NULL))
            ORDER BY coalesce(created_at, ''), id""", [customer_id]).fetchall())

    def _put(self, lead_id: str, ek: str | None, pk: str | None) -> None:
        old = self.keys.get(lead_id)
        if old is not None:
            if old[0]:
                self._email.get(old[0], set()).discard(lead_id)
            if old[1]:
                self._phone.get(old[1], set()).discard(lead_id)
        self.order.setdefault(lead_id, len(self.order))
        self.keys[lead_id] = [ek, pk]
        if ek:
            self._email.setdefault(ek, set()).add(lead_id)
        if pk:
            self._phone.setdefault(pk, set()).add(lead_id)

    def apply(self, row: Mapping[str, Any], status: str, lead_id: str | None) -> None:
        """Record what MEGA does with the row: new keys on the lead it merged into.

        A lead the run creates is not indexed: no later row of the run can match it. Its
        keys were held by no lead when it was created (else the row would have merged), no
        other row of the run carries them (the engine's guarantee: no two golden rows share
        a key), and a lead's keys only ever change to those of a row merged into it. Indexed,
        a first run's new leads were most of a sync's memory (about 1 KB each).
        """
        if status == "updated" and lead_id is not None:
            ek, pk = email_key(row.get("contact_email")), mega_phone_key(row.get("contact_phone"))
            old = self.keys[lead_id]
            self._put(lead_id, ek or old[0], pk or old[1])


def live_body(row: Mapping[str, Any]) -> dict[str, Any]:
    """The single-create body for a bulk row: lead_line moves into custom_fields."""
    body = {k: row[k] for k in LIVE_FIELDS if k in row}
    if row.get("lead_line"):
        body["custom_fields"] = {**(body.get("custom_fields") or {}), "lead_line": row["lead_line"]}
    return body


def prior_answers(con: duckdb.DuckDBPyConnection, customer_id: str, *,
                  without: str | None = None,
                  ) -> dict[str, tuple[str, str | None, str | None, Any]]:
    """send_hash -> (status, lead_id, matched_by, errors) of rows already answered for good
    (but those of the rows in table ``without``)."""
    anti = f" AND send_hash NOT IN (SELECT send_hash FROM {without})" if without else ""
    rows = con.execute("SELECT send_hash, status, lead_id, matched_by, errors FROM sync_state "
                       f"WHERE customer_id = ?{anti}", [customer_id]).fetchall()
    return {h: (s, lid, mb, ledger.loads(e)) for h, s, lid, mb, e in rows}


#: The temp table ``carry_over`` fills: golden rows carried over without Python.
CARRIED = "_lb_carried"


def carry_over(con: duckdb.DuckDBPyConnection, customer_id: str, *, on_duplicate: str,
               retry_failed: bool = False) -> int:
    """Find in SQL the golden rows whose content already has a final answer for this
    customer (``_plan_one`` would carry them over unchanged) and put them, with their place
    in the order (``ord``), hash and answer, in temp table ``CARRIED``; return how many.

    Why: a re-run of a source that did not change carries over every row, and building each
    one's body, hash and plan in Python took 24 s of a 46 s plan at 1M records. The hash is
    ``send_hash``'s, keyless rows' row_ref included. Rows without an answer under it (a
    keyless row may have one under an older hash) stay with ``iter_plans``; so do failed
    rows under ``retry_failed``.
    """
    ledger.ensure(con)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {CARRIED} AS
        SELECT g.ord, g.row_ref, g.h AS send_hash,
               CASE WHEN s.status = 'failed' THEN 'failed' ELSE 'skipped' END AS shown,
               s.lead_id, s.matched_by, s.errors
        -- sort_key is dense 1..N over golden (the chunk writer numbers by it too)
        FROM (SELECT row_ref, sort_key - 1 AS ord,
                     left(sha256(content_hash || '|' || $dup || CASE
                       WHEN coalesce(contact_email, '') = '' AND coalesce(contact_phone, '') = ''
                       THEN '|' || row_ref ELSE '' END), 32) AS h
              FROM golden) g
        JOIN sync_state s ON s.send_hash = g.h AND s.customer_id = $customer
        WHERE NOT ($retry AND s.status = 'failed')""",
                {"dup": on_duplicate, "customer": customer_id, "retry": retry_failed})
    return int(con.execute(f"SELECT count(*) FROM {CARRIED}").fetchall()[0][0])


def iter_plans(
    con: duckdb.DuckDBPyConnection,
    golden: Iterable[Mapping[str, Any]],
    *,
    customer_id: str,
    on_duplicate: str = "update",
    known: Known = Known(),
    retry_failed: bool = False,
    batch_rows: int | None = None,
    carried: bool = False,
) -> Iterator[RowPlan]:
    """Every golden row, in the engine's order, with its action and prediction; read from
    ``golden`` in batches of ``batch_rows``.

    ``golden`` streams the workspace's ``golden`` table (its keys choose the snapshot's
    leads to load). ``carried``: ``carry_over`` has set rows aside (``golden`` leaves them
    out and its rows carry their ``ord``); their answers and leads are not loaded.

    A sync stores each batch before the next is planned, so its memory holds the snapshot's
    keys and the earlier answers, not every row. Between two ``next`` calls the connection
    is free: every query here is fetched whole before anything is yielded.
    """
    ledger.ensure(con)
    index: LeadIndex | None = None  # loaded for the first row to plan: a re-run may have none
    prior = prior_answers(con, customer_id, without=CARRIED if carried else None)
    ord_ = 0
    for batch in _batched(golden, batch_rows or PLAN_BATCH_ROWS):
        if index is None:
            index = LeadIndex.load(con, customer_id, f"(SELECT * FROM golden ANTI JOIN "
                                   f"{CARRIED} USING (row_ref))" if carried else "golden")
        bodies = [_body(golden_row) for golden_row in batch]
        # only a keyless row whose content-only hash has an answer can have been answered
        # under it: ask the ledger about those alone (asking about every keyless row scanned
        # sync_rows once per batch)
        legacy = _answered_before_row_hashes(con, customer_id, [
            b.get("row_ref", "") for b, content_hash, keyless, _ in bodies
            if keyless and send_hash(b, on_duplicate, content_hash) in prior])
        for body, content_hash, keyless, place in bodies:
            ord_ = ord_ if place is None else place
            yield _plan_one(ord_, body, content_hash, keyless, index, prior, legacy,
                            on_duplicate=on_duplicate, known=known, retry_failed=retry_failed)
            ord_ += 1


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _body(golden_row: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, bool, int | None]:
    """(bulk row, the engine's content hash, keyless, its ``ord`` if it carries one) of one
    golden row."""
    body = bulk_row(golden_row)
    if body.get("custom_fields") and isinstance(body["custom_fields"], str):
        body["custom_fields"] = json.loads(body["custom_fields"]) or None
        if not body["custom_fields"]:
            del body["custom_fields"]
    return body, golden_row.get("content_hash"), _keyless(body), golden_row.get("ord")


def _plan_one(ord_: int, body: dict[str, Any], content_hash: str | None, keyless: bool,
              index: LeadIndex, prior: Mapping[str, tuple[str, str | None, str | None, Any]],
              legacy: set[tuple[str, str]], *, on_duplicate: str, known: Known,
              retry_failed: bool) -> RowPlan:
    """One row's plan: carried over when its content was answered before, else predicted
    (and applied to ``index``, so later rows see the keys it gives a lead it merges into)."""
    h = send_hash(body, on_duplicate, content_hash,
                  row_ref=body.get("row_ref", "") if keyless else None)
    before = prior.get(h)
    if before is None and keyless:  # answered under the content-only hash?
        old = send_hash(body, on_duplicate, content_hash)
        if (body.get("row_ref", ""), old) in legacy:
            before = prior.get(old)
    if before is not None and not (retry_failed and before[0] == "failed"):
        status, lead_id, matched_by, errors = before
        shown = "skipped" if status != "failed" else "failed"
        return RowPlan(ord_, body.get("row_ref", ""), body, h, "unchanged", shown,
                       lead_id, matched_by, errors, shown, lead_id, matched_by, errors)
    status, lead_id, matched_by, errors = predict(body, index.by_email, index.by_phone,
                                                  on_duplicate, known)
    index.apply(body, status, lead_id if status == "updated" else None)
    return RowPlan(ord_, body.get("row_ref", ""), body, h, "send", status, lead_id,
                   matched_by, errors)
