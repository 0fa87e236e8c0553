"""How many recordings an agent has used this week (R6), counted so that deleting files
gives nothing back.

Threading: plain functions; they read the vault and the audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentapp.core.gate import week_start
from agentapp.vault.audit import AuditError, AuditLog
from agentapp.vault.store import recording_ids_since

SiteIds = Callable[[str, float], set[str]]  # (agent, since) → ids delivered to the site


def used_this_week(
    recordings: Path, audit: AuditLog, agent: str, today: dt.date, site_ids: SiteIds | None
) -> int:
    """The agent's recordings this week: those on this desk, those at the site (recorded on
    any desk), and those this desk's trail says it started — so deleting local stubs gives
    nothing back. Recordings erased because the caller objected, or not kept, do not count.
    Bound left: desks offline from the site at once each count only their own (the site hub's
    hub counts exactly)."""
    monday = dt.datetime.combine(week_start(today), dt.time()).timestamp()
    ids = recording_ids_since(recordings, agent, monday)
    if site_ids is not None:
        ids |= site_ids(agent, monday)
    started, dropped = set(), set()
    try:
        entries = audit.entries()
    except AuditError:
        entries = []
    for e in entries:
        if e.get("who") != agent or not isinstance(e.get("target"), str):
            continue
        if e.get("action") in ("recording discarded", "recording not kept"):
            dropped.add(e["target"])
        elif e.get("action") == "recording started" and _at(e) >= monday:
            started.add(e["target"])
    return len((ids | started) - dropped)


def _at(entry: dict[str, Any]) -> float:
    try:
        return dt.datetime.fromisoformat(str(entry.get("at"))).timestamp()
    except ValueError:
        return float("-inf")
