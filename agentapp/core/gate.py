"""The gate: may this call of this agent be recorded? Pure function of its inputs.

Every refusal carries a reason a person can read; the tray and the log show it.
"""

from __future__ import annotations

import datetime as dt
import enum
import random
from dataclasses import dataclass

from agentapp.core.policy import Policy


class SkipReason(enum.Enum):
    NOT_ENROLLED = "not enrolled in any training"
    ENROLMENT_NOT_STARTED = "enrolment has not started yet"
    ENROLMENT_EXPIRED = "enrolment has ended"
    NOTICE_NOT_ACKNOWLEDGED = "the information notice has not been acknowledged yet"
    INTERNAL_CALL = "internal calls are not recorded"
    QUOTA_REACHED = "weekly quota of recordings reached"
    NOT_SAMPLED = "not selected by random sampling for this call"


@dataclass(frozen=True, slots=True)
class Decision:
    record: bool
    reason: SkipReason | None = None
    training: str | None = None

    def __str__(self) -> str:
        if self.record:
            return f"record (training: {self.training})"
        assert self.reason is not None
        return f"skip: {self.reason.value}"


# the site hub's answers to a slot reservation at off-hook (hub/link.py, docs/hub.md); any
# other answer is the hub's refusal in words ('quota reached', 'not enrolled', …)
HUB_RESERVED = "reserved"
HUB_DOWN = "hub unreachable"


def week_start(day: dt.date) -> dt.date:
    """Monday of the ISO week holding `day`: quotas count per calendar week."""
    return day - dt.timedelta(days=day.weekday())


def decide(
    policy: Policy,
    agent: str,
    *,
    internal: bool,
    today: dt.date,
    recorded_this_week: int,
    rng: random.Random,
    notice_acknowledged: bool,
) -> Decision:
    """Decide for one call. `recorded_this_week` counts this agent's recordings since Monday.

    The random draw happens last, so a refused call for another reason consumes no draw.
    """
    e = policy.enrolment_for(agent)
    if e is None:
        return Decision(False, SkipReason.NOT_ENROLLED)
    if today < e.start:
        return Decision(False, SkipReason.ENROLMENT_NOT_STARTED)
    if today > e.end:
        return Decision(False, SkipReason.ENROLMENT_EXPIRED)
    if not notice_acknowledged:
        return Decision(False, SkipReason.NOTICE_NOT_ACKNOWLEDGED)
    if internal and not policy.record_internal_calls:
        return Decision(False, SkipReason.INTERNAL_CALL)
    if recorded_this_week >= e.weekly_quota:
        return Decision(False, SkipReason.QUOTA_REACHED)
    if rng.random() * 100 >= e.sampling_percent:
        return Decision(False, SkipReason.NOT_SAMPLED)
    return Decision(True, training=e.training)
