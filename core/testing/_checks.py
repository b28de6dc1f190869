"""The conformance checks, one small named function each.

Every check takes the connector class and a :class:`ConformanceSource`, runs the connector
the way the host would, and raises :class:`ConformanceFailure` (an ``AssertionError``, so
pytest shows it plainly) whose message names the check, the record or option at fault and
the fix. The pytest class in ``_suite`` and :func:`check_connector` both call these.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa

from ..connector import _TYPES, Connector, Option
from ..errors import LeadbridgeError, OptionsError
from ..mega_model import SOURCE_PLATFORMS
from ..records import CANONICAL_FIELDS, conform_batch
from ._read import canonical_rows, isolated_env, read_items, read_rows
from ._source import ConformanceSource

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
OPTION_TYPES = frozenset(_TYPES) | {"secret", "choice"}
TEXT_FIELDS = tuple(n for n, t in CANONICAL_FIELDS.items() if t == pa.string()
                    and n != "custom_fields")
LIST_FIELDS = ("emails", "phones")
TIME_FIELDS = ("created_at", "updated_at")
#: An option name no connector declares, used to provoke an "unknown option" problem.
UNKNOWN_OPTION = "leadbridge_conformance_no_such_option"
_SHOWN = 5  # problems listed per failure before "... and N more"


class ConformanceFailure(AssertionError):
    """A connector broke a conformance rule; the message says which and how to fix it.

    From :func:`check_connector`, ``failed`` lists the names of every failed check.
    """

    failed: list[str] = []


def _fail(check: str, problems: Iterable[str]) -> None:
    items = list(problems)
    if not items:
        return
    shown = "\n".join(f"  - {p}" for p in items[:_SHOWN])
    more = f"\n  ... and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    raise ConformanceFailure(f"{check}:\n{shown}{more}")


def build(cls: type[Connector], source: ConformanceSource,
          options: Mapping[str, Any] | None = None) -> Connector:
    """``cls(**options)`` (default: the source's), as the host builds it."""
    return cls(**dict(source.options if options is None else options))


def secret_values(cls: type[Connector], options: Mapping[str, Any],
                  env: Mapping[str, str] | None = None) -> list[str]:
    """The plain text of every secret option given (or set in ``env``)."""
    out = []
    for opt in cls.options:
        if not opt.secret:
            continue
        value = options.get(opt.name)
        if value is None and opt.env and env:
            value = env.get(opt.env)
        if value is None:
            continue
        text = value.reveal() if hasattr(value, "reveal") else str(value)
        if text:
            out.append(text)
    return out


# -- metadata ------------------------------------------------------------------------------

def check_metadata(cls: type[Connector]) -> None:
    """name, description, source_platform, options and positional are well formed."""
    problems: list[str] = []
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        _fail("metadata", [f"{cls!r} is not a leadbridge.Connector subclass"])
    if cls.records is Connector.records:
        problems.append(f"{cls.__name__} does not implement records(state)")
    if not isinstance(cls.name, str) or not NAME_RE.match(cls.name):
        problems.append(f"name {cls.name!r} must be lower-case letters, digits and _, "
                        "starting with a letter (it is typed on the command line)")
    desc = cls.description
    if not isinstance(desc, str) or not desc.strip():
        problems.append("description is empty: `leadbridge connectors` shows it as the "
                        "one-line summary")
    elif "\n" in desc or len(desc) > 200:
        problems.append(f"description must be one line of at most 200 characters "
                        f"(got {len(desc)} characters)")
    if cls.source_platform is not None and cls.source_platform not in SOURCE_PLATFORMS:
        problems.append(f"source_platform {cls.source_platform!r} is not a MEGA value "
                        f"({', '.join(SOURCE_PLATFORMS)}); use None when none fits")
    if not isinstance(cls.options, tuple):
        problems.append("options must be a tuple of leadbridge.Option")
    names = [getattr(o, "name", None) for o in cls.options]
    for dup in sorted({n for n in names if names.count(n) > 1}, key=str):
        problems.append(f"option {dup!r} is declared twice")
    for opt in cls.options:
        problems.extend(_option_problems(opt))
    if cls.positional is not None and cls.positional not in names:
        problems.append(f"positional {cls.positional!r} is not a declared option")
    _fail("metadata", problems)


def _option_problems(opt: Any) -> list[str]:
    if not isinstance(opt, Option):
        return [f"{opt!r} is not a leadbridge.Option"]
    where = f"option {opt.name!r}"
    out: list[str] = []
    if not NAME_RE.match(opt.name or ""):
        out.append(f"{where}: name must be lower-case letters, digits and _")
    if opt.type not in OPTION_TYPES:
        out.append(f"{where}: type {opt.type!r} is not one of {', '.join(sorted(OPTION_TYPES))}")
        return out
    if not opt.help.strip():
        out.append(f"{where}: help is empty (`leadbridge connectors NAME` shows it)")
    if opt.type == "choice" and not opt.choices:
        out.append(f"{where}: a choice option needs choices")
    if opt.secret:
        if not opt.env:
            out.append(f"{where}: a secret needs an env variable (secrets come from the "
                       "environment, never from job files)")
        if opt.default is not None:
            out.append(f"{where}: a secret must not have a default")
    elif opt.default is not None:
        try:
            opt.convert(opt.default)
        except ValueError as exc:
            out.append(f"{where}: default {opt.default!r} is invalid: {exc}")
    if opt.required and opt.default is not None:
        out.append(f"{where}: required and has a default; choose one")
    return out


def check_registered(cls: type[Connector]) -> None:
    """The connector is reachable through the ``leadbridge`` entry-point group."""
    import warnings

    from ..plugins import load_registry

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registry = load_registry()
    info = registry.connectors.get(cls.name)
    if info is None:
        failures = "; ".join(f"{k}: {v}" for k, v in sorted(registry.failures.items()))
        _fail("registered", [f"no connector {cls.name!r} among the installed plugins "
                             f"({', '.join(sorted(registry.connectors)) or 'none'}); "
                             "declare your module under [project.entry-points.leadbridge] and "
                             "reinstall" + (f" (plugin failures: {failures})" if failures else "")])
    elif info.cls is not cls:
        _fail("registered", [f"{cls.name!r} is registered by plugin {info.plugin!r} as "
                             f"{info.cls.__module__}.{info.cls.__qualname__}, not "
                             f"{cls.__module__}.{cls.__qualname__}"])


# -- options -------------------------------------------------------------------------------

def check_options_valid(cls: type[Connector], source: ConformanceSource) -> None:
    """The source's options build the connector, also when typed values come as CLI text."""
    with isolated_env(cls, source.env):
        conn = build(cls, source)
        missing = [o.name for o in cls.options if o.name not in conn.config]
        _fail("options valid", [f"config lacks declared option {n!r}" for n in missing])
        typed = {o.name: o for o in cls.options if o.type in ("int", "float", "bool")}
        as_text = {k: (str(v).lower() if isinstance(v, bool) else str(v))
                   if k in typed and isinstance(v, (int, float, bool)) else v
                   for k, v in source.options.items()}
        again = build(cls, source, as_text)
    diff = [f"option {k!r}: {conn.config[k]!r} given typed but {again.config[k]!r} from text"
            for k in typed if conn.config.get(k) != again.config.get(k)]
    _fail("options valid", diff)


def _bad_value(opt: Option) -> str | None:
    if opt.type in ("int", "float", "bool"):
        return f"not-a-{opt.type}"
    if opt.type == "choice":
        return "leadbridge-conformance-not-a-choice"
    return None


def check_options_all_problems_at_once(cls: type[Connector], source: ConformanceSource) -> None:
    """Missing required options, wrong types and an unknown option: ONE OptionsError naming all."""
    given = {k: v for k, v in source.options.items()
             if not any(o.name == k and o.required for o in cls.options)}
    expected = [o.name for o in cls.options if o.required]
    for opt in cls.options:
        bad = _bad_value(opt)
        if bad is not None and not opt.required:
            given[opt.name] = bad
            expected.append(opt.name)
    given[UNKNOWN_OPTION] = "x"
    expected.append(UNKNOWN_OPTION)
    with isolated_env(cls, {}):
        try:
            build(cls, source, given)
        except OptionsError as exc:
            text = str(exc)
            problems = [f"the message does not name option {n!r}" for n in expected
                        if repr(n) not in text and n not in text]
            if len(exc.problems) < len(expected):
                problems.append(f"{len(expected)} problems given, {len(exc.problems)} "
                                f"reported: validate every option before raising")
            if cls.name and cls.name not in text:
                problems.append(f"the message does not name the connector {cls.name!r}")
            _fail("options: every problem at once", [*problems, f"message was: {text!r}"]
                  if problems else [])
            return
        except Exception as exc:  # noqa: BLE001 - any other error is the failure itself
            _fail("options: every problem at once",
                  [f"raised {type(exc).__name__}: {exc} instead of one OptionsError "
                   "(call super().__init__(**given) before your own checks)"])
    _fail("options: every problem at once",
          [f"no error for options {sorted(given)!r}; expected OptionsError naming "
           f"{', '.join(expected)}"])


def check_options_missing_required(cls: type[Connector]) -> None:
    """No options and no environment: an OptionsError naming each required option, or —
    when nothing is required — either a working connector or a clear LeadbridgeError."""
    required = [o.name for o in cls.options if o.required]
    with isolated_env(cls, {}):
        try:
            cls()
        except OptionsError as exc:
            missing = [n for n in required if repr(n) not in str(exc)]
            _fail("options: missing required", [f"{str(exc)!r} does not name required option "
                                                f"{n!r}" for n in missing])
            return
        except LeadbridgeError:
            if required:
                _fail("options: missing required",
                      [f"expected OptionsError naming {', '.join(required)}"])
            return
        except Exception as exc:  # noqa: BLE001
            _fail("options: missing required",
                  [f"raised {type(exc).__name__}: {exc}; a missing option must be a "
                   "LeadbridgeError (OptionsError) with a message, never a traceback"])
    if required:
        _fail("options: missing required",
              [f"built without required option(s) {', '.join(required)}"])


# -- secrets -------------------------------------------------------------------------------

def check_secrets_from_env(cls: type[Connector], source: ConformanceSource) -> None:
    """A secret left out of the options is read from its environment variable."""
    problems = []
    for opt in cls.options:
        if not (opt.secret and opt.env and opt.name in source.options):
            continue
        value = source.options[opt.name]
        text = value.reveal() if hasattr(value, "reveal") else str(value)
        options = {k: v for k, v in source.options.items() if k != opt.name}
        with isolated_env(cls, {**source.env, opt.env: text}):
            conn = build(cls, source, options)
        got = conn.config.get(opt.name)
        if not (hasattr(got, "reveal") and got.reveal() == text):
            problems.append(f"option {opt.name!r} not read from {opt.env} (got {got!r})")
    _fail("secrets from environment", problems)


def _leaks(texts: Iterable[str], secrets: list[str]) -> list[str]:
    return [f"secret {s[:2]}*** appears in {label}" for label in texts for s in secrets
            if s in label]


def check_secrets_not_shown(cls: type[Connector], source: ConformanceSource) -> None:
    """Secrets never appear in repr/str of the connector, its config or an OptionsError."""
    secrets = secret_values(cls, source.options, source.env)
    problems = []
    with isolated_env(cls, source.env):
        conn = build(cls, source)
        for label, text in (("repr(connector)", repr(conn)), ("str(connector)", str(conn)),
                            ("repr(connector.config)", repr(conn.config))):
            problems += [f"secret {s[:2]}*** appears in {label}" for s in secrets if s in text]
        try:
            build(cls, source, {**source.options, UNKNOWN_OPTION: "x"})
        except Exception as exc:  # noqa: BLE001
            text = "".join(traceback.format_exception(exc))
            problems += [f"secret {s[:2]}*** appears in the {type(exc).__name__} for a bad "
                         "option" for s in secrets if s in text]
    _fail("secrets not shown", problems)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(f"{record.name}: {record.getMessage()}")
        except Exception:  # noqa: BLE001 - a bad log call is not this check's business
            self.lines.append(f"{record.name}: {record.msg!r} {record.args!r}")


def check_secrets_not_logged(cls: type[Connector], source: ConformanceSource) -> None:
    """A full read logged at DEBUG (every logger, httpx's included) shows no secret."""
    secrets = secret_values(cls, source.options, source.env)
    root = logging.getLogger()
    handler, level = _Capture(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with isolated_env(cls, source.env):
            read_items(build(cls, source))
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    _fail("secrets not logged", [f"secret {s[:2]}*** appears in the log line "
                                 f"{line.replace(s, '***')[:160]!r}"
                                 for line in handler.lines for s in secrets if s in line])


def check_secrets_not_in_errors(cls: type[Connector], source: ConformanceSource) -> None:
    """A source that refuses us gives a LeadbridgeError without secrets (needs
    ``refused_options``)."""
    assert source.refused_options is not None
    secrets = secret_values(cls, source.refused_options, source.env) + \
        secret_values(cls, source.options, source.env)
    with isolated_env(cls, source.env):
        try:
            items = read_items(build(cls, source, source.refused_options))
        except LeadbridgeError as exc:
            text = "".join(traceback.format_exception(exc))
            _fail("secrets not in errors", [f"secret {s[:2]}*** appears in the "
                                            f"{type(exc).__name__} or its traceback"
                                            for s in secrets if s in text])
            return
        except Exception as exc:  # noqa: BLE001
            _fail("secrets not in errors",
                  [f"a refused read raised {type(exc).__name__}, not a LeadbridgeError: the "
                   "user would see a traceback (raise leadbridge.SourceError with a message)"])
    _fail("secrets not in errors", [f"reading with refused_options yielded {len(items)} "
                                    "item(s) instead of raising"])


# -- records -------------------------------------------------------------------------------

def _time_problem(value: str) -> str | None:
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return "is not ISO-8601 text"
    if dt.tzinfo is None:
        return "has no UTC offset (write ...Z or ...+00:00; a naive time is ambiguous)"
    return None


def _dict_problems(rec: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for key in rec:
        if key not in CANONICAL_FIELDS:
            out.append(f"key {key!r} is not a canonical field and would be dropped at staging; "
                       "put it in custom_fields")
    sid = rec.get("source_id")
    if not isinstance(sid, str) or not sid.strip():
        out.append(f"source_id must be non-empty text, got {sid!r}")
    for name in TEXT_FIELDS:
        value = rec.get(name)
        if value is not None and not isinstance(value, str):
            out.append(f"{name} must be text or None, got {type(value).__name__} {value!r}")
    for name in LIST_FIELDS:
        value = rec.get(name)
        if value is not None and not (isinstance(value, (list, tuple))
                                      and all(isinstance(v, str) for v in value)):
            out.append(f"{name} must be a list of text or None, got {value!r}")
    deleted = rec.get("deleted")
    if deleted is not None and not isinstance(deleted, bool):
        out.append(f"deleted must be True, False or None, got {deleted!r}")
    out += _custom_problems(rec.get("custom_fields"))
    return out


def _custom_problems(custom: Any) -> list[str]:
    if custom is None:
        return []
    if isinstance(custom, str):
        try:
            custom = json.loads(custom)
        except ValueError:
            return ["custom_fields text is not JSON"]
    if not isinstance(custom, Mapping):
        return [f"custom_fields must be a dict (or JSON object text), got {type(custom).__name__}"]
    out = [f"custom_fields key {k!r} must be non-empty text" for k in custom
           if not isinstance(k, str) or not k]
    try:
        json.dumps(custom, allow_nan=False)
    except (TypeError, ValueError) as exc:
        out.append(f"custom_fields is not JSON-serializable: {exc}")
    return out


def _row_problems(row: Mapping[str, Any]) -> list[str]:
    """Checks on the staged form (after to_batches), whatever the connector yielded."""
    out = []
    for name in TIME_FIELDS:
        if row.get(name) is not None:
            why = _time_problem(row[name])
            if why:
                out.append(f"{name} {row[name]!r} {why}")
    sp = row.get("source_platform")
    if sp is not None and sp not in SOURCE_PLATFORMS:
        out.append(f"source_platform {sp!r} is not a MEGA value ({', '.join(SOURCE_PLATFORMS)})")
    return out


def _label(rec: Any, index: int) -> str:
    sid = rec.get("source_id") if isinstance(rec, Mapping) else None
    return f"record #{index}" + (f" (source_id {sid!r})" if sid is not None else "")


def check_records_shape(cls: type[Connector], source: ConformanceSource) -> None:
    """Every item is a canonical dict or a RecordBatch the host can conform; at least one."""
    with isolated_env(cls, source.env):
        items = read_items(build(cls, source))
    problems: list[str] = []
    staged = 0
    for i, item in enumerate(items):
        if isinstance(item, pa.RecordBatch):
            unknown = [n for n in item.schema.names if n not in CANONICAL_FIELDS]
            problems += [f"batch #{i}: column {n!r} is not a canonical field and would be "
                         "dropped; put it in custom_fields (JSON text)" for n in unknown]
            try:
                rows = conform_batch(item).to_pylist()
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                problems.append(f"batch #{i}: cannot be cast to the canonical schema: {exc}")
                continue
            for j, row in enumerate(rows):
                sid = row.get("source_id")
                if not sid or not str(sid).strip():
                    problems.append(f"batch #{i} row {j}: source_id is empty")
                problems += [f"batch #{i} row {j}: {p}" for p in
                             _custom_problems(row.get("custom_fields")) + _row_problems(row)]
            staged += len(rows)
        elif isinstance(item, Mapping):
            problems += [f"{_label(item, i)}: {p}" for p in _dict_problems(item)]
            staged += 1
        else:
            problems.append(f"item #{i} is a {type(item).__name__}; yield dicts or "
                            "pyarrow.RecordBatch")
    if not problems:
        for i, row in enumerate(canonical_rows(items)):
            problems += [f"{_label(row, i)}: {p}" for p in _row_problems(row)]
    if staged == 0 and not problems:
        problems.append("the source yielded no record; give the conformance source at least "
                        "one so the checks mean something")
    _fail("records have the canonical shape", problems)


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["source_id"] for r in rows]


def check_source_ids_unique(cls: type[Connector], source: ConformanceSource) -> None:
    """No source_id twice in one read (a second copy would silently replace the first)."""
    with isolated_env(cls, source.env):
        ids = _ids(read_rows(build(cls, source)))
    dups = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    _fail("source_ids unique", [f"source_id {d!r} yielded {ids.count(d)} times" for d in dups])


def check_source_ids_stable(cls: type[Connector], source: ConformanceSource) -> None:
    """Two full reads of an unchanged source give the same ids with the same content."""
    with isolated_env(cls, source.env):
        first = read_rows(build(cls, source))
        second = read_rows(build(cls, source))
    a = {r["source_id"]: r for r in first}
    b = {r["source_id"]: r for r in second}
    problems = [f"source_id {i!r} only in the first read" for i in sorted(set(a) - set(b))]
    problems += [f"source_id {i!r} only in the second read" for i in sorted(set(b) - set(a))]
    for sid in sorted(set(a) & set(b)):
        diff = sorted(k for k in a[sid] if a[sid][k] != b[sid].get(k))
        if diff:
            problems.append(f"source_id {sid!r} changed between reads in {', '.join(diff)} "
                            "(records of an unchanged source must be deterministic)")
    _fail("source_ids stable", problems)


# -- incremental state ---------------------------------------------------------------------

def _json_state(state: Any, when: str) -> dict[str, Any]:
    try:
        text = json.dumps(state, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        _fail("state round-trips", [f"state after {when} is not JSON-serializable "
                                    f"({exc}); the host stores it as JSON"])
    again = json.loads(text)
    if again != state:
        _fail("state round-trips", [f"state after {when} changes through JSON ({state!r} -> "
                                    f"{again!r}); use only dicts, lists, text, numbers, bools"])
    if not isinstance(again, dict):
        _fail("state round-trips", [f"state must stay a dict, got {type(again).__name__}"])
    return again


def check_state_json(cls: type[Connector], source: ConformanceSource) -> None:
    """The state a full read leaves is plain JSON (the workspace stores it as JSON)."""
    state: dict[str, Any] = {}
    with isolated_env(cls, source.env):
        read_items(build(cls, source), state)
    _json_state(state, "a full read")


def check_incremental_unchanged(cls: type[Connector], source: ConformanceSource) -> None:
    """A second run with the saved (JSON round-tripped) state and no change yields nothing."""
    state: dict[str, Any] = {}
    with isolated_env(cls, source.env):
        read_items(build(cls, source), state)
        if not state:
            _fail("incremental: unchanged", ["a full read left the state empty: save a cursor "
                                             "in state, or declare the connector not "
                                             "incremental"])
        again = read_rows(build(cls, source), _json_state(state, "a full read"))
    _fail("incremental: unchanged", [f"yielded source_id {i!r} again though nothing changed"
                                     for i in _ids(again)])


def check_incremental_changed(cls: type[Connector], source: ConformanceSource) -> None:
    """After ``source.change()``, a run with the saved state yields exactly the changed ids."""
    if source.change is None:
        _fail("incremental: only changes", ["the ConformanceSource has no change(); give one, "
                                            "or declare the connector not incremental"])
    state: dict[str, Any] = {}
    with isolated_env(cls, source.env):
        read_items(build(cls, source), state)
        saved = _json_state(state, "a full read")
        expected = {str(i) for i in source.change()}  # type: ignore[misc]
        rows = read_rows(build(cls, source), saved)
        _json_state(saved, "an incremental read")
    got = _ids(rows)
    problems = [f"missed changed source_id {i!r}" for i in sorted(expected - set(got))]
    problems += [f"yielded unchanged source_id {i!r}" for i in sorted(set(got) - expected)]
    _fail("incremental: only changes", problems)
