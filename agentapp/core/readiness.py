"""Can this desk record the agent's next call? One answer, for the engine's status between
calls and for `agentapp doctor` (which adds checks of its own and a stated headroom).

Pure: the caller gathers what the desk says (the recording key, the disk and whether the
recordings and the trail can be written, the display, the event source, the notice's
acknowledgement) into `DeskFacts`; the order of the questions
below is the order in which a trainee is told what stands in the way. Thread-safe.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from agentapp.core.policy import Policy

MIN_FREE_BYTES = 64 * 1024 * 1024  # below this a call is not recorded (R12: never a torn vault)


class Why(enum.StrEnum):
    """Why the agent is in its state, as a code the tray turns into a trainee's words
    (agentapp/ui/words.py); the status's `detail` keeps the technical words for IT."""

    NONE = ""
    STARTING = "starting"
    NOT_ENROLLED = "not-enrolled"
    ENDED = "ended"  # the enrolment ended
    NOT_BEGUN = "not-begun"
    NOTICE = "notice"
    INDICATOR = "indicator"  # no tray or badge could show the recording
    KEY = "key"
    DISPLAY = "display"
    SOURCE = "source"  # the call events
    DISK = "disk"
    VAULT = "vault"  # recordings or the trail cannot be written
    POLICY = "policy"  # the policy was refused
    POLICY_PENDING = "policy-pending"  # a site desk before its first signed policy
    CAPTURE = "capture"  # the last recording stopped on an error
    HIDDEN = "hidden"  # recording, but the business window is not shown: nothing written
    AGENT_PAUSE = "agent-pause"
    SENSITIVE = "sensitive"
    LOCKED = "locked"
    HUB = "hub"  # the site hub, which counts the week's recordings, cannot be reached


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
    hub_problem: str | None = None  # the site hub (quota, trail) does not answer
    vault_problem: str | None = None  # recordings or the trail cannot be written here
    free_bytes: int = MIN_FREE_BYTES
    acknowledged: bool = False  # the notice of this policy, for this agent
    min_free: int = MIN_FREE_BYTES  # the threshold (tests lower it)


@dataclass(frozen=True, slots=True)
class Verdict:
    ready: Ready
    detail: str  # technical words (logs, status file, the tray's Details…)
    why: Why = Why.NONE


def disk_full(free: int) -> str:
    return (
        f"disk full ({free // (1024 * 1024)} MB free): not recording; sealed recordings are "
        "kept — free some space"
    )


def readiness(policy: Policy, agent: str, facts: DeskFacts) -> Verdict:
    e = policy.enrolment_for(agent)
    if e is None:
        return Verdict(Ready.NOT_ENROLLED, f"{agent} is not enrolled: never recorded",
                       Why.NOT_ENROLLED)  # fmt: skip
    if facts.today > e.end:
        return Verdict(Ready.NOT_ENROLLED, f"enrolment in '{e.training}' ended on {e.end}",
                       Why.ENDED)  # fmt: skip
    if facts.today < e.start:
        return Verdict(Ready.NOT_ENROLLED, f"enrolment starts on {e.start}", Why.NOT_BEGUN)
    for problem, why in ((facts.indicator_problem, Why.INDICATOR), (facts.key_problem, Why.KEY),
                         (facts.display_problem, Why.DISPLAY),
                         (facts.source_problem, Why.SOURCE),
                         (facts.hub_problem, Why.HUB)):  # fmt: skip
        if problem:
            return Verdict(Ready.CANNOT_RECORD, problem, why)
    if facts.free_bytes < facts.min_free:  # (a full disk fails the write probe too: said first)
        return Verdict(Ready.CANNOT_RECORD, disk_full(facts.free_bytes), Why.DISK)
    if facts.vault_problem:
        return Verdict(Ready.CANNOT_RECORD, facts.vault_problem, Why.VAULT)
    if not facts.acknowledged:
        return Verdict(
            Ready.NOTICE_REQUIRED,
            "read and acknowledge the information notice (nothing is recorded before)",
            Why.NOTICE,
        )
    return Verdict(Ready.YES, "waiting for a call")
