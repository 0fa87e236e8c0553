"""An analysis on a training's grid: four words, a comment and moments per criterion, and
nothing a score could be made of (R1); every field from a form or a sealed document checked."""

from __future__ import annotations

import json

import pytest
import tomlkit

from agentapp.core.analysis import (
    MAX_COMMENT,
    MAX_MOMENTS,
    Analysis,
    AnalysisError,
    Mark,
    clock,
    describe,
    document,
    form,
    from_document,
    marks_from,
    read_form,
)
from agentapp.core.grid import Criterion, Grid

GRID = Grid("CRM onboarding", (
    Criterion("Greeting", "Says who they are and the company's name"),
    Criterion("Rephrasing", "Repeats the request in their own words"),
    Criterion("Closing", ""),
))  # fmt: skip


def _filled(**changes: dict[str, object]) -> str:
    doc = tomlkit.parse(form(GRID, "20261207T101500Z-0123abcd", 95.0))
    for mark in doc["mark"]:  # type: ignore[union-attr]
        for key, value in changes.get(str(mark["criterion"]), {}).items():  # type: ignore[index]
            mark[key] = value  # type: ignore[index]
    return tomlkit.dumps(doc)


def test_the_form_lists_the_grid_and_reads_back_filled() -> None:
    text = form(GRID, "20261207T101500Z-0123abcd", 95.0)
    assert "Says who they are" in text and "0 to 95" in text
    assert read_form(GRID, text) == tuple(Mark(c.name, "not_seen") for c in GRID.criteria)
    marks = read_form(GRID, _filled(
        Greeting={"level": "acquis", "comment": "Clear, warm.\nGave the name twice."},
        Rephrasing={"level": "to work on", "moments": [40, 12.54, 40.0]},
        Closing={"level": "En Cours"},
    ), 95.0)  # fmt: skip
    assert marks == (
        Mark("Greeting", "acquired", "Clear, warm.\nGave the name twice."),
        Mark("Rephrasing", "to_work_on", "", (12.5, 40.0)),
        Mark("Closing", "in_progress"),
    )


def test_a_criterion_left_out_is_not_seen_and_the_grids_order_is_kept() -> None:
    marks = marks_from(GRID, [{"criterion": "closing", "level": "acquired"}])
    assert [(m.criterion, m.level) for m in marks] == [
        ("Greeting", "not_seen"), ("Rephrasing", "not_seen"), ("Closing", "acquired"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("item", "said"),
    [
        ({"criterion": "Greeting", "level": 3}, "never a number"),
        ({"criterion": "Greeting", "level": 4.5}, "never a number"),
        ({"criterion": "Greeting", "level": True}, "never a number"),
        ({"criterion": "Greeting", "level": "excellent"}, "is not a level"),
        ({"criterion": "Greeting", "level": "acquired", "score": 5}, "never a score"),
        ({"criterion": "Greeting", "points": 2}, "never a score"),
        ({"criterion": "Bonus points", "level": "acquired"}, "not a criterion of the grid"),
        ({"criterion": 7}, "not a criterion of the grid"),
        ({"criterion": "Greeting", "comment": "x" * (MAX_COMMENT + 1)}, "longer than"),
        ({"criterion": "Greeting", "comment": "bell\x07"}, "control characters"),
        ({"criterion": "Greeting", "comment": 12}, "the comment is text"),
        ({"criterion": "Greeting", "moments": [-1]}, "not a moment"),
        ({"criterion": "Greeting", "moments": [97]}, "not a moment"),
        ({"criterion": "Greeting", "moments": [float("nan")]}, "not a moment"),
        ({"criterion": "Greeting", "moments": ["0:12"]}, "not a moment"),
        ({"criterion": "Greeting", "moments": list(range(MAX_MOMENTS + 1))}, "at most"),
        ({"criterion": "Greeting", "moments": 12}, "at most"),
        ("Greeting", "not a table"),
    ],
)
def test_what_does_not_fit_the_grid_is_refused_in_one_line(item: object, said: str) -> None:
    with pytest.raises(AnalysisError) as e:
        marks_from(GRID, [item], duration_s=95.0)
    assert said in str(e.value) and "\n" not in str(e.value)


def test_a_criterion_twice_or_more_items_than_criteria_is_refused() -> None:
    with pytest.raises(AnalysisError, match="given twice"):
        marks_from(GRID, [{"criterion": "Greeting"}, {"name": "greeting"}])
    with pytest.raises(AnalysisError, match="at most 30 criteria"):
        marks_from(GRID, [{"criterion": "Greeting"}] * 31)
    with pytest.raises(AnalysisError, match="not valid TOML"):
        read_form(GRID, "[[mark]\n")
    with pytest.raises(AnalysisError, match="unknown key 'total'"):
        read_form(GRID, "total = 12\n")


def test_the_sealed_document_keeps_its_grid_and_is_checked_when_read() -> None:
    a = Analysis(
        "20261207T101500Z-0123abcd",
        GRID,
        marks_from(
            GRID, [{"criterion": "Greeting", "level": "acquired", "comment": "ok", "moments": [3]}]
        ),
    )
    doc = json.loads(json.dumps(document(a)))
    assert from_document(doc) == a  # the grid travels with it: a policy change keeps it readable
    assert set(doc) == {"recording", "training", "kind", "grid", "marks"}
    for hostile in (
        {**doc, "kind": "evaluation"},
        {**doc, "recording": 5},
        {**doc, "grid": []},
        {**doc, "grid": [{"name": "Greeting", "description": "scored /10"}]},
        {**doc, "grid": [{"name": "A"}, {"name": "a"}]},
        {**doc, "marks": [{"criterion": "Greeting", "level": 2}]},
        [doc],
    ):
        with pytest.raises(AnalysisError):
            from_document(hostile)


def test_the_text_says_each_level_in_words_and_moments_as_times() -> None:
    marks = (Mark("Greeting", "to_work_on", "Too fast.", (3725.0, 12.5)),
             Mark("Rephrasing", "not_seen"), Mark("Closing", "acquired"))  # fmt: skip
    a = Analysis("r", GRID, marks)
    assert describe(a) == [
        "Greeting — to work on", "    Too fast.", "    moments: 1:02:05, 0:12",
        "Rephrasing — not seen", "Closing — acquired",
    ]  # fmt: skip
    assert clock(59.9) == "0:59"
    assert not any(ch.isdigit() for line in describe(a) for ch in line if "moments" not in line)
