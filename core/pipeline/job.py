"""Job files (TOML): the source and its options, policies and the MEGA target of a sync.

Example::

    [source]
    connector = "csv"            # any registered connector
    label = "crm-export"         # optional: name the records are staged under
    [source.options]
    path = "leads.csv"
    id_column = "Lead ID"

    [policies]
    on_duplicate = "update"      # or "skip"
    mode = "bulk"                # or "live" (single-lead endpoint, triggers automation)
    dry_run = false
    retry_failed = false

    [engine]                     # leadbridge.engine.EngineOptions fields
    household = "merge"
    stage_map = { "Hot Lead" = "qualified" }

    [target]
    base_url = "https://app.gomega.ai"   # else MEGA_BASE_URL
    stages = ["new", "contacted"]        # optional: known pipeline, for predictions
    owners = ["5f0c6d8e-..."]            # optional: known team member ids
    custom_fields = ["budget"]           # optional: custom-field slugs MEGA defines
    sandbox = false

    [mapping.stages]             # fields, stages, owners, lead line, defaults, transforms:
    "Hot Lead" = "qualified"     # see docs/mapping.md (leadbridge.mapping_model)

With a ``[mapping]`` table, every stage, owner, enum value and custom-field slug the run
would send is checked against ``[target]`` (and the sandbox) before any request, and the run
stops on a problem unless ``[policies] send_anyway = true``; ``[policies] probe = true``
lets sync ask MEGA (one dry_run request) about the kinds ``[target]`` does not list.

Secrets never go in a job file: ``MEGA_TOKEN`` and connector tokens come from the
environment. A job file holding a key that looks like one is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..mapping_model import Mapping
from ..mapping_model import load_job as read_job_file

_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey")
_SECTIONS = {"source", "policies", "engine", "target", "mapping"}
#: The keys each fixed-shape section takes: a misspelt key (``on_dupliate``) would otherwise
#: be ignored and the run would silently use the default it meant to change.
_KEYS = {
    "source": {"connector", "label", "options"},
    "policies": {"on_duplicate", "mode", "dry_run", "retry_failed", "send_anyway", "probe"},
    "target": {"base_url", "stages", "owners", "custom_fields", "sandbox"},
}


@dataclass(frozen=True)
class Job:
    """A parsed job file; relative paths in source options are relative to the file."""

    connector: str
    options: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    on_duplicate: str = "update"
    mode: str = "bulk"
    dry_run: bool = False
    retry_failed: bool = False
    engine: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    stages: tuple[str, ...] | None = None
    owners: tuple[str, ...] | None = None
    sandbox: bool = False
    custom_fields: tuple[str, ...] | None = None
    #: the ``[mapping]`` table, validated; None when the job file has none
    mapping: Mapping | None = None
    #: ``[policies] send_anyway``: send even when validation finds unknown values
    send_anyway: bool = False
    #: ``[policies] probe``: sync asks MEGA (one dry_run request) about unlisted values
    probe: bool = False


def _check_no_secrets(table: dict[str, Any], where: str) -> None:
    for key, value in table.items():
        if isinstance(value, dict):
            _check_no_secrets(value, f"{where}.{key}")
        elif any(word in key.lower() for word in _SECRET_WORDS):
            raise ConfigError(f"job file {where}: {key!r} looks like a secret; secrets never go "
                              "in a job file: set the connector's environment variable (or "
                              "MEGA_TOKEN) instead")


def load(path: str | Path) -> Job:
    """Read and validate a job file; every problem is a ConfigError naming the file."""
    file = Path(path)
    data = read_job_file(file)  # a missing or malformed file is one ConfigError
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        raise ConfigError(f"job file {str(file)!r}: unknown section(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(_SECTIONS))})")
    # [mapping] holds source field names and values, never credentials
    _check_no_secrets({k: v for k, v in data.items() if k not in ("engine", "mapping")},
                      str(file))
    where = f"job file {str(file)!r}"
    tables = {name: _table(data, name, where) for name in ("source", "policies", "target",
                                                           "engine")}
    for name, keys in _KEYS.items():
        extra = sorted(set(tables[name]) - keys)
        if extra:
            raise ConfigError(f"{where}: unknown key(s) in [{name}]: {', '.join(extra)} "
                              f"(known: {', '.join(sorted(keys))})")
    _check_engine(tables["engine"], where)
    source = tables["source"]
    connector = source.get("connector")
    if not isinstance(connector, str) or not connector:
        raise ConfigError(f"{where}: [source] needs connector = \"NAME\"")
    options = _table(source, "options", where, "source.options")
    for key, value in list(options.items()):  # paths relative to the job file
        if key in ("path", "file") and isinstance(value, str) and not Path(value).is_absolute():
            options[key] = str((file.parent / value))
    policies, target = tables["policies"], tables["target"]
    on_duplicate = policies.get("on_duplicate", "update")
    mode = policies.get("mode", "bulk")
    if on_duplicate not in ("update", "skip"):
        raise ConfigError(f"{where}: on_duplicate must be update or skip")
    if mode not in ("bulk", "live"):
        raise ConfigError(f"{where}: mode must be bulk or live")

    def strings(name: str) -> tuple[str, ...] | None:
        value = target.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: [target] {name} must be a list of strings")
        return tuple(value)

    def flag(table: dict[str, Any], section: str, name: str) -> bool:
        value = table.get(name, False)
        if not isinstance(value, bool):  # bool("false") is True: never guess
            raise ConfigError(f"{where}: [{section}] {name} must be true or false (unquoted), "
                              f"not {value!r}")
        return value

    def text(table: dict[str, Any], section: str, name: str) -> str | None:
        value = table.get(name)
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise ConfigError(f"{where}: [{section}] {name} must be a non-empty string")
        return value

    return Job(
        connector=connector,
        options=options,
        label=text(source, "source", "label"),
        on_duplicate=on_duplicate,
        mode=mode,
        dry_run=flag(policies, "policies", "dry_run"),
        retry_failed=flag(policies, "policies", "retry_failed"),
        engine=tables["engine"],
        base_url=text(target, "target", "base_url"),
        stages=strings("stages"),
        owners=strings("owners"),
        sandbox=flag(target, "target", "sandbox"),
        custom_fields=strings("custom_fields"),
        mapping=_mapping(data, file),
        send_anyway=flag(policies, "policies", "send_anyway"),
        probe=flag(policies, "policies", "probe"),
    )


def _table(data: dict[str, Any], name: str, where: str, shown: str | None = None
           ) -> dict[str, Any]:
    """``data[name]`` as a dict (absent: empty); anything but a TOML table is a ConfigError
    rather than an AttributeError deep in the loader."""
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{shown or name}] must be a table, not a "
                          f"{type(value).__name__}")  # the value itself may be a pasted secret
    return dict(value)


def _check_engine(table: dict[str, Any], where: str) -> None:
    """Unknown ``[engine]`` keys and values of the wrong TOML type, named with the file
    (the engine's own check, run now so the file is refused before anything is read)."""
    from ..engine import EngineOptions

    try:
        EngineOptions.from_table(table)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _mapping(data: dict[str, Any], file: Path) -> Mapping | None:
    if "mapping" not in data:
        return None
    try:
        return Mapping.from_dict(data["mapping"])
    except ConfigError as exc:
        raise ConfigError(f"job file {str(file)!r}: {exc}") from None
