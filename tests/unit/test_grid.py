"""A training's analysis grid in the policy: criteria observed, never scored (R1)."""

import pytest

from agentapp.core.grid import LEVELS, MAX_CRITERIA, scored
from agentapp.core.policy import PolicyError, parse_policy
from tests.policies import GRID, policy_text


def _policy(grid: str) -> str:
    return policy_text("alice", extra=grid)


def test_a_grid_is_read_with_its_criteria_in_order() -> None:
    policy = parse_policy(_policy(GRID))
    grid = policy.grid_for("CRM onboarding")
    assert grid is not None
    assert [c.name for c in grid.criteria] == ["Greeting", "Rephrasing", "Takes notes in 3 steps"]
    assert grid.criteria[0].description.startswith("Says who they are")
    assert grid.criteria[2].description == ""  # optional
    assert policy.grid_for("another training") is None
    assert parse_policy(_policy("")).grids == ()  # a policy without grids stays valid


def test_the_levels_are_four_words_and_no_number() -> None:
    assert [code for code, _words in LEVELS] == [
        "acquired",
        "in_progress",
        "to_work_on",
        "not_seen",
    ]
    assert [words for _code, words in LEVELS] == [
        "acquired", "in progress", "to work on", "not seen",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "line",
    [
        "weight = 2",
        "points = 5",
        "max = 10",
        'score = "high"',
        "coefficient = 1.5",
        '"barème" = 4',
        "level = 3",
        "bonus = 2",
    ],
)
def test_a_criterion_with_a_number_or_a_score_is_refused_in_one_line(line: str) -> None:
    grid = GRID + f"{line}\n"
    with pytest.raises(PolicyError) as e:
        parse_policy(_policy(grid))
    said = str(e.value)
    assert "\n" not in said
    assert "observed, never scored" in said and "R1" in said
    assert "#3" in e.value.details  # which criterion: the third


@pytest.mark.parametrize(
    "name",
    [
        "Greeting /10",
        "Greeting (80 %)",
        "Greeting: 3 pts",
        "Greeting score",
        "Barème accueil",
        "Pondération de l'écoute",
        "Accueil noté sur 5",
        "Weighting of empathy",
    ],
)
def test_a_criterion_that_reads_as_a_scale_is_refused(name: str) -> None:
    grid = GRID.replace('name = "Greeting"', f'name = "{name}"')
    with pytest.raises(PolicyError, match="observed, never scored"):
        parse_policy(_policy(grid))
    assert scored(name)


@pytest.mark.parametrize(
    "text",
    [
        "Takes notes in 3 steps",
        "Prise de notes",
        "Points clés reformulés",
        "Confirms the 2 dates",
        "Note-taking",
    ],
)
def test_observations_with_plain_numbers_or_the_word_note_pass(text: str) -> None:
    assert not scored(text)


def test_a_grid_on_the_grid_itself_cannot_carry_a_total() -> None:
    grid = GRID.replace('training = "CRM onboarding"', 'training = "CRM onboarding"\ntotal = 20')
    with pytest.raises(PolicyError, match="observed, never scored"):
        parse_policy(_policy(grid))


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (('training = "CRM onboarding"', 'training = "Billing"'), "no agent or trainer has"),
        (('name = "Rephrasing"', 'name = "greeting"'), "same criterion twice"),
        (('description = "Repeats', 'descriptoin = "Repeats'), "unknown key"),
        (('name = "Rephrasing"', f'name = "{"x" * 81}"'), "at most 80 characters"),
    ],
)
def test_a_grid_out_of_its_form_says_what_to_fix(change: tuple[str, str], said: str) -> None:
    with pytest.raises(PolicyError, match=said):
        parse_policy(_policy(GRID.replace(*change)))


def test_one_grid_per_training_with_a_bounded_number_of_criteria() -> None:
    with pytest.raises(PolicyError, match="two grids"):
        parse_policy(_policy(GRID + GRID))
    many = '[[grid]]\ntraining = "CRM onboarding"\n' + "".join(
        f'[[grid.criterion]]\nname = "Criterion {chr(65 + i // 26)}{chr(65 + i % 26)}"\n'
        for i in range(MAX_CRITERIA + 1)
    )
    with pytest.raises(PolicyError, match=f"at most {MAX_CRITERIA} criteria"):
        parse_policy(_policy(many))
    empty = '[[grid]]\ntraining = "CRM onboarding"\n'
    with pytest.raises(PolicyError, match="at least one"):
        parse_policy(_policy(empty))


def test_a_trainers_training_without_agents_may_have_its_grid() -> None:
    trainer = '\n[[trainer]]\nname = "carol"\ntrainings = ["Billing"]\n'
    grid = GRID.replace('training = "CRM onboarding"', 'training = "Billing"')
    policy = parse_policy(_policy(trainer + grid))
    assert policy.grid_for("Billing") is not None


def test_the_refusal_is_said_in_french_on_a_french_desk() -> None:
    from agentapp import i18n

    i18n.use("fr")
    try:
        with pytest.raises(PolicyError) as e:
            parse_policy(_policy(GRID + "weight = 2\n"))
    finally:
        i18n.use("en")
    assert "un critère de grille s'observe, il ne se note jamais" in str(e.value)
    assert [i18n.texts("fr").gettext(words) for _code, words in LEVELS] == [
        "acquis", "en cours", "à travailler", "non observé",
    ]  # fmt: skip


def test_the_notice_and_the_register_say_a_grid_exists_and_a_new_grid_asks_again() -> None:
    from agentapp.core.notice import build_notice, notice_digest
    from agentapp.core.register import build_register

    plain, gridded = parse_policy(_policy("")), parse_policy(_policy(GRID))

    def notice(p: object, lang: str) -> str:
        return " ".join(t for _, t in build_notice(p, "alice", lang).sections)  # type: ignore[arg-type]

    def register(p: object, lang: str) -> str:
        return " ".join(t for _, t in build_register(p, lang).rows)  # type: ignore[arg-type]

    assert "analysis grid" not in notice(plain, "en") and "grille" not in notice(plain, "fr")
    assert "never a score" in notice(gridded, "en") and "even after the video" in notice(
        gridded, "en")  # fmt: skip
    assert "jamais une note" in notice(gridded, "fr")
    assert "coaching records: 365 days" in register(gridded, "en")
    assert "Grilles d'analyse remplies" in register(gridded, "fr")
    assert "Filled analysis grids" not in register(plain, "en")
    assert notice_digest(gridded, "alice") != notice_digest(plain, "alice")  # read again
    assert notice_digest(gridded, "bob") == notice_digest(plain, "bob")  # not enrolled: unchanged
