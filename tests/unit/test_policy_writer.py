"""Editing the policy model and writing it back: nothing lost, every rule still enforced."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from agentapp.core.policy import Enrolment, PolicyError, parse_policy
from agentapp.core.policy_writer import default_end, to_toml, with_enrolment, without_enrolment
from tests.policies import ACCESS, policy_text

EXAMPLE = Path(__file__).parents[2] / "resources" / "policy-example.toml"
DEROGATION = '[derogation]\nreference = "CSE 2026-07"\nreason = "apprenticeship programme"\n'


@pytest.mark.parametrize(
    "text",
    [
        EXAMPLE.read_text(),
        policy_text("alice", sensitive_class="payment", extra=ACCESS),
        policy_text("bob", retention_days=300, extra=DEROGATION),
        policy_text(
            "alice",
            lookbehind_ms=1200,
            application='name = "Web CRM"\nexecutable = "chromium"\npopups = true',
        ),
        policy_text(
            "alice",
            application='name = "Web CRM"\nexecutable = "chromium"\nurl_pattern = "^https://crm/"',
            sensitive='name = "Card"\nurl_pattern = "stripe"\nfield_pattern = "(?i)carte"',
        ),
    ],
)
def test_round_trip_keeps_everything(text: str) -> None:
    p = parse_policy(text)
    assert parse_policy(to_toml(p)) == p


def test_enrol_and_unenrol_bump_the_version_and_keep_the_rules() -> None:
    p = parse_policy(policy_text("alice"))
    start = dt.date(2026, 12, 1)
    e = Enrolment("bob", "Billing basics", start, default_end(start), 20, 3, fps=5)
    q = with_enrolment(p, e)
    assert q.version == p.version + 1 and q.enrolment_for("bob") == e
    assert q.enrolment_for("alice") == p.enrolment_for("alice")
    r = without_enrolment(q, "alice")
    assert r.version == q.version + 1 and r.enrolment_for("alice") is None
    with pytest.raises(PolicyError, match="not enrolled"):
        without_enrolment(r, "alice")
    too_long = Enrolment("eve", "x", start, start + dt.timedelta(days=200), 20, 3)
    with pytest.raises(PolicyError, match="at most 183"):
        with_enrolment(p, too_long)
    assert (default_end(start) - start).days == 91
