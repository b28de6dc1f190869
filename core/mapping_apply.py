"""Apply a Mapping to a connector's record stream, batch by batch, without a loop per row.

Why on the stream: mapping sits between the connector and staging, so the engine and the
pipeline see records that already speak MEGA (``stage`` holds the stage slug, ``owner`` the
owner_id) and need no mapping logic of their own.

Columns are rewritten with pyarrow.compute. Source fields that are not canonical live as keys
of the ``custom_fields`` JSON text; DuckDB (in-process, over Arrow, vectorized) reads those keys
and writes the patched JSON back, so a million records never pass through Python one by one.

Order per batch: trims, then field renames, then the other transforms in order, then the value
maps (stages, owners, source platforms and types), the lead-line rule, and the defaults.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from collections.abc import Mapping as AbcMapping
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .mapping_model import DROP, Mapping, Target, ValueMap
from .mapping_report import MappingReport
from .mega_model import LEAD_LINES, SURROUNDING_WHITESPACE
from .records import CANONICAL_FIELDS, CANONICAL_SCHEMA, to_batches

_STR = pa.string()
_NOT_TRIMMED = ("source_id", "custom_fields", "reject_reason")


def apply_mapping(
    items: Iterable[AbcMapping[str, Any] | pa.RecordBatch],
    mapping: Mapping | None = None,
    *,
    report: MappingReport | None = None,
    batch_size: int = 10_000,
) -> Iterator[pa.RecordBatch]:
    """Yield canonical RecordBatches with ``mapping`` applied; fill ``report`` as it goes.

    No record is ever dropped: a record the mapping cannot accept keeps flowing with
    ``reject_reason`` set, so it ends as ``rejected`` with that reason.
    """
    mapping = mapping or Mapping()
    report = report if report is not None else MappingReport()
    report.unmapped_fields_action = mapping.unmapped_fields
    con = _connection()
    try:
        for batch in to_batches(items, batch_size):
            if batch.num_rows:
                batch = _BatchMapper(con, batch, mapping, report).run()
            yield batch
    finally:
        con.close()


_BASE: duckdb.DuckDBPyConnection | None = None
_BASE_LOCK = threading.Lock()


def _connection() -> duckdb.DuckDBPyConnection:
    """A cursor on one in-memory DuckDB shared by the process: opening a database costs tens
    of milliseconds, a cursor (its own connection, own registered views) almost nothing."""
    global _BASE
    with _BASE_LOCK:
        if _BASE is None:
            _BASE = duckdb.connect()
        return _BASE.cursor()


# --- small vectorized helpers ---------------------------------------------------------------

def _text(arr: pa.Array) -> pa.Array:
    """Any canonical column as text (lists joined with ', ')."""
    if pa.types.is_list(arr.type):
        return pc.binary_join(arr, ", ")
    if arr.type != _STR:
        return arr.cast(_STR)
    return arr


def _trim(arr: pa.Array) -> pa.Array:
    """Strip MEGA's set of surrounding whitespace (mega_model), the same set the engine uses,
    so a value trimmed here keys exactly as the engine keys it."""
    return pc.utf8_trim(arr, characters=SURROUNDING_WHITESPACE)


def _blank_to_null(arr: pa.Array) -> pa.Array:
    blank = pc.equal(_trim(arr), "")
    return pc.if_else(blank, pa.scalar(None, _STR), arr)


def _clean(arr: pa.Array) -> pa.Array:
    """Trimmed, with blanks as null: the form every lookup uses."""
    return _blank_to_null(_trim(arr))


def _join(parts: list[pa.Array], sep: str) -> pa.Array:
    """Join the non-null parts of each row with ``sep`` (null when none).

    Pairwise, because pyarrow's own null_handling="skip" drops all-null rows (observed with
    pyarrow 26) instead of keeping them.
    """
    result = parts[0]
    for part in parts[1:]:
        both = pc.binary_join_element_wise(result, part, sep)
        result = pc.coalesce(both, result, part)
    return result


def _const(n: int, value: str | None) -> pa.Array:
    return pa.nulls(n, _STR) if value is None else pa.nulls(n, _STR).fill_null(value)


def _false(n: int) -> pa.Array:
    return pa.nulls(n, pa.bool_()).fill_null(False)


def _mask(arr: pa.Array) -> pa.Array:
    return pc.fill_null(arr, False)


def _count(mask: pa.Array) -> int:
    return int(pc.sum(mask).as_py() or 0)


def _lower_set(values: Iterable[str]) -> pa.Array:
    return pa.array(sorted({v.strip().lower() for v in values}), _STR)


def _reason(prefix: str, values: pa.Array, suffix: str) -> pa.Array:
    n = len(values)
    return pc.binary_join_element_wise(_const(n, prefix), pc.fill_null(values, ""),
                                       _const(n, suffix), "")


_RE2_META = re.compile(r"([\\.^$|?*+()\[\]{}])")


def _tag_pattern(tags: Iterable[str]) -> str:
    alts = "|".join(_RE2_META.sub(r"\\\1", t.strip().lower()) for t in tags if t.strip())
    return rf'(^|[,;|\["])\s*({alts})\s*($|[,;|\]"])'


def _pointer(key: str) -> str:
    """A JSON pointer to one top-level key (DuckDB reads ``/key`` as a pointer)."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _examples(values: pa.Array, ids: pa.Array, mask: pa.Array) -> list[tuple[str, int, str | None]]:
    picked = pa.table({"v": pc.filter(values, mask), "id": pc.filter(ids, mask)})
    if not picked.num_rows:
        return []
    grouped = picked.group_by("v", use_threads=False).aggregate([("id", "count"), ("id", "first")])
    return list(zip(grouped["v"].to_pylist(), grouped["id_count"].to_pylist(),
                    grouped["id_first"].to_pylist()))


# --- one batch ------------------------------------------------------------------------------

class _BatchMapper:
    """Applies the mapping to one canonical batch (a short-lived object, one per batch)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, batch: pa.RecordBatch,
                 mapping: Mapping, report: MappingReport) -> None:
        self.con, self.m, self.report = con, mapping, report
        self.n = batch.num_rows
        self.cols: dict[str, pa.Array] = {name: batch.column(name) for name in CANONICAL_FIELDS}
        self.ids = _text(self.cols["source_id"])
        self.src: dict[str, pa.Array] = {}
        self.patch: dict[str, list[tuple[str, Any]]] = {}   # slug -> specs, later wins
        self.deleted: set[str] = set()
        self.trimmed: set[str] = set()                       # custom fields trimmed
        self.reasons: list[pa.Array] = []
        self.extra: dict[str, pa.Array] = {}                 # arrays handed to DuckDB

    def run(self) -> pa.RecordBatch:
        self.report.records += self.n
        self._read_sources()
        self._trims()
        self._renames()
        self._transforms()
        stage_before = self.cols["stage"]
        for vm in self.m.value_maps:
            self._value_map(vm)
        self._lead_line(stage_before)
        self._defaults()
        self._rejects()
        self._custom_fields()
        return pa.RecordBatch.from_arrays([self.cols[n] for n in CANONICAL_FIELDS],
                                          schema=CANONICAL_SCHEMA)

    # -- sources -------------------------------------------------------------------------
    def _read_sources(self) -> None:
        wanted = self.m.source_fields()
        custom = [name for name in wanted if name not in CANONICAL_FIELDS]
        self.report.fields_read.update(custom)
        # a source field that [mapping.fields] or a transform reads is consumed: it is not sent
        # under its own name (map it to custom:<its name> as well to keep it); the field the
        # lead-line rule only looks at (tags, a type) stays as it is
        self.deleted.update(n for n in self.m.consumed_fields() if n not in CANONICAL_FIELDS)
        for name in wanted:
            if name in CANONICAL_FIELDS:
                self.src[name] = _text(self.cols[name])
        cf = self.cols["custom_fields"]
        if cf.null_count == self.n:
            for name in custom:
                self.src[name] = pa.nulls(self.n, _STR)
            return
        self.con.register("lb_map_in", pa.table({"cf": cf, "sid": self.ids}))
        try:
            keys = self.con.execute(
                "SELECT k, count(*), min(sid) FROM (SELECT unnest(json_keys(cf0)) AS k, sid "
                "FROM (SELECT CASE WHEN json_valid(cf) AND json_type(cf) = 'OBJECT' THEN cf "
                "END AS cf0, sid FROM lb_map_in)) GROUP BY k ORDER BY k").fetchall()
            self.report.fields_seen.update(k for k, _, _ in keys)
            if self._trim_all:  # `trim` over every field: read every key this batch holds
                custom = list(dict.fromkeys([*custom, *(k for k, _, _ in keys)]))
            if custom:
                select = ", ".join(f"json_extract_string(cf0, ?) AS c{i}"
                                   for i in range(len(custom)))
                got = self.con.sql(
                    f"SELECT {select} FROM (SELECT CASE WHEN json_valid(cf) THEN cf END AS cf0 "
                    "FROM lb_map_in)", params=[_pointer(k) for k in custom]).to_arrow_table()
                for i, name in enumerate(custom):
                    self.src[name] = got.column(f"c{i}").combine_chunks().cast(_STR)
            self._count_unmapped_keys(keys, set(wanted))
        finally:
            self.con.unregister("lb_map_in")

    @property
    def _trim_all(self) -> bool:
        return any(step.op == "trim" and "*" in step.fields for step in self.m.transforms)

    def _count_unmapped_keys(self, rows: list[tuple[str, int, str]],
                             referenced: set[str]) -> None:
        targets = {t.name for t in self.m.fields.values() if t.kind == "custom"}
        targets |= {s.to.name for s in self.m.transforms if s.to and s.to.kind == "custom"}
        moved = set(self.m.consumed_fields())
        # a key that is already the slug some mapping writes is accounted for
        unlisted = [(k, int(c), s) for k, c, s in rows if k not in moved and k not in targets]
        # a key only the lead-line rule reads is used, so not reported; "omit" still drops it
        self.report.add_unmapped_fields([r for r in unlisted if r[0] not in referenced])
        if self.m.unmapped_fields == "omit":
            self.deleted.update(k for k, _, _ in unlisted)

    # -- trims, renames, transforms ------------------------------------------------------
    def _trims(self) -> None:
        for step in self.m.transforms:
            if step.op != "trim":
                continue
            names = list(step.fields)
            if "*" in names:
                names = [*self.src, *(n for n, t in CANONICAL_FIELDS.items()
                                      if t == _STR and n not in _NOT_TRIMMED)]
            for name in dict.fromkeys(names):
                if name in CANONICAL_FIELDS:
                    if name in _NOT_TRIMMED or self.cols[name].type != _STR:
                        continue
                    self.cols[name] = _trim(self.cols[name])
                    if name in self.src:
                        self.src[name] = self.cols[name]
                elif name in self.src:
                    self.src[name] = _trim(self.src[name])
                    self.trimmed.add(name)
                    if name not in self.deleted:  # a kept custom field is sent trimmed
                        self._write(Target("custom", name), self.src[name], keep_blank=True)

    def _write(self, target: Target, values: pa.Array, *, from_key: str | None = None,
               keep_blank: bool = False) -> None:
        """Write non-empty ``values`` to a target; empty ones leave what is there (unless
        ``keep_blank``: a trimmed custom field replaces its own value, blank or not)."""
        if target.kind == "field":
            current = self.cols[target.name]
            self.cols[target.name] = pc.coalesce(_blank_to_null(values), current)
        elif target.kind == "custom":
            if from_key is not None:
                spec: tuple[str, Any] = ("key", from_key)
            else:
                name = f"x{len(self.extra)}"
                self.extra[name] = values if keep_blank else _blank_to_null(values)
                spec = ("col", name)
            self.patch.setdefault(target.name, []).append(spec)

    def _renames(self) -> None:
        for source, target in self.m.fields.items():
            if source in CANONICAL_FIELDS:
                if not (target.kind == "field" and target.name == source):
                    self.cols[source] = pa.nulls(self.n, CANONICAL_FIELDS[source])
            else:
                self.deleted.add(source)
        for source, target in self.m.fields.items():
            if target.kind == "drop":
                continue
            # an untrimmed custom field moves as its JSON value (a number stays a number)
            from_key = (source if source not in CANONICAL_FIELDS
                        and source not in self.trimmed else None)
            self._write(target, self.src[source], from_key=from_key)

    def _transforms(self) -> None:
        for step in self.m.transforms:
            if step.op == "trim" or step.to is None:
                continue
            if step.op == "constant":
                self._write(step.to, _const(self.n, step.value))
                continue
            parts = [_clean(self.src[name]) for name in step.fields]
            if step.op == "join":
                self._write(step.to, _join(parts, step.sep))
            else:  # first_non_empty
                self._write(step.to, pc.coalesce(*parts))

    # -- value maps ----------------------------------------------------------------------
    def _value_map(self, vm: ValueMap) -> None:
        n, col = self.n, vm.column
        vals = _clean(_text(self.cols[col]))
        empty = pc.is_null(vals)
        found = _false(n)
        mapped_val = pa.nulls(n, _STR)
        if vm.values:
            keys = list(vm.values)
            targets = pa.array([None if v == DROP else v for v in vm.values.values()], _STR)
            idx = pc.index_in(vals, value_set=pa.array(keys, _STR))
            if col == "owner":  # emails match whatever their case
                emails = [(i, k.lower()) for i, k in enumerate(keys) if "@" in k]
                if emails:
                    lowered = pa.array([e for _, e in emails], _STR)
                    positions = pa.array([i for i, _ in emails], pa.int32())
                    idx2 = pc.index_in(pc.utf8_lower(vals), value_set=lowered)
                    idx = pc.coalesce(idx, pc.take(positions, idx2))
            found = pc.is_valid(idx)
            mapped_val = pc.take(targets, idx)
        dropped = _mask(pc.and_(found, pc.is_null(mapped_val)))
        mapped = _mask(pc.and_(found, pc.is_valid(mapped_val)))
        if vm.allowed is not None:
            lowered = pc.utf8_lower(vals)
            passed = _mask(pc.and_(pc.invert(found), pc.is_in(lowered, value_set=pa.array(
                vm.allowed, _STR))))
            pass_val = lowered
        elif not vm.given:
            passed = _mask(pc.and_(pc.invert(found), pc.invert(empty)))
            pass_val = vals
        else:
            passed = _false(n)
            pass_val = vals
        unmapped = _mask(pc.and_(pc.and_(pc.invert(empty), pc.invert(found)), pc.invert(passed)))
        result = pc.if_else(mapped, mapped_val, pc.if_else(passed, pass_val, pa.scalar(None, _STR)))
        counts = {"mapped": _count(mapped), "passed": _count(passed), "dropped": _count(dropped)}
        n_unmapped = _count(unmapped)
        if vm.unmapped == "default":
            result = pc.if_else(unmapped, pa.scalar(vm.default, _STR), result)
            counts["defaulted"] = n_unmapped
        elif vm.unmapped == "reject":
            self.reasons.append(pc.if_else(unmapped, _reason(
                f"unmapped {col} '", vals, f"' (mapping.{vm.section}_policy: reject)"),
                pa.scalar(None, _STR)))
            counts["rejected"] = n_unmapped
        else:
            counts["omitted"] = n_unmapped
        n_empty = _count(empty)
        if vm.missing == "default":
            result = pc.if_else(empty, pa.scalar(vm.default, _STR), result)
            counts["defaulted"] = counts.get("defaulted", 0) + n_empty
        else:
            counts["empty"] = n_empty
        self.report.add_counts(col, counts)
        if n_unmapped:
            self.report.add_unmapped(col, _examples(vals, self.ids, unmapped))
        self.cols[col] = result

    def _lead_line(self, stage_before: pa.Array) -> None:
        rule, n = self.m.lead_line, self.n
        existing = pc.utf8_lower(_clean(_text(self.cols["lead_line"])))
        exist_valid = _mask(pc.is_in(existing, value_set=pa.array(LEAD_LINES, _STR)))
        buyer = seller = _false(n)
        rule_val = pa.nulls(n, _STR)
        if rule.source in ("field", "stage"):
            if rule.source == "field":
                rule_val = pc.utf8_lower(_clean(self.src[rule.field or ""]))
                extra = None
            else:
                rule_val = pc.utf8_lower(_clean(_text(stage_before)))
                extra = pc.utf8_lower(_clean(_text(self.cols["stage"])))
            for side in LEAD_LINES:
                values = getattr(rule, side)
                if not values:
                    continue
                hit = _mask(pc.is_in(rule_val, value_set=_lower_set(values)))
                if extra is not None:
                    hit = pc.or_(hit, _mask(pc.is_in(extra, value_set=_lower_set(values))))
                if side == "buyer":
                    buyer = hit
                else:
                    seller = hit
        elif rule.source == "tag":
            rule_val = pc.utf8_lower(_clean(self.src[rule.field or "tags"]))
            if rule.buyer:
                buyer = _mask(pc.match_substring_regex(rule_val, pattern=_tag_pattern(rule.buyer)))
            if rule.seller:
                seller = _mask(pc.match_substring_regex(rule_val,
                                                        pattern=_tag_pattern(rule.seller)))
        decided = pc.if_else(pc.and_(buyer, pc.invert(seller)), pa.scalar("buyer", _STR),
                             pc.if_else(pc.and_(seller, pc.invert(buyer)),
                                        pa.scalar("seller", _STR), pa.scalar(None, _STR)))
        mapped = pc.is_valid(decided)
        passed = _mask(pc.and_(pc.invert(mapped), exist_valid))
        has_value = pc.or_(pc.is_valid(rule_val), pc.is_valid(existing))
        unmapped = _mask(pc.and_(pc.and_(pc.invert(mapped), pc.invert(passed)), has_value))
        result = pc.if_else(mapped, decided, pc.if_else(passed, existing, pa.scalar(None, _STR)))
        n_unmapped = _count(unmapped)
        counts = {"mapped": _count(mapped), "passed": _count(passed),
                  "empty": n - _count(mapped) - _count(passed) - n_unmapped}
        if rule.unmapped == "default":
            result = pc.if_else(unmapped, pa.scalar(rule.default, _STR), result)
            counts["defaulted"] = n_unmapped
        elif rule.unmapped == "reject":
            shown = pc.coalesce(rule_val, existing)
            self.reasons.append(pc.if_else(unmapped, _reason(
                "undecided lead_line for '", shown, "' (mapping.lead_line unmapped: reject)"),
                pa.scalar(None, _STR)))
            counts["rejected"] = n_unmapped
        else:
            counts["omitted"] = n_unmapped
        self.report.add_counts("lead_line", counts)
        if n_unmapped:
            self.report.add_unmapped("lead_line", _examples(pc.coalesce(rule_val, existing),
                                                            self.ids, unmapped))
        self.cols["lead_line"] = result

    def _defaults(self) -> None:
        for name, value in self.m.defaults.items():
            empty = pc.is_null(self.cols[name])
            filled = _count(empty)
            if filled:
                self.cols[name] = pc.fill_null(self.cols[name], value)
                self.report.defaults_filled[name] += filled

    def _rejects(self) -> None:
        if not self.reasons:
            return
        before = self.cols["reject_reason"]
        after = pc.coalesce(before, *self.reasons)
        self.report.rejected += _count(pc.and_(pc.is_null(before), pc.is_valid(after)))
        self.cols["reject_reason"] = after

    # -- custom_fields JSON --------------------------------------------------------------
    def _custom_fields(self) -> None:
        if not self.patch and not self.deleted:
            return
        parts: list[str] = []
        params: list[Any] = []
        for slug, specs in self.patch.items():
            exprs: list[str] = []
            own: list[Any] = [slug]
            for kind, what in reversed(specs):  # the last writer wins where it has a value
                if kind == "key":  # a JSON null or blank text is no value: the next writer
                    exprs.append("CASE WHEN nullif(trim(json_extract_string(cf0, ?)), '') "
                                 "IS NOT NULL THEN json_extract(cf0, ?) END")
                    own.extend([_pointer(what), _pointer(what)])
                else:
                    exprs.append(f'to_json("{what}")')
            if slug not in self.deleted:  # else keep a value the record already had
                exprs.append("json_extract(cf0, ?)")
                own.append(_pointer(slug))
            parts.append(f"?::VARCHAR, coalesce({', '.join(exprs)})")
            params.extend(own)
        for key in sorted(self.deleted - set(self.patch)):
            parts.append("?::VARCHAR, NULL")
            params.append(key)
        table = pa.table({"cf": self.cols["custom_fields"], **self.extra})
        extra_cols = "".join(f', "{name}"' for name in self.extra)
        sql = (
            "SELECT CASE WHEN cf IS NOT NULL AND cf0 IS NULL THEN cf ELSE "
            "nullif(CAST(json_merge_patch(coalesce(cf0, '{}'), json_object("
            + ", ".join(parts) + ")) AS VARCHAR), '{}') END AS cf FROM "
            "(SELECT cf, CASE WHEN json_valid(cf) AND json_type(cf) = 'OBJECT' THEN cf END "
            f"AS cf0{extra_cols} FROM lb_map_cf)"
        )
        self.con.register("lb_map_cf", table)
        try:
            got = self.con.sql(sql, params=params).to_arrow_table()
        finally:
            self.con.unregister("lb_map_cf")
        self.cols["custom_fields"] = got.column("cf").combine_chunks().cast(_STR)
