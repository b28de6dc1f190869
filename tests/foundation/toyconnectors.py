"""A tiny in-memory connector, and broken variants of it, for testing leadbridge.testing.

Each broken variant breaks exactly one conformance rule, so a test can show that the suite
catches that rule and only that one.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from leadbridge import Connector, Option, SourceError

#: store name -> {source_id: record}; the ``store`` option picks one, like a base_url would.
STORES: dict[str, dict[str, dict[str, Any]]] = {}
TOKEN = "toy-secret-token-1234"


def make_store(name: str, n: int = 3) -> dict[str, dict[str, Any]]:
    STORES[name] = {f"t{i}": {"source_id": f"t{i}", "contact_name": f"Toy {i}",
                              "contact_email": f"toy{i}@example.com",
                              "updated_at": f"2026-01-0{i + 1}T00:00:00Z",
                              "custom_fields": {"n": i}} for i in range(n)}
    return STORES[name]


class Toy(Connector):
    """A correct connector: an ``updated_at`` cursor with the ids at the cursor saved."""

    name = "toy"
    description = "Toy records for tests."
    source_platform = "direct"
    options = (
        Option("token", "secret", required=True, env="TOY_TOKEN", help="The toy token"),
        Option("store", "str", required=True, help="Which in-memory store to read"),
        Option("page_size", "int", default=10, help="Records per page"),
        Option("strict", "bool", default=False, help="Be strict"),
        Option("mode", "choice", default="a", choices=("a", "b"), help="A or B"),
    )

    def records(self, state: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if self.config["token"].reveal() != TOKEN:
            raise SourceError("toy: the token was refused (HTTP 401)", connector=self.name)
        since, done = state.get("since"), set(state.get("ids") or [])
        rows = sorted(STORES[self.config["store"]].values(), key=lambda r: r["updated_at"])
        newest, ids = since, set(done)
        for rec in rows:
            ts = rec["updated_at"]
            if since and (ts < since or (ts == since and rec["source_id"] in done)):
                continue
            if newest is None or ts > newest:
                newest, ids = ts, set()
            ids.add(rec["source_id"])
            yield dict(rec)
        if newest:
            state["since"], state["ids"] = newest, sorted(ids)


class LeakyRepr(Toy):
    def __repr__(self) -> str:
        return f"LeakyRepr(token={self.config['token'].reveal()})"


class LeakyLog(Toy):
    def records(self, state):
        logging.getLogger("toy.debug").debug("calling with %s", self.config["token"].reveal())
        yield from super().records(state)


class UnknownKey(Toy):
    def records(self, state):
        for rec in super().records(state):
            yield {**rec, "favourite_colour": "blue"}


class IntIds(Toy):
    def records(self, state):
        for i, rec in enumerate(super().records(state)):
            yield {**rec, "source_id": i + 1}


class NaiveTimes(Toy):
    def records(self, state):
        for rec in super().records(state):
            yield {**rec, "updated_at": rec["updated_at"].replace("T", " ").rstrip("Z")}


class BadPlatform(Toy):
    source_platform = "myspace"


class SecretWithoutEnv(Toy):
    options = (Option("token", "secret", required=True, help="No env var"), *Toy.options[1:])


class DuplicateIds(Toy):
    def records(self, state):
        for rec in super().records(state):
            yield rec
            yield rec


_counter = itertools.count()


class UnstableIds(Toy):
    def records(self, state):
        run = next(_counter)
        for rec in super().records(state):
            yield {**rec, "source_id": f"{rec['source_id']}-{run}"}


class DatetimeState(Toy):
    def records(self, state):
        yield from super().records(state)
        state["since"] = datetime(2026, 1, 1)


class IgnoresState(Toy):
    def records(self, state):
        yield from super().records({})
        state["since"] = "2026-01-01T00:00:00Z"


class ChecksBeforeValidating(Toy):
    def __init__(self, **given: Any) -> None:
        if "page_size" in given and not str(given["page_size"]).isdigit():
            raise SourceError("page_size is wrong")
        super().__init__(**given)


class LeakyError(Toy):
    def records(self, state):
        raise SourceError(f"toy: token {self.config['token'].reveal()} refused")
        yield  # pragma: no cover


class RawError(Toy):
    def records(self, state):
        raise KeyError("data")
        yield  # pragma: no cover
