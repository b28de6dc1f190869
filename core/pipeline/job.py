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
    source = data.get("source") or {}
    connector = source.get("connector")
    if not isinstance(connector, str) or not connector:
        raise ConfigError(f"job file {str(file)!r}: [source] needs connector = \"NAME\"")
    options = dict(source.get("options") or {})
    for key, value in list(options.items()):  # paths relative to the job file
        if key in ("path", "file") and isinstance(value, str) and not Path(value).is_absolute():
            options[key] = str((file.parent / value))
    policies = data.get("policies") or {}
    target = data.get("target") or {}
    on_duplicate = policies.get("on_duplicate", "update")
    mode = policies.get("mode", "bulk")
    if on_duplicate not in ("update", "skip"):
        raise ConfigError(f"job file {str(file)!r}: on_duplicate must be update or skip")
    if mode not in ("bulk", "live"):
        raise ConfigError(f"job file {str(file)!r}: mode must be bulk or live")

    def strings(name: str) -> tuple[str, ...] | None:
        value = target.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"job file {str(file)!r}: [target] {name} must be a list of strings")
        return tuple(value)

    return Job(
        connector=connector,
        options=options,
        label=source.get("label"),
        on_duplicate=on_duplicate,
        mode=mode,
        dry_run=bool(policies.get("dry_run", False)),
        retry_failed=bool(policies.get("retry_failed", False)),
        engine=dict(data.get("engine") or {}),
        base_url=target.get("base_url"),
        stages=strings("stages"),
        owners=strings("owners"),
        sandbox=bool(target.get("sandbox", False)),
        custom_fields=strings("custom_fields"),
        mapping=_mapping(data, file),
        send_anyway=bool(policies.get("send_anyway", False)),
        probe=bool(policies.get("probe", False)),
    )


def _mapping(data: dict[str, Any], file: Path) -> Mapping | None:
    if "mapping" not in data:
        return None
    try:
        return Mapping.from_dict(data["mapping"])
    except ConfigError as exc:
        raise ConfigError(f"job file {str(file)!r}: {exc}") from None
