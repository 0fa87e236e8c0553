"""core/readiness.py: one answer to "can the next call be recorded?", for the engine and
doctor alike, told in the order a trainee should hear it."""

from __future__ import annotations

import datetime as dt

from agentapp.core.policy import parse_policy
from agentapp.core.readiness import MIN_FREE_BYTES, DeskFacts, Ready, Why, readiness
from tests.policies import policy_text

TODAY = dt.date.today()
POLICY = parse_policy(policy_text("alice"))


def test_not_enrolled_comes_before_anything_on_the_desk() -> None:
    v = readiness(POLICY, "bob", DeskFacts(TODAY, key_problem="no key", free_bytes=0))
    assert v.ready is Ready.NOT_ENROLLED and "bob is not enrolled" in v.detail
    later = readiness(POLICY, "alice", DeskFacts(TODAY + dt.timedelta(days=400)))
    assert later.ready is Ready.NOT_ENROLLED and "ended on" in later.detail


def test_what_stands_in_the_way_in_order() -> None:
    facts = DeskFacts(TODAY, key_problem="no recording key", indicator_problem="no tray",
                      display_problem="no display", free_bytes=0)  # fmt: skip
    said = []
    for clear in ("indicator_problem", "key_problem", "display_problem", "free_bytes"):
        v = readiness(POLICY, "alice", facts)
        assert v.ready is Ready.CANNOT_RECORD
        said.append(v.detail)
        facts = DeskFacts(**{**{f: getattr(facts, f) for f in facts.__slots__},
                             clear: MIN_FREE_BYTES if clear == "free_bytes" else None})  # fmt: skip
    assert said[:3] == ["no tray", "no recording key", "no display"] and "disk full" in said[3]
    assert readiness(POLICY, "alice", facts).ready is Ready.NOTICE_REQUIRED
    ok = DeskFacts(TODAY, acknowledged=True, free_bytes=MIN_FREE_BYTES)
    assert readiness(POLICY, "alice", ok) == readiness(POLICY, "alice", ok)
    assert readiness(POLICY, "alice", ok).ready is Ready.YES
    short = DeskFacts(TODAY, acknowledged=True, free_bytes=MIN_FREE_BYTES - 1)
    assert readiness(POLICY, "alice", short).ready is Ready.CANNOT_RECORD


def test_a_vault_that_cannot_be_written_comes_after_a_full_disk() -> None:
    """A full disk fails the write probe too: the trainee reads "disk full", then, with
    space again, whatever still stops the write."""
    facts = DeskFacts(TODAY, acknowledged=True, free_bytes=0, vault_problem="read-only")
    assert "disk full" in readiness(POLICY, "alice", facts).detail
    facts = DeskFacts(TODAY, acknowledged=True, vault_problem="read-only")
    v = readiness(POLICY, "alice", facts)
    assert (v.ready, v.detail, v.why) == (Ready.CANNOT_RECORD, "read-only", Why.VAULT)
