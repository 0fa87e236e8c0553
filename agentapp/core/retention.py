"""Purge deadlines (docs/rules.md R9). Pure; thread-safe.

A recording's deadline is fixed when it is created (the policy's retention then). A later
policy may *shorten* it — the new limit applies to what is already kept — but never lengthen
it: an agent was told how long at the time.
"""

from __future__ import annotations

import datetime as dt
import re

DAY = 86400.0
_ID_TIME = re.compile(r"^(\d{8}T\d{6}Z)-")


def deadline(created_at: float, stored_deadline: float | None, days_now: int | None) -> float:
    """When a recording or note must be gone. With nothing stored, today's limit applies."""
    limits = [d for d in (stored_deadline,) if d]
    if days_now is not None:
        limits.append(created_at + days_now * DAY)
    return min(limits) if limits else created_at


def created_from_id(rid: str) -> float | None:
    """Recording ids start with their UTC start time: the fallback when metadata is damaged."""
    m = _ID_TIME.match(rid)
    if not m:
        return None
    return dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC).timestamp()
