"""Can this desk record the agent's next call? One answer, for the engine's status between
calls and for `agentapp doctor` (which adds checks of its own and a stated headroom).

Pure: the caller gathers what the desk says (the recording key, the disk, the display, the
event source, the notice's acknowledgement) into `DeskFacts`; the order of the questions
below is the order in which a trainee is told what stands in the way. Thread-safe.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from agentapp.core.policy import Policy

MIN_FREE_BYTES = 64 * 1024 * 1024  # below this a call is not recorded (R12: never a torn vault)


class Ready(enum.Enum):
    YES = "yes"  # the next call may be recorded (drawn at random, within the quota)
    NOT_ENROLLED = "not enrolled"  # never recorded: no enrolment, ended, or not begun
    CANNOT_RECORD = "cannot record"  # enrolled, but something on this desk stands in the way
    NOTICE_REQUIRED = "notice required"  # enrolled; the notice is not acknowledged yet


@dataclass(frozen=True, slots=True)
class DeskFacts:
    today: dt.date
    key_problem: str | None = None  # the recording public key cannot be read
    indicator_problem: str | None = None  # no way to show the trainee they are recorded
    display_problem: str | None = None
    source_problem: str | None = None  # the call-event source
    free_bytes: int = MIN_FREE_BYTES
    acknowledged: bool = False  # the notice of this policy, for this agent
    min_free: int = MIN_FREE_BYTES  # the threshold (tests lower it)


@dataclass(frozen=True, slots=True)
class Verdict:
    ready: Ready
    detail: str  # in words for the trainee


def disk_full(free: int) -> str:
    return (
        f"disk full ({free // (1024 * 1024)} MB free): not recording; sealed recordings are "
        "kept — free some space"
    )


def readiness(policy: Policy, agent: str, facts: DeskFacts) -> Verdict:
    e = policy.enrolment_for(agent)
    if e is None:
        return Verdict(Ready.NOT_ENROLLED, f"{agent} is not enrolled: never recorded")
    if facts.today > e.end:
        return Verdict(Ready.NOT_ENROLLED, f"enrolment in '{e.training}' ended on {e.end}")
    if facts.today < e.start:
        return Verdict(Ready.NOT_ENROLLED, f"enrolment starts on {e.start}")
    for problem in (facts.indicator_problem, facts.key_problem, facts.display_problem,
                    facts.source_problem):  # fmt: skip
        if problem:
            return Verdict(Ready.CANNOT_RECORD, problem)
    if facts.free_bytes < facts.min_free:
        return Verdict(Ready.CANNOT_RECORD, disk_full(facts.free_bytes))
    if not facts.acknowledged:
        return Verdict(
            Ready.NOTICE_REQUIRED,
            "read and acknowledge the information notice (nothing is recorded before)",
        )
    return Verdict(Ready.YES, "waiting for a call")
