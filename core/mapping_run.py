"""The mapping's part in one plan or sync: apply on the stream, check before sending, report.

Why a module of its own: ``pipeline.api`` only calls ``prepare`` and three methods, so the
pipeline stays readable and the mapping rules stay in the ``mapping_*`` modules.

Stage and owner mapping has one owner: with ``[mapping.stages]`` (or ``[mapping.owners]``)
the mapping decides the final slug (or owner id) and the engine passes it through unchanged;
giving the engine's ``stage_map``/``owner_map`` as well is refused as ambiguous. Without a
``[mapping.stages]`` section the engine's own rules apply (its ``stage_map``, else slugify).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping as AbcMapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .mapping_apply import apply_mapping
from .mapping_model import DROP, Mapping
from .mapping_report import MappingReport
from .mapping_validate import MegaKnown, Validation, known_from_snapshot, validate


_FINGERPRINT = "mapping_fingerprint:"


@dataclass
class MappingRun:
    """One run's mapping (None: the run has no ``[mapping]``), its report and its checks."""

    mapping: Mapping | None
    send_anyway: bool = False
    #: ask MEGA (one dry_run bulk request) about the kinds no list describes
    probe: bool = False
    report: MappingReport = field(default_factory=MappingReport)
    validation: Validation | None = None

    reread: bool = False

    # -- before extraction -----------------------------------------------------------------
    def fingerprint(self) -> str:
        """Identifies the mapping ("" for none): staged records were mapped by it."""
        if self.mapping is None:
            return ""
        text = json.dumps(dataclasses.asdict(self.mapping), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def cursor_state(self, con: Any, label: str, state: dict[str, Any]) -> dict[str, Any]:
        """The connector cursor to start from: none when the mapping changed since the records
        of ``label`` were staged, so every record is read and mapped again (an incremental
        read would leave unchanged records staged with the old mapping)."""
        from .pipeline import ledger

        stored = ledger.get_meta(con, _FINGERPRINT + label) or ""
        if state and stored != self.fingerprint():
            self.reread = True
            return {}
        return state

    def save_fingerprint(self, con: Any, label: str) -> None:
        """Remember which mapping the staged records of ``label`` went through."""
        from .pipeline import ledger

        if self.mapping is None and ledger.get_meta(con, _FINGERPRINT + label) is None:
            return  # never mapped: nothing to remember
        ledger.set_meta(con, _FINGERPRINT + label, self.fingerprint())

    def wrap(self, items: Iterable[Any]) -> Iterable[Any]:
        """The connector's stream with the mapping applied (unchanged without a mapping)."""
        if self.mapping is None:
            return items
        self.report = MappingReport()
        return apply_mapping(items, self.mapping, report=self.report)

    def engine_options(self, options: Any) -> Any:
        """Engine options in which mapped stages and owners pass through unchanged."""
        if self.mapping is None:
            return options
        from .engine import EngineOptions

        options = options if options is not None else EngineOptions()
        changes: dict[str, Any] = {}
        for vm, name in ((self.mapping.stages, "stage_map"), (self.mapping.owners, "owner_map")):
            if not vm.given:
                continue
            if getattr(options, name) is not None:
                raise ConfigError(
                    f"both [mapping.{vm.section}] and the engine's {name} map "
                    f"{vm.column}s: keep [mapping.{vm.section}] (it has policies, a report "
                    f"and validation) and remove {name} from [engine]")
            targets = {v for v in vm.values.values() if v != DROP}
            if vm.default:
                targets.add(vm.default)
            changes[name] = {t: t for t in sorted(targets)}
        return dataclasses.replace(options, **changes) if changes else options

    # -- after planning ----------------------------------------------------------------------
    def check(self, con: Any, customer_id: str, rows: Iterable[AbcMapping[str, Any]],
              known: MegaKnown, client: Any = None) -> Validation | None:
        """Validate what would be sent; stop (ConfigError, exit 2) on a problem unless
        ``send_anyway``. Without a mapping nothing is checked here (the planner still
        predicts the rows MEGA would fail). With ``probe`` and a client, the stage slugs,
        owner ids and custom-field slugs of kinds no list describes are asked of MEGA."""
        if self.mapping is None:
            return None
        rows = list(rows)
        if self.probe and client is not None:
            known = _probed(client, rows, known)
        known = known.extended(known_from_snapshot(con, customer_id))
        self.validation = validate(rows, known)
        _name_examples(con, self.validation)
        if not self.validation.ok and not self.send_anyway:
            lines = "\n".join(f"  {line}" for line in self.validation.lines())
            raise ConfigError(
                "nothing was sent: the run would send values MEGA does not know:\n"
                f"{lines}\nfix [mapping] in the job file (or list the missing values under "
                "[target]), or send regardless with --send-anyway ([policies] send_anyway = true)")
        return self.validation

    def summary(self) -> dict[str, Any] | None:
        if self.mapping is None:
            return None
        out = self.report.as_dict()
        out["lines"] = self.report.lines()
        out["reread"] = self.reread  # the mapping changed: every record read again
        if self.validation is not None:
            out["validation"] = self.validation.as_dict()
        return out


def _probed(client: Any, rows: list[AbcMapping[str, Any]], known: MegaKnown) -> MegaKnown:
    """``known`` completed by a dry_run probe of every distinct value the rows carry, for
    each kind nothing else describes (every candidate is asked, so the answer is complete
    for this run)."""
    from .mapping_validate import probe

    def distinct(kind: str) -> set[str]:
        return {str(r[kind]) for r in rows if r.get(kind)}

    stages = distinct("stage_slug") if known.stages is None else set()
    owners = distinct("owner_id") if known.owners is None else set()
    slugs = ({str(k) for r in rows for k in (r.get("custom_fields") or {})}
             if known.custom_fields is None else set())
    answer = probe(client, stages=stages, owners=owners, custom_fields=slugs).known
    return MegaKnown(
        known.stages if known.stages is not None else answer.stages,
        known.owners if known.owners is not None else answer.owners,
        known.custom_fields if known.custom_fields is not None else answer.custom_fields,
        {**answer.origin, **known.origin})


def _name_examples(con: Any, validation: Validation) -> None:
    """Show examples as the source record a user can find (``source:source_id``)."""
    refs = sorted({e for p in validation.problems for e in p.examples})
    if not refs:
        return
    try:
        names = dict(con.execute(
            "SELECT row_ref, first_source || ':' || first_source_id FROM golden "
            "WHERE row_ref IN (SELECT unnest(?::VARCHAR[]))", [refs]).fetchall())
    except Exception:  # noqa: BLE001 - an example label is never worth failing the run
        return
    for p in validation.problems:
        p.examples = [names.get(e, e) for e in p.examples]


def prepare(mapping: Mapping | AbcMapping[str, Any] | None, *,
            send_anyway: bool = False, probe: bool = False) -> MappingRun:
    """A MappingRun from a parsed Mapping or a raw ``[mapping]`` dict (validated here)."""
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = Mapping.from_dict(mapping)
    return MappingRun(mapping, send_anyway, probe)


def known_of(stages: Collection[str] | None, owners: Collection[str] | None,
             custom_fields: Collection[str] | None, sandbox: Any = None) -> MegaKnown:
    """What a run knows of MEGA's side: its lists, plus the sandbox's own configuration."""
    known = MegaKnown.of(stages or None, owners or None, custom_fields or None,
                         origin="[target]")
    if sandbox:
        config = getattr(sandbox, "config", None)
        if config is None:
            from .sandbox import SandboxConfig

            overrides = dict(sandbox) if isinstance(sandbox, AbcMapping) else {}
            config = SandboxConfig(**{k: v for k, v in overrides.items()
                                      if k in ("stages", "owners", "custom_fields")})
        box = MegaKnown.of(config.stages, config.owners, config.defined_custom_fields,
                           origin="sandbox")
        known = MegaKnown(  # what the job lists wins, as in pipeline.target.open_target
            known.stages if known.stages is not None else box.stages,
            known.owners if known.owners is not None else box.owners,
            known.custom_fields if known.custom_fields is not None else box.custom_fields,
            {**box.origin, **known.origin})
    return known
