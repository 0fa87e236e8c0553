"""What changed between two policies: the trail's words stay English whatever the locale; the
trainer about to publish reads them in their language."""

from __future__ import annotations

from agentapp import i18n
from agentapp.core.policy import parse_policy
from agentapp.core.policy_changes import changes, summary
from tests.policies import policy_text


def _two() -> tuple[dict[str, object], dict[str, object]]:
    one = parse_policy(policy_text("alice"))
    two = parse_policy(policy_text("bob").replace("version = 1", "version = 2"))
    return summary(one), summary(two)


def test_the_trail_words_are_english_even_on_a_french_desk() -> None:
    old, new = _two()
    i18n.use("fr")
    said = changes(old, new)
    assert said[0][0] == said[1][0] == "enrolment changed"
    assert said[0][1].startswith("alice no longer enrolled (was CRM onboarding ")
    assert said[1][1].startswith("bob enrolled: CRM onboarding ")
    assert said[-1][0] == "policy changed" and said[-1][1].startswith("version 1 → 2")
    assert changes(None, new)[0] == ("policy adopted", "version 2; 1 enrolment(s)")


def test_the_same_changes_in_french_for_the_trainer() -> None:
    old, new = _two()
    said = changes(old, new, say=i18n.texts("fr").gettext)
    assert said[0][0] == said[1][0] == "inscription modifiée"
    assert said[0][1].startswith("alice n'est plus inscrit(e) (était CRM onboarding ")
    assert said[1][1].startswith("bob inscrit(e) : CRM onboarding ")
    assert said[-1][0] == "règles modifiées"
    assert changes(None, new, say=i18n.texts("fr").gettext)[0] == (
        "règles adoptées",
        "version 2 ; 1 inscription(s)",
    )


def test_a_grid_added_or_changed_is_a_policy_change_and_no_grid_changes_nothing() -> None:
    grid = '\n[[grid]]\ntraining = "CRM onboarding"\n\n[[grid.criterion]]\nname = "Accueil"\n'
    plain = summary(parse_policy(policy_text("alice")))
    with_grid = summary(parse_policy(policy_text("alice", extra=grid)))
    assert "grids" not in plain  # a summary kept from before grids compares equal
    assert changes(plain, plain) == []
    said = changes(plain, with_grid)
    assert said == [
        ("policy changed", "version 1 → 1; grids: None → {'CRM onboarding': ['Accueil']}")
    ]
    renamed = summary(parse_policy(policy_text("alice", extra=grid.replace("Accueil", "Greeting"))))
    assert "['Accueil']} → {'CRM onboarding': ['Greeting']}" in changes(with_grid, renamed)[0][1]
