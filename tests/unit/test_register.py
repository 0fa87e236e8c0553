"""The art. 30 register entry and the notice come from the live policy (R2, R14)."""

from __future__ import annotations

from agentapp.core.policy import parse_policy
from agentapp.core.register import build_register
from tests.policies import ACCESS, policy_text


def test_register_states_the_policy_in_both_languages() -> None:
    policy = parse_policy(policy_text("alice", retention_days=90, extra=ACCESS))
    en = build_register(policy, "en").as_text()
    fr = build_register(policy, "fr").as_text()
    for text in (en, fr):
        assert "Example Contact Center SAS" in text and "dpo@example.test" in text
        assert "90" in text and "CRM onboarding" in text and "carol" in text
        assert "CNIL" in text and "6.1" in text.replace("6(1)(f)", "6.1.f")
    assert "Training of newly hired agents" in en and "Formation des agents" in fr
    assert "6 months at most" in en and "6 mois au plus" in fr
    doc = build_register(policy, "en").as_json()
    assert doc["entries"]["Data protection officer"] == "dpo@example.test"  # type: ignore[index]


def test_register_shows_a_derogation() -> None:
    policy = parse_policy(policy_text(retention_days=300, extra="""
[derogation]
reference = "Decision DPO-2026-12"
reason = "twelve-month apprenticeship programme"
"""))  # fmt: skip
    text = build_register(policy, "fr").as_text()
    assert "Decision DPO-2026-12" in text and "300 jours" in text and "6 mois au plus" not in text


def test_a_new_trainer_or_admin_asks_the_agent_again() -> None:
    """Who can see an agent's recordings is part of what they acknowledged: a trainer added
    to their training, or an admin, changes the notice (named in it) and its digest."""
    from agentapp.core.notice import build_notice, notice_digest
    from agentapp.core.policy import parse_policy
    from tests.policies import policy_text

    def digest(extra: str) -> str:
        return notice_digest(parse_policy(policy_text("alice", extra=extra)), "alice")

    other = '[[trainer]]\nname = "erin"\ntrainings = ["Billing"]\n'
    ours = '[[trainer]]\nname = "carol"\ntrainings = ["CRM onboarding"]\n'
    admin = '[access]\nadmins = ["dan"]\n'
    assert digest("") == digest(other)  # not one who can see alice's recordings
    assert len({digest(""), digest(ours), digest(admin), digest(ours + admin)}) == 4
    notice = build_notice(parse_policy(policy_text("alice", extra=ours + admin)), "alice", "en")
    seen = dict(notice.sections)["Who can see the recordings"]
    assert "trainers: carol" in seen and "admins/DPO, who do not see the video: dan" in seen
    fr = build_notice(parse_policy(policy_text("alice", extra=ours + admin)), "alice", "fr")
    assert "formateurs : carol" in dict(fr.sections)["Destinataires"]


def test_the_register_prints_what_the_dpo_signs_and_what_is_missing() -> None:
    from agentapp.core.policy import parse_policy
    from agentapp.core.register import build_register
    from tests.policies import policy_text

    bare = parse_policy(policy_text("alice"))
    rows = dict(build_register(bare, "en").rows)
    assert "staff representatives' consultation; the DPO's opinion; DPIA reference" in rows[
        "Still to complete"]  # fmt: skip
    assert "callers informed by the telephony system" in rows["Legal basis"]
    done = parse_policy(policy_text("alice", extra=(
        '[register]\nstaff_consulted_on = 2026-10-12\nstaff_body = "CSE"\n'
        'dpo_opinion_on = 2026-10-20\ndpo_opinion = "favourable"\n'
        'dpia_reference = "AIPD-2026-04"\n')))  # fmt: skip
    fr = dict(build_register(done, "fr").rows)
    assert fr["Consultation des représentants du personnel"] == "CSE, 12 octobre 2026"
    assert fr["Avis du DPO"] == "20 octobre 2026 : favourable"
    assert fr["Analyse d'impact (AIPD)"] == "AIPD-2026-04"
    assert fr["Reste à compléter"] == "Rien : le registre est complet."
    assert done.governance.missing() == [] and bare.governance.missing() == ["staff", "dpo",
                                                                             "dpia"]  # fmt: skip
