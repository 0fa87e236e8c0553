import datetime as dt
import random

from agentapp.core.gate import SkipReason, decide, week_start
from agentapp.core.policy import parse_policy
from tests.policies import policy_text

TODAY = dt.date.today()


def d(text: str, agent: str = "alice", internal: bool = False, used: int = 0, seed: int = 1,
      acked: bool = True):  # type: ignore[no-untyped-def]  # fmt: skip
    return decide(
        parse_policy(text),
        agent,
        internal=internal,
        today=TODAY,
        recorded_this_week=used,
        rng=random.Random(seed),
        notice_acknowledged=acked,
    )


def test_enrolled_agent_is_recorded() -> None:
    r = d(policy_text())
    assert r.record and r.training == "CRM onboarding"


def test_not_enrolled_agent_is_not_recorded() -> None:
    assert d(policy_text(), agent="bob").reason is SkipReason.NOT_ENROLLED
    assert d(policy_text(agent=None)).reason is SkipReason.NOT_ENROLLED


def test_expired_and_future_enrolments() -> None:
    past = policy_text(start=TODAY - dt.timedelta(days=20), end=TODAY - dt.timedelta(days=1))
    assert d(past).reason is SkipReason.ENROLMENT_EXPIRED
    future = policy_text(start=TODAY + dt.timedelta(days=1), end=TODAY + dt.timedelta(days=9))
    assert d(future).reason is SkipReason.ENROLMENT_NOT_STARTED
    last_day = policy_text(start=TODAY - dt.timedelta(days=5), end=TODAY)
    assert d(last_day).record


def test_internal_calls_off_by_default() -> None:
    assert d(policy_text(), internal=True).reason is SkipReason.INTERNAL_CALL
    assert d(policy_text(internal=True), internal=True).record


def test_quota() -> None:
    assert d(policy_text(quota=3), used=2).record
    assert d(policy_text(quota=3), used=3).reason is SkipReason.QUOTA_REACHED


def test_sampling_rate_is_respected() -> None:
    text = policy_text(sampling=30)
    p = parse_policy(text)
    rng = random.Random(42)
    n = 4000
    hits = sum(
        decide(
            p,
            "alice",
            internal=False,
            today=TODAY,
            recorded_this_week=0,
            rng=rng,
            notice_acknowledged=True,
        ).record
        for _ in range(n)
    )
    assert 0.27 < hits / n < 0.33
    misses = [d(text, seed=s) for s in range(50)]
    assert any(m.reason is SkipReason.NOT_SAMPLED for m in misses)


def test_week_start_is_monday() -> None:
    assert week_start(dt.date(2026, 11, 26)) == dt.date(2026, 11, 23)
    assert week_start(dt.date(2026, 11, 23)) == dt.date(2026, 11, 23)


def test_no_recording_before_the_notice_is_acknowledged() -> None:
    assert d(policy_text(), acked=False).reason is SkipReason.NOTICE_NOT_ACKNOWLEDGED
    # not enrolled stays the first reason: the notice is only for enrolled agents
    assert d(policy_text(), agent="bob", acked=False).reason is SkipReason.NOT_ENROLLED
