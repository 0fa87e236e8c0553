"""Editing a policy file: comments and layout kept, the version increased, every rule still
enforced."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from agentapp.core.policy import Enrolment, PolicyError, WindowRule, parse_policy
from agentapp.core.policy_writer import (
    default_end,
    with_application,
    with_enrolment,
    without_application,
    without_enrolment,
)
from tests.policies import policy_text

EXAMPLE = Path(__file__).parents[2] / "resources" / "policy-example.toml"


def _comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def test_enrol_then_unenrol_keeps_every_comment_of_the_example() -> None:
    text = EXAMPLE.read_text()
    before = parse_policy(text)
    start = dt.date(2026, 12, 1)
    e = Enrolment("dan", "CRM onboarding", start, default_end(start), 20, 1, fps=5)
    enrolled = with_enrolment(text, e)
    assert enrolled.policy.enrolment_for("dan") == e
    assert enrolled.policy.version == before.version + 1
    assert _comments(enrolled.text) == _comments(text)
    assert "# increase on every change" in enrolled.text.splitlines()[3]
    back = without_enrolment(enrolled.text, "dan")
    assert back.policy.version == before.version + 2
    assert back.policy.enrolments == before.enrolments
    assert _comments(back.text) == _comments(text)  # all 25+ comment lines, in order
    assert len(_comments(text)) >= 25
    # the file is the example, line for line, but for the version
    assert re.sub(r"version = \d+", "", back.text) == re.sub(r"version = \d+", "", text)


def test_update_in_place_keeps_keys_the_form_does_not_hold() -> None:
    text = policy_text("alice") + 'extension = "2101"\n'
    p = parse_policy(text)
    e = p.enrolment_for("alice")
    assert e is not None and e.extension == "2101"
    changed = with_enrolment(text, Enrolment("alice", e.training, e.start, e.end, 10, 3))
    got = changed.policy.enrolment_for("alice")
    assert got is not None and got.sampling_percent == 10 and got.extension == "2101"
    assert len(changed.policy.enrolments) == 1


def test_rules_still_apply_to_an_edit() -> None:
    text = policy_text("alice")
    start = dt.date(2026, 12, 1)
    too_long = Enrolment("eve", "x", start, start + dt.timedelta(days=200), 20, 3)
    with pytest.raises(PolicyError, match="at most 183"):
        with_enrolment(text, too_long)
    with pytest.raises(PolicyError, match="not enrolled"):
        without_enrolment(text, "nobody")
    assert (default_end(start) - start).days == 91


def test_applications_replace_by_name_and_remove() -> None:
    text = EXAMPLE.read_text()
    rule = WindowRule("CRM", executable="crm-bin", title_pattern=re.compile("^CRM"))
    changed = with_application(text, rule)
    crm = [a for a in changed.policy.applications if a.name == "CRM"]
    assert len(crm) == 1 and crm[0].executable == "crm-bin" and crm[0].wm_class is None
    assert _comments(changed.text) == _comments(text)
    gone = without_application(changed.text, "CRM")
    assert [a.name for a in gone.policy.applications] == ["Billing (web)"]
    with pytest.raises(PolicyError, match="no application"):
        without_application(gone.text, "CRM")
