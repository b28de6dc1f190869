"""The Salesforce connector: Lead and/or Contact records over the REST API (SOQL) or Bulk API 2.0.

Why this shape: one ``queryAll`` per object ordered by ``SystemModstamp, Id`` with a
``(SystemModstamp, Id)`` cursor, so equal timestamps never lose a record and deletions (the
recycle bin's ``IsDeleted``) are noticed in the same pass. Above ``bulk_threshold`` rows the same
SOQL (minus ORDER BY, which Bulk does not take) runs as a Bulk API 2.0 ``queryAll`` job and the
cursor moves to the highest ``(SystemModstamp, Id)`` only once the whole job was read. Every call
goes to the ``instance_url`` the token response names; an expired session is re-authenticated
once. Auth flows live in ``_salesforce_auth``, Bulk jobs in ``_salesforce_bulk``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx

from ..connector import Connector, Option
from ..errors import OptionsError, SourceDataError, SourceError
from ..plugins import hookimpl
from ._http import HttpClient, convert, items, once, vendor_message
from ._recent import RecentVersions
from ._salesforce_auth import default_audience, load_private_key, token_form
from ._salesforce_bulk import bulk_query

API = "v60.0"
BASE_FIELDS = {
    "Lead": ("Id", "FirstName", "LastName", "Name", "Email", "Phone", "MobilePhone", "Status",
             "OwnerId", "Owner.Email", "Company", "LeadSource", "IsConverted", "IsDeleted",
             "CreatedDate", "SystemModstamp"),
    "Contact": ("Id", "FirstName", "LastName", "Name", "Email", "Phone", "MobilePhone",
                "OwnerId", "Owner.Email", "LeadSource", "IsDeleted", "CreatedDate",
                "SystemModstamp"),
}
CURSOR = "salesforce_cursor"
_LIMIT = re.compile(r"api-usage=(\d+)/(\d+)")
_DATETIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)$")
#: Field types of the base fields that are not text (CSV results carry no types).
BASE_TYPES = {"IsConverted": "boolean", "IsDeleted": "boolean", "CreatedDate": "datetime",
              "SystemModstamp": "datetime"}
_NUMBER_TYPES = ("int", "double", "currency", "percent", "long")
#: No org has rows older than this (Salesforce began in 1999): the low end of the first window
#: a timed-out full read is split into.
FLOOR = datetime(1999, 1, 1)
#: A QUERY_TIMEOUT over a window this narrow (SOQL literals are whole seconds) is not split again.
MIN_WINDOW = timedelta(seconds=1)
#: Expired locators in a row, with no record read in between, before the read gives up.
MAX_RESTARTS = 5


class QueryFault(SourceError):
    """A 400 whose errorCode the REST reader answers itself (INVALID_QUERY_LOCATOR,
    QUERY_TIMEOUT) instead of failing the run; any other reader sees a plain SourceError."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _error_code(resp: httpx.Response) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0].get("errorCode")
    return None


def _parse_dt(value: str) -> datetime:
    return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")


def _literal(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _soql_dt(value: str) -> str:
    """Salesforce's ``2026-02-01T10:00:00.000+0000`` -> a SOQL literal ``...Z``."""
    return value[:19] + "Z"


def _floor(top: str, lookback: int) -> str:
    """The oldest version (``SystemModstamp`` text, compared as text) ``lookback`` seconds
    before ``top`` that a lookback re-read still covers."""
    return (_parse_dt(top) - timedelta(seconds=lookback)).strftime("%Y-%m-%dT%H:%M:%S")


def _newer(cur: dict, old: dict | None) -> bool:
    """Cursors only move forward (a lookback re-reads rows older than the saved cursor)."""
    return old is None or (cur["ts"][:23], cur["id"]) > (old["ts"][:23], old["id"])


def _rest_datetime(value: str) -> str:
    """Bulk CSV datetimes (``...000Z``) in the REST form (``...000+0000``), so both read paths
    yield the same values and the same cursor."""
    m = _DATETIME.match(value)
    if not m:
        return value
    base, frac, zone = m.groups()
    return f"{base}{frac or '.000'}{'+0000' if zone == 'Z' else zone.replace(':', '')}"


def _typed(value: str | None, typ: str | None) -> object:
    """A CSV cell as the REST API's JSON would have given it."""
    if value is None or typ is None:
        return value
    if typ == "boolean":
        return value.lower() == "true"
    if typ == "datetime":
        return _rest_datetime(value)
    if typ in _NUMBER_TYPES:
        try:
            return int(value) if re.fullmatch(r"-?\d+", value) else float(value)
        except ValueError:
            return value
    return value


class SalesforceConnector(Connector):
    name = "salesforce"
    source_platform = "salesforce"
    description = ("Salesforce Leads and/or Contacts (OAuth client credentials, JWT bearer or "
                   "refresh token; REST query or Bulk API 2.0).")
    options = (
        Option("login_url", "str", default="https://login.salesforce.com",
               env="SALESFORCE_LOGIN_URL",
               help="Token host (My Domain for client credentials; env SALESFORCE_LOGIN_URL)"),
        Option("base_url", "str", env="SALESFORCE_BASE_URL",
               help="Alias of login_url (the option every HTTP connector shares)"),
        Option("client_id", "str", env="SALESFORCE_CLIENT_ID", help="Connected app key"),
        Option("client_secret", "secret", env="SALESFORCE_CLIENT_SECRET",
               help="Connected app secret"),
        Option("refresh_token", "secret", env="SALESFORCE_REFRESH_TOKEN",
               help="Use the refresh-token flow instead of client credentials"),
        Option("auth", "choice", default="client_credentials",
               choices=("client_credentials", "refresh_token", "jwt"),
               help="OAuth flow; jwt needs pip install 'leadbridge[salesforce-jwt]'"),
        Option("username", "str", env="SALESFORCE_USERNAME",
               help="auth=jwt: the Salesforce username the app acts as (JWT sub)"),
        Option("private_key_file", "path", env="SALESFORCE_PRIVATE_KEY_FILE",
               help="auth=jwt: PEM RSA private key whose certificate is on the connected app"),
        Option("audience", "str", env="SALESFORCE_AUDIENCE",
               help="auth=jwt: JWT aud; default https://test.salesforce.com when login_url is "
                    "test.salesforce.com, else https://login.salesforce.com"),
        Option("objects", "str", default="Lead", help="Lead, Contact or Lead,Contact"),
        Option("include_converted", "bool", default=False,
               help="Also read converted Leads (they exist as Contacts too)"),
        Option("custom_fields", "str", default="",
               help="Comma list of __c fields into custom_fields; '*' = every custom field"),
        Option("stop_at_usage", "float", default=0.9,
               help="Stop cleanly when this share of the daily API allocation is used"),
        Option("lookback_seconds", "int", default=300,
               help="Re-read this far before the cursor: rows committed late with an earlier "
                    "SystemModstamp are not missed (re-read rows replace their staged copy); "
                    "0 = exact (SystemModstamp, Id) keyset"),
        Option("bulk_threshold", "int", default=2000,
               help="Read through a Bulk API 2.0 job when more rows than this are due "
                    "(SELECT COUNT() first); 0 = always Bulk, a huge number = never"),
        Option("bulk_max_records", "int", default=50_000,
               help="Rows per Bulk result page (maxRecords)"),
        Option("bulk_timeout_seconds", "float", default=3600.0,
               help="Abort a Bulk job still running after this long"),
    )

    def __init__(self, **given: Any) -> None:
        super().__init__(**given)
        c = self.config
        problems = []
        if c["auth"] == "jwt":
            missing = [f"{name} ({env})" for name, env in (
                ("client_id", "SALESFORCE_CLIENT_ID"), ("username", "SALESFORCE_USERNAME"),
                ("private_key_file", "SALESFORCE_PRIVATE_KEY_FILE")) if not c.get(name)]
            if missing:
                problems.append(f"auth=jwt needs {', '.join(missing)}")
        elif not c.get("client_id") or not c.get("client_secret"):
            problems.append("set client_id and client_secret (SALESFORCE_CLIENT_ID, "
                            "SALESFORCE_CLIENT_SECRET)")
        if c["auth"] == "refresh_token" and not c.get("refresh_token"):
            problems.append("auth=refresh_token needs SALESFORCE_REFRESH_TOKEN")
        objs = [o.strip() for o in c["objects"].split(",") if o.strip()]
        if not objs or any(o not in BASE_FIELDS for o in objs):
            problems.append(f"objects must be Lead, Contact or both, not {c['objects']!r}")
        if c["bulk_max_records"] < 1:
            problems.append("bulk_max_records must be at least 1")
        if problems:
            raise OptionsError("salesforce", problems)
        self._login_url = c.get("base_url") or c["login_url"]
        self._audience = c.get("audience") or default_audience(self._login_url)
        # parse the key now: a missing package or a bad file fails before anything is read
        self._key = load_private_key(c["private_key_file"]) if c["auth"] == "jwt" else None
        self._objects = objs
        self._rotated: str | None = None
        self._access: str | None = None
        self._instance: str | None = None
        self._http: HttpClient | None = None

    # -- auth ----------------------------------------------------------------------------
    def _login(self) -> None:
        c = self.config
        assert self._http is not None
        form = token_form(c, self._key, self._audience, self._rotated)
        resp = self._http.request("POST", "/services/oauth2/token", data=form, auth=False)
        body = self._http.parse(resp, expect=dict)
        if not all(isinstance(body.get(k), str) and body[k] for k in ("access_token",
                                                                     "instance_url")):
            raise SourceError("salesforce: the token answer has no access_token and "
                              "instance_url; check login_url (SALESFORCE_LOGIN_URL)")
        if c["auth"] == "refresh_token" and body.get("refresh_token"):
            self._rotated = body["refresh_token"]  # rotation: the old one may stop working
        self._access, self._instance = body["access_token"], body["instance_url"].rstrip("/")

    def _headers(self) -> dict[str, str]:
        if self._access is None:
            self._login()
        return {"Authorization": f"Bearer {self._access}"}

    def _check(self, resp: httpx.Response) -> None:
        if resp.status_code == 400 and (code := _error_code(resp)) in (
                "INVALID_QUERY_LOCATOR", "QUERY_TIMEOUT"):
            where = f"{resp.request.method} {resp.request.url.path}"
            raise QueryFault(code, f"Salesforce {where} failed with HTTP 400: "
                             f"{vendor_message(resp)} (not recoverable here)")
        if resp.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in resp.text:
            raise SourceError("salesforce: the org's API request limit is exceeded "
                              "(REQUEST_LIMIT_EXCEEDED); nothing more was read. Run again "
                              "once the rolling 24-hour allocation frees up.")
        m = _LIMIT.search(resp.headers.get("Sforce-Limit-Info", ""))
        if m and int(m.group(2)) and int(m.group(1)) / int(m.group(2)) >= self.config["stop_at_usage"]:
            raise SourceError(f"salesforce: API usage is {m.group(1)}/{m.group(2)}, at or above "
                              f"stop_at_usage={self.config['stop_at_usage']}; stopped cleanly. "
                              "Run again later or raise --option stop_at_usage.")

    # -- reading -------------------------------------------------------------------------
    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        # Bulk result pages of 50,000 rows and long SOQL queries need more than a minute
        with HttpClient(self._login_url, name="Salesforce", auth=self._headers, refresh=self._login,
                        on_response=self._check, timeout=180.0) as http:
            self._http = http
            cursors = dict(state.get(CURSOR) or {})
            lookback = self.config["lookback_seconds"]
            for obj in self._objects:
                saved = cursors.get(obj) or {}
                # versions the previous run sent near its cursor: a lookback re-read skips them
                versions: RecentVersions[str] = RecentVersions(
                    saved.get("recent") if lookback > 0 else None)
                for rec, cur, kind in self._read(http, obj, cursors.get(obj)):
                    if kind != "end":
                        version = cur["ts"][:23]
                        if versions.sent_before(cur["id"], version):
                            rec = None  # this very version was sent by the previous run
                        elif lookback > 0 and versions.add(cur["id"], version):
                            versions.trim(_floor(max(versions.now.values()), lookback))
                    if kind != "bulk_row" and _newer(cur, cursors.get(obj)):
                        cursors[obj] = {**cur, **({"recent": versions.before}
                                                  if versions.before else {})}
                        state[CURSOR] = dict(cursors)
                    if rec is not None:
                        yield rec
                if lookback > 0 and obj in cursors:
                    cursors[obj] = {**cursors[obj], "recent": versions.to_save(
                        _floor(cursors[obj]["ts"][:23], lookback))}
                    state[CURSOR] = dict(cursors)

    def _api(self, path: str) -> str:
        if self._instance is None:
            self._login()
        return f"{self._instance}{path}"

    def _fields(self, http: HttpClient, obj: str) -> tuple[list[str], list[str], dict[str, str]]:
        """(SELECT list, custom fields asked for, field types for typing CSV cells)."""
        wanted = [f.strip() for f in self.config["custom_fields"].split(",") if f.strip()]
        if not wanted:
            return list(BASE_FIELDS[obj]), [], dict(BASE_TYPES)
        path = f"/services/data/{API}/sobjects/{obj}/describe"
        described = [f for f in items(http.get_object(self._api(path)), "fields",
                                      where=f"salesforce: {path}")
                     if isinstance(f.get("name"), str)]
        custom = [f["name"] for f in described if f.get("custom")]
        types = {**{f["name"]: f.get("type", "string") for f in described}, **BASE_TYPES}
        if wanted == ["*"]:
            wanted = custom
        missing = [w for w in wanted if w not in custom]
        if missing:
            raise OptionsError("salesforce", [f"custom_fields not on {obj}: {', '.join(missing)}"])
        return [*BASE_FIELDS[obj], *wanted], wanted, types

    def _read(self, http: HttpClient, obj: str, cursor: dict | None) -> Iterator[tuple]:
        fields, custom, types = self._fields(http, obj)
        where = ""
        lookback = self.config["lookback_seconds"]
        lower, low = "", FLOOR
        if cursor and lookback > 0:
            low = _parse_dt(cursor["ts"]) - timedelta(seconds=lookback)
            lower = f"SystemModstamp >= {_literal(low)}"
        elif cursor:
            lower, low = _keyset(cursor), _parse_dt(cursor["ts"])
        where = f" WHERE {lower}" if lower else ""
        if self._bulk_due(http, obj, where):
            yield from self._read_bulk(http, obj, f"SELECT {', '.join(fields)} FROM {obj}{where}",
                                       custom, types)
            return
        yield from self._read_rest(http, obj, fields, custom, lower, low)

    def _read_rest(self, http: HttpClient, obj: str, fields: list[str], custom: list[str],
                   lower: str, low: datetime) -> Iterator[tuple]:
        """SOQL pages in (SystemModstamp, Id) order, surviving the two faults a long read meets.

        ``INVALID_QUERY_LOCATOR`` (a ``nextRecordsUrl`` expired): the query restarts after the
        last (SystemModstamp, Id) read. ``QUERY_TIMEOUT``: the window from the last row read is
        halved (upper bound ``SystemModstamp < mid``) until a query succeeds, down to one
        second; then the rest of the window follows. Windows are read in order, so rows still
        come in (SystemModstamp, Id) order, and a row version read in the last row's second (a
        restart's whole-second literal can match it again) is dropped: every row exactly once.
        """
        uppers: list[datetime | None] = [None]  # windows still to finish, innermost last
        last_ts, last_id = "", ""  # the last row yielded
        # (Id, SystemModstamp) of the rows yielded in last_ts's whole second: a restart's
        # whole-second literal can match exactly these again, and only these
        in_second: set[tuple[str, str]] = set()
        restarts = 0
        where_read = f"salesforce: {obj} query"
        while uppers:
            upper = uppers[-1]
            terms = [t for t in (lower, upper and f"SystemModstamp < {_literal(upper)}") if t]
            where = f" WHERE {' AND '.join(terms)}" if terms else ""
            soql = f"SELECT {', '.join(fields)} FROM {obj}{where} ORDER BY SystemModstamp, Id"
            url = self._api(f"/services/data/{API}/queryAll?q={quote(soql)}")
            seen = {url}  # a nextRecordsUrl that comes twice would page forever
            try:
                while url:
                    page = http.get_object(url)
                    for row in items(page, "records", where=where_read):
                        ts = _keyed(row, where_read)[:23]
                        if (row["Id"], ts) in in_second:
                            continue  # read before the restart
                        if ts[:19] != last_ts[:19]:
                            in_second = set()
                        in_second.add((row["Id"], ts))
                        last_ts, last_id = ts, row["Id"]
                        restarts = 0
                        cur = {"ts": row["SystemModstamp"], "id": row["Id"]}
                        yield self._convert(obj, row, custom), cur, "row"
                    nxt = page.get("nextRecordsUrl")
                    url = self._api(str(nxt)) if nxt and not page.get("done", True) else ""
                    if url:
                        once(seen, url, f"{where_read}: the same nextRecordsUrl came twice; "
                                        "stopping instead of looping forever")
            except QueryFault as fault:
                if last_ts:  # go on after the last row read, whatever the fault
                    lower = _keyset({"ts": last_ts, "id": last_id})
                    low = max(low, _parse_dt(last_ts))
                if fault.code == "INVALID_QUERY_LOCATOR":
                    restarts += 1
                    if restarts > MAX_RESTARTS:
                        raise SourceError(
                            f"salesforce: {obj} query locators expired {MAX_RESTARTS} times in a "
                            "row without a record read (INVALID_QUERY_LOCATOR); the cursor "
                            "keeps what was read. Run again later.") from None
                    continue
                now = datetime.now(timezone.utc).replace(tzinfo=None)
                top = upper or max(now, low) + MIN_WINDOW
                if top - low < 2 * MIN_WINDOW:
                    raise SourceError(
                        f"salesforce: the {obj} query timed out (QUERY_TIMEOUT) even over the "
                        f"one-second SystemModstamp window from {_literal(low)}; the cursor keeps "
                        "what was read. Ask Salesforce support about the org's query "
                        "performance, or use --option bulk_threshold=0 (Bulk API).") from None
                uppers.append(low + (top - low) // 2 // MIN_WINDOW * MIN_WINDOW)
                continue
            uppers.pop()
            if upper is not None:  # the next window starts where this one ended
                lower, low = f"SystemModstamp >= {_literal(upper)}", upper

    def _bulk_due(self, http: HttpClient, obj: str, where: str) -> bool:
        """True when more rows than ``bulk_threshold`` are due (one COUNT() query decides)."""
        threshold = self.config["bulk_threshold"]
        if threshold <= 0:
            return True
        soql = f"SELECT COUNT() FROM {obj}{where}"
        try:
            page = http.get_object(self._api(f"/services/data/{API}/queryAll?q={quote(soql)}"))
        except QueryFault as fault:
            if fault.code != "QUERY_TIMEOUT":
                raise
            return False  # the REST reader splits what timed out into smaller windows
        total = page.get("totalSize") or 0
        if isinstance(total, bool) or not isinstance(total, int):
            raise SourceDataError(f"salesforce: SELECT COUNT() FROM {obj} answered totalSize "
                                  f"{total!r}, not a number")
        return total > threshold

    def _read_bulk(self, http: HttpClient, obj: str, soql: str, custom: list[str],
                   types: dict[str, str]) -> Iterator[tuple]:
        """Rows in the job's order; the cursor is the highest (SystemModstamp, Id), set last."""
        high: tuple[str, str] | None = None
        for cells in bulk_query(http, self._api(f"/services/data/{API}"), soql, what=obj,
                                max_records=self.config["bulk_max_records"],
                                timeout=self.config["bulk_timeout_seconds"]):
            row: dict[str, Any] = {}
            for name, value in cells.items():
                if "." in name:  # child-to-parent column, e.g. Owner.Email
                    parent, child = name.split(".", 1)
                    row.setdefault(parent, {})[child] = value
                else:
                    row[name] = _typed(value, types.get(name))
            if not row.get("Id") or not row.get("SystemModstamp"):
                raise SourceError(f"salesforce: a Bulk result row for {obj} has no Id or "
                                  "SystemModstamp; its CSV columns are "
                                  f"{', '.join(cells) or 'none'}")
            _keyed(row, f"salesforce: a Bulk result row for {obj}")
            key = (row["SystemModstamp"][:23], row["Id"])
            if high is None or key > high:
                high = key
                top = {"ts": row["SystemModstamp"], "id": row["Id"]}
            yield self._convert(obj, row, custom), {"ts": row["SystemModstamp"],
                                                    "id": row["Id"]}, "bulk_row"
        if high is not None:
            yield None, top, "end"

    def _convert(self, obj: str, row: dict, custom: list[str]) -> dict[str, Any] | None:
        """``_record``, or a rejected record when a field holds a value of the wrong type."""
        return convert(lambda: self._record(obj, row, custom), row["Id"], f"salesforce: {obj}")

    def _record(self, obj: str, row: dict, custom: list[str]) -> dict[str, Any] | None:
        if row.get("IsDeleted"):
            return {"source_id": row["Id"], "source_platform": "salesforce", "deleted": True}
        if obj == "Lead" and row.get("IsConverted") and not self.config["include_converted"]:
            return None
        phones = [p for p in (row.get("Phone"), row.get("MobilePhone")) if p]
        fields = {k: row[k] for k in custom if row.get(k) not in (None, "")}
        fields["salesforce_object"] = obj
        for k in ("Company", "LeadSource"):
            if row.get(k):
                fields[k] = row[k]
        return {
            "source_id": row["Id"],
            "contact_name": row.get("Name"),
            "first_name": row.get("FirstName"),
            "last_name": row.get("LastName"),
            "contact_email": row.get("Email"),
            "contact_phone": phones[0] if phones else None,
            "phones": phones[1:] or None,
            "source_platform": "salesforce",
            "stage": row.get("Status"),
            "owner": (row.get("Owner") or {}).get("Email"),
            "custom_fields": fields or None,
            "created_at": row.get("CreatedDate"),
            "updated_at": row.get("SystemModstamp"),
        }


def _keyed(row: dict, where: str) -> str:
    """The row's ``SystemModstamp``, checked with its ``Id``: the cursor is built of both, so a
    row without them (or with a timestamp that is not Salesforce's) cannot be read in order."""
    rid, ts = row.get("Id"), row.get("SystemModstamp")
    if not isinstance(rid, str) or not rid or not isinstance(ts, str) \
            or not _DATETIME.match(ts):
        raise SourceDataError(f"{where}: a row has Id {rid!r} and SystemModstamp {ts!r}; "
                              "both are needed to read in order")
    return ts


def _keyset(cursor: dict) -> str:
    """Rows after ``cursor`` in (SystemModstamp, Id) order (Salesforce issue: supaglue #532)."""
    ts = _soql_dt(cursor["ts"])
    return (f"(SystemModstamp > {ts} OR "
            f"(SystemModstamp = {ts} AND Id > '{_quote_id(cursor['id'])}'))")


def _quote_id(value: str) -> str:
    """A record Id inside a SOQL string literal (Ids are alphanumeric; escape anyway)."""
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


@hookimpl
def register_connectors(register):  # type: ignore[no-untyped-def]
    register(SalesforceConnector)
