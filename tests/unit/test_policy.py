import datetime as dt
import re

import pytest

from agentapp.core.policy import Page, PolicyError, WindowRule, parse_policy
from tests.policies import SAMPLING_REASON, policy_text


def test_sample_policy_loads() -> None:
    p = parse_policy(policy_text())
    assert p.purpose == "training"
    assert p.enrolment_for("alice") is not None
    assert p.enrolment_for("bob") is None
    assert p.applications[0].matches(("crm", "agentapp-business"), None, "x")
    assert not p.applications[0].matches(("firefox", "Firefox"), None, "x")


def test_unbounded_policy_is_refused() -> None:
    with pytest.raises(PolicyError, match="without bound"):
        parse_policy(policy_text(quota=None))


def test_other_purpose_is_refused() -> None:
    text = policy_text().replace('purpose = "training"', 'purpose = "evaluation"')
    with pytest.raises(PolicyError, match="training only"):
        parse_policy(text)


def test_enrolment_needs_an_end_and_a_bounded_period() -> None:
    today = dt.date.today()
    with pytest.raises(PolicyError, match="at most"):
        parse_policy(policy_text(start=today, end=today + dt.timedelta(days=400)))
    with pytest.raises(PolicyError, match="before start"):
        parse_policy(policy_text(start=today, end=today - dt.timedelta(days=1)))
    no_end = "\n".join(line for line in policy_text().splitlines() if not line.startswith("end"))
    with pytest.raises(PolicyError, match="'end' is required"):
        parse_policy(no_end)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("fps = 10", "fps = 0", "'fps'"),
        ("fps = 10", "fps = 10\nfpz = 3", "unknown key"),
        ("sampling_percent = 100", "sampling_percent = 101", "sampling_percent"),
        ('wm_class = "agentapp-business"', "", "at least one of"),
        ("version = 1", "", "'version' is required"),
        ("version = 1", "version = [", "not valid TOML"),
    ],
)
def test_bad_policies_say_what_is_wrong(old: str, new: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(policy_text().replace(old, new, 1))


def test_no_application_is_refused() -> None:
    text = policy_text().replace("[[application]]", "").replace('name = "CRM"', "")
    text = text.replace('wm_class = "agentapp-business"', "")
    with pytest.raises(PolicyError, match="no \\[\\[application\\]\\]"):
        parse_policy(text)


def test_bad_title_pattern_is_refused() -> None:
    text = policy_text().replace('wm_class = "agentapp-business"', 'title_pattern = "(["')
    with pytest.raises(PolicyError, match="regular expression"):
        parse_policy(text)


def test_title_and_executable_rules() -> None:
    text = policy_text().replace(
        'wm_class = "agentapp-business"', 'executable = "crm"\ntitle_pattern = "^CRM — "'
    )
    rule = parse_policy(text).applications[0]
    assert rule.matches((), "crm", "CRM — customer 12")
    assert not rule.matches((), "crm", "Mail")
    assert not rule.matches((), "bash", "CRM — customer 12")


def test_shipped_example_policy_is_valid() -> None:
    from pathlib import Path

    from agentapp.core.policy import load_policy

    p = load_policy(Path(__file__).parents[2] / "resources" / "policy-example.toml")
    assert [a.name for a in p.applications] == ["CRM", "Billing (web)"]
    bob = p.enrolment_for("bob")
    assert bob is not None and bob.weekly_quota == 5 and bob.sampling_percent == 30


def test_readme_shows_the_shipped_example_policy() -> None:
    from pathlib import Path

    root = Path(__file__).parents[2]
    example = (root / "resources" / "policy-example.toml").read_text()
    readme = (root / "README.md").read_text()
    section = readme.split("## The policy file", 1)[1]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    assert block.strip() in example  # the README's copy is the file, minus its header
    assert len(block.strip()) > 0.9 * len(example.strip())


def test_sensitive_rules_and_hotkey() -> None:
    from pathlib import Path

    from agentapp.core.policy import load_policy

    p = load_policy(Path(__file__).parents[2] / "resources" / "policy-example.toml")
    rule, card = p.sensitive
    assert rule.matches(("firefox",), "firefox-esr", "Billing — Paiement sécurisé")
    assert card.shows_in(Page(("https://billing.example.fr/pay",), (), ("Numéro de carte",)))
    assert p.pause_hotkey == "<ctrl>+<alt>+p"
    with pytest.raises(PolicyError, match="pause_hotkey"):
        parse_policy(policy_text().replace("fps = 10", 'fps = 10\npause_hotkey = "p"'))


def test_readme_agent_config_example_is_valid() -> None:
    from pathlib import Path

    from agentapp.core.config import parse_config

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("(`agent.toml`)", 1)[1]
    cfg = parse_config(section.split("```toml\n", 1)[1].split("```", 1)[0])
    assert cfg.agent == "alice" and cfg.source.kind == "baresip" and cfg.source.port == 4444


def test_lookbehind_and_popups_are_bounded_and_protective_by_default() -> None:
    p = parse_policy(policy_text())
    assert p.lookbehind_ms == 500 and p.applications[0].popups is False
    assert parse_policy(policy_text(lookbehind_ms=0)).lookbehind_ms == 0
    for bad in (-1, 2001):
        with pytest.raises(PolicyError, match="lookbehind_ms"):
            parse_policy(policy_text(lookbehind_ms=bad))
    on = parse_policy(policy_text(application='name = "CRM"\nwm_class = "crm"\npopups = true'))
    assert on.applications[0].popups is True
    with pytest.raises(PolicyError, match="popups"):  # only application rules have pop-ups
        parse_policy(policy_text(sensitive='name = "Pay"\nwm_class = "pay"\npopups = true'))


def test_url_and_field_rules_read_the_page_protectively() -> None:
    p = parse_policy(
        policy_text(
            application='name = "CRM"\nexecutable = "chromium"\nurl_pattern = "^https://crm\\\\.example/"',
            sensitive='name = "Card"\nfield_pattern = "(?i)num[ée]ro de carte"',
        )
    )
    (app,), (card,) = p.applications, p.sensitive
    assert app.reads_page and app.reads_window and card.reads_page and not card.reads_window
    assert app.matches_page(Page(("https://crm.example/customer/42",)))
    split_view = Page(("https://crm.example/a", "https://mail.example/"))
    assert not app.matches_page(split_view)
    assert not app.matches_page(Page(()))  # no document known: no match
    assert card.shows_in(Page(("https://crm.example/",), (), ("Nom", "Numéro de carte")))
    assert not card.shows_in(Page(("https://crm.example/",), (), ("Nom",)))
    framed = WindowRule("Pay", url_pattern=re.compile("stripe"))  # a provider's iframe
    assert framed.shows_in(Page(("https://crm.example/",), ("https://js.stripe.com/f",)))
    assert not framed.shows_in(Page(("https://crm.example/",)))
    with pytest.raises(PolicyError, match="field_pattern"):  # fields are for sensitive rules
        parse_policy(policy_text(application='name = "CRM"\nfield_pattern = "x"'))
    with pytest.raises(PolicyError, match="url_pattern is not a valid regular expression"):
        parse_policy(policy_text(application='name = "CRM"\nurl_pattern = "("'))
    with pytest.raises(PolicyError, match="at least one of"):
        parse_policy(policy_text(sensitive='name = "Pay"'))


def _enrolments(n: int, sampling: int | None = None, quota: int | None = None) -> str:
    rows = []
    for i in range(n):
        rows.append(f'[[enrolment]]\nagent = "agent{i}"\ntraining = "CRM onboarding"\n'
                    "start = 2026-06-01\nend = 2026-12-01\n"
                    + (f"sampling_percent = {sampling}\n" if sampling else "")
                    + (f"weekly_quota = {quota}\n" if quota else ""))  # fmt: skip
    return "\n".join(rows)


def test_a_systematic_policy_for_a_thousand_agents_is_refused() -> None:
    """Seen accepted: 1,000 agents at 100 % of calls, 200 a week, for 183 days. Recording
    every call is systematic (R6), and no trainer can review 200,000 recordings a week."""
    text = policy_text(None, sampling=100, quota=200).replace(SAMPLING_REASON, "")
    with pytest.raises(PolicyError, match=r"sampling_percent = 100 for 'agent0': at most 50 %"):
        parse_policy(text + _enrolments(1000))
    with pytest.raises(PolicyError, match="could bring 200000 recordings a week"):
        parse_policy(policy_text(None, sampling=100, quota=200) + _enrolments(1000))


def test_more_than_half_of_the_calls_needs_a_reason_the_notice_gives() -> None:
    from agentapp.core.notice import build_notice
    from agentapp.core.register import build_register

    with pytest.raises(PolicyError, match="sampling_reason"):
        parse_policy(policy_text("alice", sampling=60).replace(SAMPLING_REASON, ""))
    assert parse_policy(policy_text("alice", sampling=50)).sampling_reason == ""
    p = parse_policy(policy_text("alice", sampling=60))
    assert "tests: every call" in " ".join(t for _, t in build_notice(p, "alice", "en").sections)
    assert "tests: every call" in " ".join(t for _, t in build_notice(p, "alice", "fr").sections)
    assert "tests: every call" in dict(build_register(p, "en").rows)["Volume"]


def test_a_training_may_bring_no_more_than_its_trainers_can_review() -> None:
    """Without declared minutes a training is given 2 hours a week (8 recordings of 15 min);
    trainers who declare more may review more. The register says how many and for what."""
    from agentapp.core.register import build_register

    base = policy_text(None, sampling=30, quota=5)
    assert parse_policy(base + _enrolments(1)).review_capacity("CRM onboarding") == 8
    with pytest.raises(PolicyError, match=r"could bring 10 recordings a week .* 8 a week"):
        parse_policy(base + _enrolments(2))
    trainer = ('\n[[trainer]]\nname = "carol"\ntrainings = ["CRM onboarding"]\n'
               "minutes_per_week = 150\n")  # fmt: skip
    p = parse_policy(base + trainer + _enrolments(2))
    assert p.review_capacity("CRM onboarding") == 10 and p.weekly_volume("CRM onboarding") == 10
    subjects = dict(build_register(p, "en").rows)["Data subjects"]
    assert "CRM onboarding: 2 agent(s), at most 10 recordings a week for 10" in subjects
    slower = base.replace("[recording]\n", "[recording]\nreview_minutes = 30\n")
    with pytest.raises(PolicyError, match="5 a week at review_minutes = 30"):
        parse_policy(slower + trainer + _enrolments(2))
