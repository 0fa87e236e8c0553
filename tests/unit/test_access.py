"""Roles (R7, R8): who may list, view, export, delete, annotate — from the live policy."""

from __future__ import annotations

import pytest

from agentapp.core.access import Action, RecordingRef, person, refusal
from agentapp.core.policy import PolicyError, parse_policy
from tests.policies import ACCESS, policy_text

TOM = '\n[[trainer]]\nname = "tom"\ntrainings = ["Billing basics"]\n'
ALICE = RecordingRef("alice", "CRM onboarding")
policy = parse_policy(policy_text("alice", extra=ACCESS + TOM))


@pytest.mark.parametrize(
    ("who", "action", "allowed"),
    [
        ("alice", Action.LIST, True),
        ("alice", Action.VIEW, True),
        ("alice", Action.EXPORT, True),
        ("alice", Action.EXPORT_ANONYMISED, False),
        ("alice", Action.DELETE, False),
        ("alice", Action.NOTES, False),
        ("bob", Action.LIST, False),  # another trainee: never someone else's recording
        ("bob", Action.VIEW, False),
        ("bob", Action.EXPORT, False),
        ("bob", Action.EXPORT_ANONYMISED, False),
        ("carol", Action.LIST, True),  # the training's trainer
        ("carol", Action.VIEW, True),
        ("carol", Action.EXPORT, True),
        ("carol", Action.EXPORT_ANONYMISED, True),
        ("carol", Action.DELETE, True),
        ("carol", Action.NOTES, True),
        ("tom", Action.LIST, False),  # a trainer of another training
        ("tom", Action.EXPORT, False),
        ("dan", Action.LIST, True),  # admin/DPO: metadata and deletion, not the video
        ("dan", Action.VIEW, False),
        ("dan", Action.EXPORT, False),
        ("dan", Action.DELETE, True),
    ],
)
def test_recording_access(who: str, action: Action, allowed: bool) -> None:
    why = refusal(person(policy, who), action, ALICE)
    assert (why is None) is allowed, why


def test_only_admins_read_the_audit_trail() -> None:
    for name in ("alice", "carol", "tom"):
        assert refusal(person(policy, name), Action.AUDIT) is not None
    assert refusal(person(policy, "dan"), Action.AUDIT) is None


def test_without_a_policy_everyone_is_an_agent() -> None:
    carol = person(None, "carol")
    assert carol.role == "agent"
    assert refusal(carol, Action.VIEW, ALICE) is not None
    assert refusal(person(None, "alice"), Action.VIEW, ALICE) is None


def test_roles_are_named() -> None:
    assert [person(policy, n).role for n in ("alice", "carol", "dan")] == [
        "agent",
        "trainer",
        "admin",
    ]


def test_trainer_tables_are_checked() -> None:
    with pytest.raises(PolicyError, match="trainings"):
        parse_policy(policy_text(extra='[[trainer]]\nname = "x"\ntrainings = []\n'))
    with pytest.raises(PolicyError, match="twice"):
        parse_policy(policy_text(extra=ACCESS + TOM.replace("tom", "carol")))


def test_a_refusal_is_told_in_french_and_traced_in_english() -> None:
    from agentapp import i18n

    policy = parse_policy(policy_text("alice", extra=ACCESS))
    i18n.use("fr")
    why = refusal(person(policy, "bob"), Action.NOTES, RecordingRef("alice", "CRM onboarding"))
    assert why == "seul un formateur de 'CRM onboarding' peut le faire"
    assert why.english == "only a trainer of 'CRM onboarding' may do this"  # type: ignore[union-attr]
    audit = refusal(person(policy, "bob"), Action.AUDIT)
    assert audit == "seul un admin/DPO peut lire le journal d'audit"
    assert audit.english == "only an admin/DPO may read the audit trail"  # type: ignore[union-attr]
