"""Stored leads rendered in MEGA's pull shape (reference section 6), and timestamps."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from .config import SandboxConfig
from .store import Lead

_NAMESPACE = uuid.UUID("6f1d2c1e-7b0a-4d5e-9a51-1ea0b5d5a001")
_COLORS = ("#3b82f6", "#f59e0b", "#8b5cf6", "#06b6d4", "#22c55e", "#ef4444")


def iso(ms: int | None) -> str | None:
    """Epoch milliseconds as MEGA writes them: UTC, milliseconds, ``Z``."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_instant(value: str) -> int:
    """An ISO-8601 instant as epoch ms (naive means UTC); ValueError when unparseable."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def stage_id(slug: str) -> str:
    """A stable uuid per stage slug (MEGA stages have ids; the sandbox derives them)."""
    return str(uuid.uuid5(_NAMESPACE, "stage:" + slug))


def stage_object(slug: str | None, config: SandboxConfig) -> dict[str, Any] | None:
    if not slug:
        return None
    index = config.stages.index(slug) if slug in config.stages else 0
    return {"id": stage_id(slug), "slug": slug, "name": slug.replace("_", " ").title(),
            "color": _COLORS[index % len(_COLORS)]}


def owner_object(owner_id: str | None, config: SandboxConfig) -> dict[str, Any] | None:
    if not owner_id:
        return None
    index = config.owners.index(owner_id) if owner_id in config.owners else 0
    return {"id": owner_id, "name": f"Team member {index + 1}",
            "role_name": "Closer" if index == 0 else None}


def render_lead(lead: Lead, config: SandboxConfig, custom_fields: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": lead["id"],
        "customer_id": lead["customer_id"],
        "contact_name": lead.get("contact_name"),
        "contact_phone": lead.get("contact_phone"),
        "contact_email": lead.get("contact_email"),
        "source_platform": lead["source_platform"],
        "source_type": lead["source_type"],
        "status": lead["status"],
        "score": lead.get("score"),
        "qualified": lead.get("qualified"),
        "current_stage": stage_object(lead.get("stage_slug"), config),
        "owner": owner_object(lead.get("owner_id"), config),
        "last_interaction_at": iso(lead.get("last_interaction_ms")),
        "interaction_count": lead.get("interaction_count", 0),
        "created_at": iso(lead["created_ms"]),
        "updated_at": iso(lead["updated_ms"]),
    }
    if custom_fields:
        out["custom_fields"] = dict(lead.get("custom_fields") or {})
    return out
