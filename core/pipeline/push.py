"""Send a run's stored chunks to MEGA, writing the ledger before and after each request.

Before a request its chunk is marked ``sending`` (committed); after it, MEGA's per-row
answers, the chunk's state, the minimal-sync state and the chunk's place in the queue of
answers to fold into the ``mega_leads`` snapshot are written in one transaction (the
snapshot is folded in batches, ``pull.fold_queued``). A chunk not ``done`` when a run is
resumed is sent again with the same bytes (``chunk_body``) and ``Idempotency-Key``, so MEGA
replays its answer instead of writing twice.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from ..chunking import Chunk, canonical_json, idempotency_key
from ..errors import ConfigError, MegaError, WorkspaceError
from ..mega_model import BULK_ENDPOINT, id_text
from . import ledger, pull
from .plan_store import request_bytes
from .testhook import pause

#: Raised out of push to stop a run that cannot finish now but can be resumed (exit 3).


class RunStopped(MegaError):
    """The run stopped before finishing; the ledger lets the next sync resume it."""

    exit_code = 3


@dataclass
class PushStats:
    requests: int = 0
    chunks_done: int = 0


def pending_chunks(con: duckdb.DuckDBPyConnection, run_id: str) -> list[tuple[Any, ...]]:
    """(chunk_index, endpoint, idempotency_key, n_rows) of every chunk not done, in order.

    Without the bodies: each is made as its chunk is sent (``chunk_body``). Fetched with
    them, the 6,620 bodies of a 5M-record first sync ran DuckDB out of its 2 GB cap."""
    return con.execute(
        "SELECT chunk_index, endpoint, idempotency_key, n_rows FROM sync_chunks "
        "WHERE run_id = ? AND state <> 'done' ORDER BY chunk_index", [run_id]).fetchall()


def chunk_body(con: duckdb.DuckDBPyConnection, run_id: str, index: int, endpoint: str,
               key: str, *, customer_id: str, on_duplicate: str,
               dry_run: bool) -> tuple[bytes, tuple[str, ...]]:
    """(the exact bytes of one chunk, the row_refs of its rows in order), the same on every
    resume: made again from the run's stored rows (their bodies, in order) and checked
    against the key stored with the plan.

    Why not stored: a run's plan is stored in one transaction, and its chunk bodies (1.6 GB
    at 5M records, ten times that with wide rows) were held whole in memory until it
    committed. Runs planned when bodies were stored too are made again the same way (their
    rows hold the same bodies); reading a stored body back cost a scan of 2,048 of them."""
    rows = con.execute("SELECT row_ref, body FROM sync_rows WHERE run_id = ? AND "
                       "chunk_index = ? AND action = 'send' ORDER BY ord",
                       [run_id, index]).fetchall()
    refs = [ref for ref, _ in rows]
    body, again = request_bytes(endpoint, [json.loads(b) for _, b in rows], refs,
                                customer_id=customer_id, on_duplicate=on_duplicate,
                                dry_run=dry_run, index=index)
    if again != key:  # never send other bytes under a key MEGA may have answered
        raise WorkspaceError(
            f"run {run_id}: chunk {index} cannot be made again byte for byte from its stored "
            "rows (its idempotency key differs), so it is not sent. Was the workspace edited, "
            "or leadbridge changed, while the run was unfinished? Its other chunks are as "
            "they were; finish it with the leadbridge version that planned it")
    return body, tuple(refs)


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def is_config_problem(exc: BaseException) -> bool:
    """MEGA refused the credentials (401/403) or the base URL redirects (3xx, never followed):
    the same answer comes back on every resume until the configuration changes, so it is a
    ConfigError (exit 2), not a stop to resume (exit 3, "run the same sync again")."""
    status = _status_of(exc)
    return status is not None and (status in (401, 403) or 300 <= status < 400)


def push(
    con: duckdb.DuckDBPyConnection,
    client: Any,
    run_id: str,
    *,
    customer_id: str,
    dry_run: bool,
    on_chunk: Callable[[int, int], None] | None = None,
) -> PushStats:
    """Send every chunk of ``run_id`` that is not done yet, in order."""
    stats = PushStats()
    try:
        _push_chunks(con, client, run_id, customer_id, dry_run, on_chunk, stats)
    except BaseException:
        # best effort: the queue is durable, and the next sync, plan or pull folds what
        # is left; an error here must not hide the one that stopped the run
        with contextlib.suppress(Exception):
            pull.fold_queued(con)
        raise
    pull.fold_queued(con)
    return stats


def _push_chunks(con: duckdb.DuckDBPyConnection, client: Any, run_id: str, customer_id: str,
                 dry_run: bool, on_chunk: Callable[[int, int], None] | None,
                 stats: PushStats) -> None:
    queued = 0
    answered_before = _chunks_answered_before(con, run_id, customer_id)
    (on_duplicate,), = con.execute("SELECT on_duplicate FROM sync_runs WHERE run_id = ?",
                                   [run_id]).fetchall()
    for index, endpoint, key, n_rows in pending_chunks(con, run_id):
        body, refs = chunk_body(con, run_id, index, endpoint, key, customer_id=customer_id,
                                on_duplicate=on_duplicate, dry_run=dry_run)
        with ledger.transaction(con):
            con.execute("UPDATE sync_chunks SET state = 'sending', attempts = attempts + 1, "
                        "sent_at = now() WHERE run_id = ? AND chunk_index = ?", [run_id, index])
        pause("after_ledger")
        stats.requests += 1
        try:
            if endpoint == BULK_ENDPOINT:
                results, unknown = _send_bulk(client, customer_id, index, body, key, refs)
                status = 200
            else:
                if queued:  # _live_result reads the snapshot: fold what is answered first
                    pull.fold_queued(con)
                    queued = 0
                lead = client.create_lead(json.loads(body), idempotency_key=key)
                results, unknown, status = _live_result(con, customer_id, refs[0], lead), [], 201
        except MegaError as exc:
            code = _status_of(exc)
            if is_config_problem(exc):
                raise ConfigError(str(exc)) from None
            if code in (400, 413) or (code == 404 and endpoint != BULK_ENDPOINT):
                # MEGA refused the whole request: every row in it failed with MEGA's reason.
                # A 413 too: the same bytes are refused on every re-run, so stopping the run
                # "to resume" would leave its records pending for ever.
                results = _refused(exc, body, refs)
                unknown, status = [], code
            else:
                raise RunStopped(f"run {run_id} stopped at chunk {index}: {exc}. Nothing is "
                                 "lost: run the same sync again to resume it") from None
        pause("before_record")  # MEGA answered; the answer is not stored yet
        _record(con, run_id, index, customer_id, results, unknown, status, dry_run,
                replaces_state=index in answered_before)
        stats.chunks_done += 1
        if not dry_run:
            queued += n_rows
            if queued >= pull.FOLD_BATCH_ROWS:
                pull.fold_queued(con)
                queued = 0
        if on_chunk:
            on_chunk(index, n_rows)


def _refused(exc: MegaError, body: bytes, refs: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every row of a request MEGA refused as a whole, failed with MEGA's reason."""
    message = getattr(exc, "message", None) or str(exc)
    if _status_of(exc) == 413:
        message += (f" ({len(body)} bytes for {len(refs)} row(s): shorten or drop the large "
                    "custom fields, e.g. with [mapping.fields], and sync again)")
    return [_failed(r, message) for r in refs]


def _send_bulk(client: Any, customer_id: str, index: int, body: bytes, key: str,
               refs: tuple[str, ...]) -> tuple[list[dict[str, Any]], list[str]]:
    """MEGA's results for one bulk chunk (and the unknown custom fields it named).

    A chunk MEGA refuses as too large (413) is halved, and each half sent as a request of
    its own, down to single rows; a single row still too large fails with the reason. Why:
    MEGA's body limit is not documented, and 500 rows with long notes can pass it while each
    row is fine. The halves are a pure function of the stored body, so a resumed run sends
    the same halves under the same keys and MEGA replays what it already did. A half MEGA
    refuses with 400 fails its own rows only (the other half may already be written).
    """
    try:
        answer = client.send_chunk(Chunk(index, body, key, refs))
        return _bulk_results(answer, refs), _names(answer.get("unknown_custom_fields"))
    except MegaError as exc:
        if _status_of(exc) != 413 or len(refs) < 2:
            raise
    payload = json.loads(body)
    leads, middle = payload["leads"], len(refs) // 2
    results: list[dict[str, Any]] = []
    unknown: list[str] = []
    for rows, part_refs in ((leads[:middle], refs[:middle]), (leads[middle:], refs[middle:])):
        part = canonical_json({**payload, "leads": rows})
        part_key = idempotency_key(customer_id, BULK_ENDPOINT, part)
        try:
            part_results, part_unknown = _send_bulk(client, customer_id, index, part,
                                                    part_key, part_refs)
        except MegaError as exc:
            if _status_of(exc) not in (400, 413):
                raise  # transport, 5xx, 429 spent: the run stops and resumes this chunk
            part_results, part_unknown = _refused(exc, part, part_refs), []
        results += part_results
        unknown += [name for name in part_unknown if name not in unknown]
    return results, unknown


#: The row statuses MEGA documents for a bulk result (reference section 5.2).
ROW_STATUSES = ("created", "updated", "skipped", "failed")


def _bulk_results(answer: dict[str, Any], refs: tuple[str, ...]) -> list[dict[str, Any]]:
    """MEGA's results matched to our rows by ``row_ref`` (by position as a fallback).

    Each row gets exactly one of the documented outcomes: a result that is not an object,
    whose ``row_ref`` is not a string, or whose ``status`` is not documented cannot be trusted
    and fails that row with the reason (a stray ``status`` would count in no outcome, a
    missing one left the row pending in a chunk marked done, and a non-string field made the
    ledger write raise).
    """
    results = [r if isinstance(r, dict) else None for r in answer.get("results") or []]
    by_ref = {r["row_ref"]: r for r in results if r and isinstance(r.get("row_ref"), str)}
    out = []
    for pos, ref in enumerate(refs):
        res = by_ref.get(ref)
        if res is None and pos < len(results):
            candidate = results[pos]
            if candidate is not None and candidate.get("row_ref") in (None, ref):
                res = candidate
        out.append(_row_result(res, ref))
    return out


def _row_result(res: dict[str, Any] | None, ref: str) -> dict[str, Any]:
    """One row's result with only documented values (strings or None) in its fields."""
    if res is None:
        return _failed(ref, "MEGA's answer had no result for this row")
    status = res.get("status")
    if status is None:
        return _failed(ref, "MEGA's result for this row has no status; it may or may not be "
                            "written")
    if status not in ROW_STATUSES:
        return _failed(ref, f"MEGA answered an undocumented status {str(status)[:40]!r} for "
                            "this row; it may or may not be written")
    matched_by = res.get("matched_by")
    return {"row_ref": ref, "status": status, "lead_id": id_text(res.get("lead_id")),
            "matched_by": matched_by if isinstance(matched_by, str) else None,
            "errors": _texts(res.get("errors")),
            "ignored_custom_fields": _texts(res.get("ignored_custom_fields"))}


def _failed(ref: str, reason: str) -> dict[str, Any]:
    return {"row_ref": ref, "status": "failed", "lead_id": None, "matched_by": None,
            "errors": [reason]}


def _texts(value: Any) -> list[str] | None:
    """A list of strings from MEGA's ``errors``-like field, whatever JSON it sent."""
    if value is None or value == []:
        return None
    items = value if isinstance(value, list) else [value]
    return [item if isinstance(item, str) else json.dumps(item)[:200] for item in items]


def _names(value: Any) -> list[str]:
    """``unknown_custom_fields`` as names only (a string would be split into characters)."""
    return [n for n in value if isinstance(n, str)] if isinstance(value, list) else []


def _live_result(con: duckdb.DuckDBPyConnection, customer_id: str, ref: str,
                 answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The single-create endpoint answers 201 with the lead for both insert and merge; a
    lead id already in the snapshot means MEGA merged (its predicted key is the match)."""
    lead = answer.get("lead", answer)
    lead_id = str(lead.get("id")) if lead.get("id") is not None else None
    known = con.execute("SELECT count(*) FROM mega_leads WHERE customer_id = ? AND id = ?",
                        [customer_id, lead_id]).fetchall()[0][0]  # type: ignore[index]
    if known:
        matched = con.execute("SELECT predicted_matched_by FROM sync_rows WHERE row_ref = ? "
                              "ORDER BY ord DESC LIMIT 1", [ref]).fetchall()
        return [{"row_ref": ref, "status": "updated", "lead_id": lead_id,
                 "matched_by": matched[0][0] if matched else None, "errors": None}]
    return [{"row_ref": ref, "status": "created", "lead_id": lead_id, "matched_by": None,
             "errors": None}]


_RESULT_SCHEMA = pa.schema([(n, pa.string()) for n in (
    "row_ref", "status", "lead_id", "matched_by", "errors", "ignored")])


def _chunks_answered_before(con: duckdb.DuckDBPyConnection, run_id: str,
                            customer_id: str) -> set[int]:
    """The run's chunks holding a row whose content already has an answer in ``sync_state``
    (``--retry-failed``, a row sent again after a failure).

    Why: replacing those answers needs a DELETE that scans the whole ``sync_state``; done for
    every chunk it cost ~80 ms a chunk at 1M records. A run's rows never share content, and
    only earlier runs' answers can be there, so one scan here finds every chunk that needs it.
    """
    return {index for (index,) in con.execute(
        "SELECT DISTINCT r.chunk_index FROM sync_rows r SEMI JOIN sync_state s "
        "ON s.customer_id = ? AND s.send_hash = r.send_hash "
        "WHERE r.run_id = ? AND r.chunk_index IS NOT NULL", [customer_id, run_id]).fetchall()}


def _record(con: duckdb.DuckDBPyConnection, run_id: str, index: int, customer_id: str,
            results: list[dict[str, Any]], unknown: list[str], http_status: int,
            dry_run: bool, *, replaces_state: bool = True) -> None:
    """Store one chunk's answers, all in one transaction (``replaces_state``: some of its
    rows' content was answered in an earlier run; that answer is replaced)."""
    table = pa.Table.from_pylist([{
        "row_ref": r["row_ref"], "status": r.get("status"), "lead_id": r.get("lead_id"),
        "matched_by": r.get("matched_by"), "errors": ledger.dumps(r.get("errors") or None),
        "ignored": ledger.dumps(r.get("ignored_custom_fields") or None),
    } for r in results], schema=_RESULT_SCHEMA)
    with ledger.transaction(con):
        con.register("lb_results", table)
        try:
            con.execute(
                "UPDATE sync_rows SET status = r.status, lead_id = r.lead_id, "
                "matched_by = r.matched_by, errors = r.errors, ignored_custom_fields = r.ignored "
                "FROM lb_results r WHERE sync_rows.run_id = ? AND sync_rows.chunk_index = ? "
                "AND sync_rows.row_ref = r.row_ref", [run_id, index])
        finally:
            con.unregister("lb_results")
        con.execute(
            "UPDATE sync_chunks SET state = 'done', done_at = now(), http_status = ?, "
            "unknown_custom_fields = ? WHERE run_id = ? AND chunk_index = ?",
            [http_status, ledger.dumps(unknown or None), run_id, index])
        if dry_run:
            return
        if replaces_state:
            con.execute(
                "DELETE FROM sync_state WHERE customer_id = ? AND send_hash IN (SELECT "
                "send_hash FROM sync_rows WHERE run_id = ? AND chunk_index = ?)",
                [customer_id, run_id, index])
        con.execute(
            "INSERT INTO sync_state SELECT ?, send_hash, status, lead_id, matched_by, errors, "
            "run_id FROM sync_rows WHERE run_id = ? AND chunk_index = ? AND status IS NOT NULL",
            [customer_id, run_id, index])
        con.execute("INSERT INTO sync_fold_queue VALUES (?, ?, ?)",
                    [customer_id, run_id, index])
