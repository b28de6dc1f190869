"""The offline dedup engine: stage -> normalize -> cluster -> merge -> chunk, on DuckDB."""

from __future__ import annotations

from .build import BuildResult, build
from .chunks import golden_rows, iter_golden_rows, sql_chunks
from .dedupe import OFFLINE_CUSTOMER_ID, DedupeResult, dedupe
from .options import EngineOptions
from .stage import StageStats, stage

__all__ = sorted([
    "OFFLINE_CUSTOMER_ID",
    "BuildResult",
    "DedupeResult",
    "EngineOptions",
    "StageStats",
    "build",
    "dedupe",
    "golden_rows",
    "iter_golden_rows",
    "sql_chunks",
    "stage",
])
