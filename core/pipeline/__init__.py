"""The sync pipeline: extract -> stage -> build -> plan -> chunk -> push -> ledger -> report.

``sync`` and ``plan`` are the Python API behind ``leadbridge sync`` and ``leadbridge plan``;
the ledger tables live in the workspace next to the engine's (see ``ledger``).
"""

from __future__ import annotations

from .api import PlanResult, SyncResult, plan, pull_snapshot, sync
from .job import Job
from .job import load as load_job
from .planner import Known
from .push import RunStopped

__all__ = sorted([
    "Job",
    "Known",
    "PlanResult",
    "RunStopped",
    "SyncResult",
    "load_job",
    "plan",
    "pull_snapshot",
    "sync",
])
