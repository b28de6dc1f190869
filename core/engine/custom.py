"""Custom fields inside the engine: one STRUCT column when the keys are known, else a list.

Why: a file's extra columns give a handful of keys known before the build. Carried as a
STRUCT (one field per key, NULL = empty) they merge key by key as plain aggregates and turn
into canonical JSON with one ``concat_ws`` — no per-row list lambdas, no unnest of every
multi-record cluster, no list re-aggregation (together ~3 s at 1M records). Sources with
very many keys, or keys differing only by case (struct fields are case-insensitive), keep
the general form: a key-sorted list of non-empty ``{key, value}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

#: The custom field ``household=separate`` writes the shared phone into.
HOUSEHOLD_KEY = "household_phone"
#: Above this many keys the STRUCT form is not used.
MAX_STRUCT_KEYS = 256


def lit(text: str) -> str:
    """SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class CustomLayout:
    """How ``lb_norm.custom`` is laid out: ``keys`` (sorted) for a STRUCT, None for a list."""

    keys: tuple[str, ...] | None
    #: each key as JSON text, written by DuckDB's ``to_json`` exactly as the list form does
    key_json: tuple[str, ...] = ()

    @classmethod
    def choose(cls, con: duckdb.DuckDBPyConnection, source_keys: list[str],
               engine_keys: list[str]) -> CustomLayout:
        keys = sorted(set(source_keys) | set(engine_keys))
        if len(keys) <= MAX_STRUCT_KEYS and len({k.lower() for k in keys}) == len(keys):
            texts = tuple(con.execute("SELECT to_json(?::VARCHAR)::VARCHAR", [k]).fetchone()[0]
                          for k in keys)
            return cls(tuple(keys), texts)
        return cls(None)

    @property
    def is_struct(self) -> bool:
        return self.keys is not None

    def field(self, col: str, key: str) -> str:
        return f"struct_extract({col}, {lit(key)})"

    def pack(self, values: dict[str, str]) -> str:
        """STRUCT literal of every key (``values``: key -> SQL; missing keys are NULL)."""
        assert self.keys is not None
        return "{" + ", ".join(f"{lit(k)}: {values.get(k, 'NULL::VARCHAR')}"
                               for k in self.keys) + "}"

    def with_household(self, col: str, phone: str, cond: str) -> str:
        """``col`` with ``household_phone`` set to ``phone`` where ``cond`` holds."""
        if self.keys is None:
            return (f"CASE WHEN NOT ({cond}) THEN {col} ELSE list_sort(list_concat("
                    f"list_filter({col}, lambda x: x.key <> '{HOUSEHOLD_KEY}'), "
                    f"[{{'key': '{HOUSEHOLD_KEY}', 'value': {phone}}}])) END")
        values = {k: self.field(col, k) for k in self.keys}
        values[HOUSEHOLD_KEY] = f"CASE WHEN {cond} THEN {phone} ELSE {values[HOUSEHOLD_KEY]} END"
        return self.pack(values)

    def to_json(self, col: str) -> str:
        """SQL: canonical JSON object text (sorted keys, empty values dropped), or NULL."""
        if self.keys is None:
            return (f"CASE WHEN len({col}) > 0 THEN '{{' || array_to_string(list_transform("
                    f"{col}, lambda x: to_json(x.key) || ':' || to_json(x.value)), ',') || '}}' END")
        parts = ", ".join(f"{lit(j + ':')} || to_json({self.field(col, k)})"
                          for k, j in zip(self.keys, self.key_json))
        return f"'{{' || nullif(concat_ws(',', {parts}), '') || '}}'"

    def empty(self) -> str:
        if self.keys is None:
            return "[]"
        return self.pack({})
