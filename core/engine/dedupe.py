"""``leadbridge.dedupe``: read a connector, build, and write the plan's files to a folder.

Files written: golden.parquet, lineage.parquet, conflicts.parquet, placeholders.parquet and
chunks.jsonl (one ``{"idempotency_key": ..., "body": {...}}`` line per chunk, the body
exactly as it would be POSTed).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..connector import Connector
from ..errors import ConfigError
from ..mega_model import is_uuid
from ..workspace import Workspace
from .build import PARQUET_COMPRESSION, BuildResult, build
from .chunks import sql_chunks
from .options import EngineOptions
from .stage import StageStats, stage

#: Customer id used for idempotency keys when none is given (offline planning). Keys made
#: with it differ from the real ones, so such chunks.jsonl must be regenerated with
#: --customer-id (or MEGA_CUSTOMER_ID) before they are sent.
OFFLINE_CUSTOMER_ID = "00000000-0000-0000-0000-000000000000"

#: DuckDB's own default is 80% of RAM; a fixed cap keeps a dedupe predictable on a shared
#: machine (DuckDB spills to the temp folder beyond it). Pass memory_limit=None to lift it.
DEFAULT_MEMORY_LIMIT = "2GB"

GOLDEN_COLUMNS = ("row_ref, contact_name, contact_email, contact_phone, source_platform, "
                  "source_type, stage_slug, owner_id, lead_line, custom_fields, email_key, "
                  "phone_key, records, content_hash")


@dataclass(frozen=True)
class DedupeResult:
    """What ``dedupe`` did and where it wrote it."""

    stage: StageStats
    build: BuildResult
    chunks: int
    out_dir: Path
    customer_id: str
    files: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """The counts the CLI prints."""
        b = self.build
        return {
            "records": b.records, "rejected": b.rejected, "deleted": b.deleted,
            "distinct_email_keys": b.distinct_email_keys,
            "distinct_phone_keys": b.distinct_phone_keys, "clusters": b.clusters,
            "largest_cluster": b.largest_cluster, "conflicts": b.conflicts,
            "placeholder_keys": b.placeholder_keys, "invalid_emails": b.invalid_emails,
            "short_phones": b.short_phones, "chunks": self.chunks,
        }


def resolve_customer_id(customer_id: str | None) -> str:
    """--customer-id, else MEGA_CUSTOMER_ID, else the offline placeholder.

    Checked to be a UUID (MEGA's customer id form) before anything is read: the idempotency
    keys hash it, and keys made with a mistyped id would match no real customer's.
    """
    value = (customer_id or os.environ.get("MEGA_CUSTOMER_ID") or OFFLINE_CUSTOMER_ID).strip()
    if not is_uuid(value):
        where = "--customer-id" if customer_id else "MEGA_CUSTOMER_ID"
        raise ConfigError(f"{where} must be a UUID like 123e4567-e89b-12d3-a456-426614174000 "
                          "(MEGA's customer id)")
    return value


def write_outputs(ws: Workspace, out_dir: Path, customer_id: str, *,
                  lineage_written: bool = False) -> tuple[dict[str, Path], int]:
    """Write the four parquet files and chunks.jsonl; return (files, chunk count).

    ``lineage_written``: build already wrote lineage.parquet (there is no lineage table).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    con = ws.con
    queries = {
        # row order is not significant in the parquet files (sorting millions of wide rows
        # costs seconds): golden carries sort_key, chunks.jsonl is in the deterministic order
        "golden": f"SELECT {GOLDEN_COLUMNS}, sort_key FROM golden",
        "lineage": "SELECT * FROM lineage",
        "conflicts": "SELECT * FROM conflicts ORDER BY row_ref, kind",
        "placeholders": "SELECT * FROM placeholders ORDER BY kind, records DESC, key",
    }
    files: dict[str, Path] = {}
    for name, query in queries.items():
        path = out_dir / f"{name}.parquet"
        files[name] = path
        if name == "lineage" and lineage_written:
            continue
        con.execute(f"COPY ({query}) TO $path (FORMAT parquet, COMPRESSION {PARQUET_COMPRESSION})",
                    {"path": str(path)})
    chunks_path = out_dir / "chunks.jsonl"
    count = 0
    tmp = chunks_path.with_suffix(".jsonl.tmp")
    with open(tmp, "wb") as fh:
        for chunk in sql_chunks(ws, customer_id, with_refs=False):
            fh.write(b'{"idempotency_key":"' + chunk.idempotency_key.encode() + b'","body":')
            fh.write(chunk.body)
            fh.write(b"}\n")
            count += 1
    os.replace(tmp, chunks_path)
    files["chunks"] = chunks_path
    return files, count


def dedupe(
    connector: Connector,
    out_dir: str | os.PathLike[str],
    *,
    workspace: str | os.PathLike[str] | None = None,
    options: EngineOptions | None = None,
    customer_id: str | None = None,
    source: str | None = None,
    threads: int | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
) -> DedupeResult:
    """Stage ``connector``'s records, build, and write the plan's files to ``out_dir``.

    ``workspace`` None works in memory (spilling to a temp folder when needed).
    """
    if not isinstance(connector, Connector):
        raise ConfigError(f"dedupe() needs a Connector instance, got {type(connector).__name__}")
    start = time.perf_counter()
    customer = resolve_customer_id(customer_id)
    out = Path(out_dir)
    with Workspace.open(workspace, threads=threads, memory_limit=memory_limit) as ws:
        ws.con.execute("SET preserve_insertion_order = false")
        staged = stage(ws, source or connector.name, connector.records({}))
        # in memory nothing else reads the workspace: build may free as it goes, and writes
        # the lineage straight to its file (no table nobody reads)
        scratch = workspace is None
        if scratch:
            out.mkdir(parents=True, exist_ok=True)
        result = build(ws, options, scratch=scratch,
                       lineage_path=out / "lineage.parquet" if scratch else None)
        files, count = write_outputs(ws, out, customer, lineage_written=scratch)
    return DedupeResult(stage=staged, build=result, chunks=count, out_dir=out,
                        customer_id=customer, files=files,
                        seconds=time.perf_counter() - start)
