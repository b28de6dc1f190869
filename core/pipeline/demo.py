"""What `leadbridge demo` needs besides the pipeline: the bundled sample and a few examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Bundled messy sample (written by benchmarks/make_sample.py; see core/data/README.md).
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample_leads.csv"


def failed_examples(outcomes: list[dict[str, Any]], per_status: int = 2) -> list[dict[str, Any]]:
    """A handful of outcomes worth showing: failures with MEGA's reason first, then the rest."""
    picked: list[dict[str, Any]] = []
    for status in ("failed", "rejected", "updated", "created", "skipped"):
        picked.extend([o for o in outcomes if o["status"] == status][:per_status])
    return picked
