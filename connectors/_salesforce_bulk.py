"""Salesforce Bulk API 2.0 query jobs: create, wait, download CSV pages by ``Sforce-Locator``.

Why: above a couple of thousand rows a REST query chain costs one API call per 2,000 rows and
long locator chains; one Bulk job answers the same SOQL in a few calls (query jobs do not use
the daily batch allocation). The job is a snapshot: nothing is yielded until it is
``JobComplete``, so a ``Failed``/``Aborted`` job is one clear error and never half a read.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

from ..errors import SourceDataError, SourceError
from . import _http
from ._http import HttpClient, once

#: Poll delays grow from POLL_START to POLL_MAX seconds (times _http.BACKOFF_SCALE in tests).
POLL_START = 0.5
POLL_MAX = 10.0
TERMINAL_FAILURES = ("Failed", "Aborted")


def bulk_query(http: HttpClient, api: str, soql: str, *, what: str, operation: str = "queryAll",
               max_records: int = 50_000, timeout: float = 3600.0) -> Iterator[dict[str, str | None]]:
    """Rows of ``soql`` as ``{column: text or None}`` (CSV has no types; empty means null).

    ``api`` is ``{instance_url}/services/data/vXX.X``; ``what`` names the read in errors.
    """
    job = http.post_object(f"{api}/jobs/query", {
        "operation": operation, "query": soql, "contentType": "CSV",
        "columnDelimiter": "COMMA", "lineEnding": "LF",
    })
    job_id = job.get("id")
    if not job_id or not isinstance(job_id, str):
        raise SourceDataError(f"salesforce: the Bulk API 2.0 query job for {what} was created "
                              f"without an id (answer: {str(job)[:120]})")
    _wait(http, f"{api}/jobs/query/{job_id}", job_id, what=what, timeout=timeout)
    yield from _results(http, f"{api}/jobs/query/{job_id}/results", job_id, what=what,
                        max_records=max_records)


def _wait(http: HttpClient, url: str, job_id: str, *, what: str, timeout: float) -> None:
    delay, deadline = POLL_START, time.monotonic() + timeout
    while True:
        info = http.get_object(url)
        state = info.get("state")
        if state == "JobComplete":
            return
        if state in TERMINAL_FAILURES:
            reason = info.get("errorMessage") or "no errorMessage given"
            raise SourceError(
                f"salesforce: Bulk API 2.0 query job {job_id} for {what} ended {state}: "
                f"{reason}. Nothing from this job was read and the cursor did not move; fix "
                "the cause, or raise --option bulk_threshold to read through the REST query.")
        if time.monotonic() > deadline:
            http.request("PATCH", url, json={"state": "Aborted"})
            raise SourceError(
                f"salesforce: Bulk API 2.0 query job {job_id} for {what} was still {state} "
                f"after {timeout:.0f} s and was aborted; raise --option bulk_timeout_seconds "
                "or run again later.")
        time.sleep(delay * _http.BACKOFF_SCALE)
        delay = min(delay * 2, POLL_MAX)


def _results(http: HttpClient, url: str, job_id: str, *, what: str,
             max_records: int) -> Iterator[dict[str, str | None]]:
    locator: str | None = None
    page = 0
    seen: set[str] = set()  # a locator that comes twice would page forever
    while True:
        params: dict[str, str | int] = {"maxRecords": max_records}
        if locator:
            params["locator"] = locator
        resp = http.request("GET", url, params=params, headers={"Accept": "text/csv"})
        page += 1
        yield from parse_csv(resp.text, where=f"Bulk job {job_id} ({what}) result page {page}")
        locator = resp.headers.get("Sforce-Locator")
        if not locator or locator == "null":
            return
        once(seen, locator, f"salesforce: Bulk job {job_id} ({what}) gave the same "
                            "Sforce-Locator twice; stopping instead of looping forever")


def parse_csv(text: str, *, where: str) -> Iterator[dict[str, str | None]]:
    """One result page (header row + rows) as dicts; a ragged row is a located error."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header:
            return
        for row in reader:
            if len(row) != len(header):
                raise SourceError(f"salesforce: {where}, CSV line {reader.line_num}: "
                                  f"{len(row)} values for {len(header)} columns")
            yield {name: (value if value != "" else None) for name, value in zip(header, row)}
    except csv.Error as exc:
        raise SourceError(f"salesforce: {where}, CSV line {reader.line_num}: {exc}") from None
