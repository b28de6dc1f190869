"""The sandbox's state: leads, match-key indexes, idempotency records and webhooks.

Everything lives in memory (fast, one code path); with a DuckDB file every commit is also
written there in one transaction, and the file is read back on start, so a sandbox restarted
with the same ``--db`` continues exactly where it stopped — including stored idempotent
answers, which is what a client retrying across a restart relies on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..mega_model import email_key, mega_phone_key

Lead = dict[str, Any]

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS sandbox_leads (
         id VARCHAR PRIMARY KEY, customer_id VARCHAR NOT NULL, seq BIGINT NOT NULL,
         data VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS sandbox_idempotency (
         customer_id VARCHAR, endpoint VARCHAR, key VARCHAR, fingerprint VARCHAR,
         status INTEGER, body VARCHAR, PRIMARY KEY (customer_id, endpoint, key))""",
    """CREATE TABLE IF NOT EXISTS sandbox_webhooks (
         id VARCHAR PRIMARY KEY, customer_id VARCHAR NOT NULL, data VARCHAR NOT NULL)""",
]


@dataclass(frozen=True)
class StoredResponse:
    """An answer kept for an Idempotency-Key: replayed verbatim for the same body."""

    fingerprint: str
    status: int
    body: Any


def lead_keys(lead: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The (email, phone) match keys MEGA computes from a stored lead."""
    return email_key(lead.get("contact_email")), mega_phone_key(lead.get("contact_phone"))


class _Customer:
    def __init__(self) -> None:
        self.leads: dict[str, Lead] = {}
        self.by_email: dict[str, set[str]] = {}
        self.by_phone: dict[str, set[str]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.version = 0

    def index(self, lead: Lead, add: bool) -> None:
        ek, pk = lead_keys(lead)
        for table, key in ((self.by_email, ek), (self.by_phone, pk)):
            if key is None:
                continue
            if add:
                table.setdefault(key, set()).add(lead["id"])
            else:
                holders = table.get(key)
                if holders is not None:
                    holders.discard(lead["id"])
                    if not holders:
                        del table[key]


class Store:
    """Thread-safe state of every customer; ``lock`` serialises writes (and their checks)."""

    def __init__(self, db_path: str | Path | None = None) -> None:
        self.lock = threading.RLock()
        self._customers: dict[str, _Customer] = {}
        self._seq: dict[str, int] = {}
        self._next_seq = 1
        self._idem: dict[tuple[str, str, str], StoredResponse] = {}
        self._con = None
        self._closed = False
        if db_path is not None:
            self._open(Path(db_path))

    # --- persistence ---------------------------------------------------------------

    def _open(self, path: Path) -> None:
        import duckdb

        from ..workspace import not_duckdb

        problem = not_duckdb(path)  # DuckDB would open a CSV read-only and keep state in memory
        if problem:
            raise ConfigError(f"cannot open sandbox state file {path}: it {problem}; choose "
                              "another --db")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._con = duckdb.connect(str(path))
            for statement in _SCHEMA:
                self._con.execute(statement)
        except (duckdb.Error, OSError) as exc:
            if self._con is not None:
                self._con.close()
                self._con = None
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"cannot open sandbox state file {path}: {reason}. Is another "
                              "sandbox using it, or is it not a DuckDB file? Choose another "
                              "--db") from None
        for customer_id, seq, data in self._con.execute(
                "SELECT customer_id, seq, data FROM sandbox_leads ORDER BY seq").fetchall():
            lead = json.loads(data)
            self._put(self._customer(customer_id), lead)
            self._next_seq = max(self._next_seq, seq + 1)
        for customer_id, endpoint, key, fingerprint, status, body in self._con.execute(
                "SELECT * FROM sandbox_idempotency").fetchall():
            self._idem[(customer_id, endpoint, key)] = StoredResponse(
                fingerprint, status, json.loads(body))
        for _id, customer_id, data in self._con.execute(
                "SELECT id, customer_id, data FROM sandbox_webhooks").fetchall():
            hook = json.loads(data)
            self._customer(customer_id).webhooks[hook["id"]] = hook

    def close(self) -> None:
        with self.lock:
            self._closed = True
            if self._con is not None:
                self._con.close()
                self._con = None

    @property
    def persistent(self) -> bool:
        return self._con is not None

    # --- reads -----------------------------------------------------------------------

    def _customer(self, customer_id: str) -> _Customer:
        state = self._customers.get(customer_id)
        if state is None:
            state = self._customers[customer_id] = _Customer()
        return state

    def get(self, customer_id: str, lead_id: str) -> Lead | None:
        with self.lock:
            return self._customer(customer_id).leads.get(lead_id)

    def leads(self, customer_id: str) -> list[Lead]:
        """Every lead of a customer, oldest first (copies: safe to keep)."""
        with self.lock:
            return [dict(lead) for lead in self._customer(customer_id).leads.values()]

    def version(self, customer_id: str) -> int:
        """A number that changes whenever the customer's leads do (no copy: a list page asks
        it first, and copies the leads only when it changed)."""
        with self.lock:
            return self._customer(customer_id).version

    def snapshot(self, customer_id: str) -> tuple[int, list[Lead]]:
        """(version, leads) without copying: callers must not mutate the leads."""
        with self.lock:
            state = self._customer(customer_id)
            return state.version, list(state.leads.values())

    def holders(self, customer_id: str, kind: str, key: str) -> set[str]:
        state = self._customer(customer_id)
        table = state.by_email if kind == "email" else state.by_phone
        return set(table.get(key, ()))

    def seq_of(self, lead_id: str) -> int:
        return self._seq[lead_id]

    def next_seq(self) -> int:
        with self.lock:
            seq = self._next_seq
            self._next_seq += 1
            return seq

    def idempotent(self, customer_id: str, endpoint: str, key: str) -> StoredResponse | None:
        with self.lock:
            return self._idem.get((customer_id, endpoint, key))

    def webhooks(self, customer_id: str) -> dict[str, dict[str, Any]]:
        with self.lock:
            return self._customer(customer_id).webhooks

    # --- writes ----------------------------------------------------------------------

    def _put(self, state: _Customer, lead: Lead) -> None:
        old = state.leads.get(lead["id"])
        if old is not None:
            state.index(old, add=False)
        self._seq[lead["id"]] = lead["seq"]
        state.leads[lead["id"]] = lead
        state.index(lead, add=True)

    def commit(
        self,
        customer_id: str,
        leads: Iterable[Lead],
        idempotency: tuple[str, str, StoredResponse] | None = None,
    ) -> None:
        """Write changed/new leads (and the stored answer) atomically, memory and file."""
        leads = list(leads)
        with self.lock:
            if self._closed:  # a stopped sandbox must not acknowledge a write it cannot keep
                raise RuntimeError("the sandbox store is closed")
            if self._con is not None:
                self._persist(customer_id, leads, idempotency)
            state = self._customer(customer_id)
            for lead in leads:
                self._put(state, lead)
            if leads:
                state.version += 1
            if idempotency is not None:
                endpoint, key, stored = idempotency
                self._idem[(customer_id, endpoint, key)] = stored

    def _persist(self, customer_id: str, leads: list[Lead],
                 idempotency: tuple[str, str, StoredResponse] | None) -> None:
        import pyarrow as pa

        con = self._con
        assert con is not None
        con.execute("BEGIN TRANSACTION")
        try:
            if leads:
                rows = pa.table({
                    "id": [lead["id"] for lead in leads],
                    "customer_id": [customer_id] * len(leads),
                    "seq": pa.array([lead["seq"] for lead in leads], pa.int64()),
                    "data": [json.dumps(lead) for lead in leads],
                })
                con.register("_sandbox_rows", rows)
                con.execute("INSERT OR REPLACE INTO sandbox_leads "
                            "SELECT id, customer_id, seq, data FROM _sandbox_rows")
                con.unregister("_sandbox_rows")
            if idempotency is not None:
                endpoint, key, stored = idempotency
                con.execute("INSERT OR REPLACE INTO sandbox_idempotency VALUES (?,?,?,?,?,?)",
                            [customer_id, endpoint, key, stored.fingerprint, stored.status,
                             json.dumps(stored.body)])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def save_webhook(self, customer_id: str, hook: dict[str, Any], deleted: bool = False) -> None:
        with self.lock:
            hooks = self._customer(customer_id).webhooks
            if self._con is not None:
                if deleted:
                    self._con.execute("DELETE FROM sandbox_webhooks WHERE id = ?", [hook["id"]])
                else:
                    self._con.execute("INSERT OR REPLACE INTO sandbox_webhooks VALUES (?,?,?)",
                                      [hook["id"], customer_id, json.dumps(hook)])
            if deleted:
                hooks.pop(hook["id"], None)
            else:
                hooks[hook["id"]] = hook
