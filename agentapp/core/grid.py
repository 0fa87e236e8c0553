"""A training's analysis grid: the criteria its trainers observe in a recording (R1).

The grid is a training document, not an evaluation: each criterion is named and described,
and on a recording it gets one of four words (`LEVELS`), a comment and moments of the
recording; never a number. So the policy refuses a criterion that carries a weight, points or
any other number, or whose text is a scale ("/10", "%", "3 points", "score", "barème"), and
the levels are fixed here, not a setting a site could turn into a scale.

Pure: no I/O. Threading: immutable values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agentapp.core.tables import TableReader
from agentapp.i18n import N_, _

# Stable codes (stored with an analysis) and their words, French first in the interface.
LEVELS: tuple[tuple[str, str], ...] = (
    ("acquired", N_("acquired")),
    ("in_progress", N_("in progress")),
    ("to_work_on", N_("to work on")),
    ("not_seen", N_("not seen")),
)
MAX_CRITERIA = 30
MAX_NAME = 80
MAX_DESCRIPTION = 500
TEXT_KEYS = ("name", "description")
# Keys a scoring form would have; any other unknown key is refused as a typo.
SCORE_KEYS = frozenset({
    "weight", "weights", "points", "score", "scores", "max", "min", "coefficient", "coef",
    "scale", "rating", "grade", "bareme", "barème", "ponderation", "pondération", "total",
    "value", "level", "levels",
})  # fmt: skip
# A number made a scale ("/10", "80 %", "3 pts") or a word of scoring, in English or French.
# (Plain numbers stay allowed: "greets in 3 steps" is an observation.)
_SCALE = re.compile(
    r"/\s*\d|\d\s*(?:%|pts?\b|points?\b)"
    r"|\b(?:scores?|scoring|barèmes?|baremes?|coefficients?|pondérations?|ponderations?"
    r"|weights?|weighting|ratings?|notations?|notés?\s+sur|graded?)\b",
    re.IGNORECASE,
)
_NOT_SCORED = N_(
    "'{key}': a grid criterion is observed, never scored (no points, weights, scales or "
    "totals: rule R1, training and not evaluation); on a recording it is marked acquired, "
    "in progress, to work on or not seen"
)


@dataclass(frozen=True, slots=True)
class Criterion:
    """What the trainers look for (`name`, ≤ MAX_NAME) and how they know it (`description`)."""

    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Grid:
    """One training's criteria, in the order the policy gives them."""

    training: str
    criteria: tuple[Criterion, ...]


def scored(text: str) -> bool:
    """Does this text read as a score or a scale rather than an observation?"""
    return _SCALE.search(text) is not None


def parse_grids(
    tables: Iterable[TableReader],
    trainings: set[str],
    error: Callable[[str, str], Exception],
) -> tuple[Grid, ...]:
    """The policy's [[grid]] tables, one per known training, or `error(message, where)`."""
    grids: list[Grid] = []
    for t in tables:
        grid = _grid(t, error)
        if grid.training not in trainings:
            raise error(
                _("a grid for training '{training}', which no agent or trainer has").format(
                    training=grid.training
                ),
                t.where,
            )
        if any(g.training == grid.training for g in grids):
            raise error(
                _("training '{training}' has two grids").format(training=grid.training), t.where
            )
        grids.append(grid)
    return tuple(grids)


def _grid(t: TableReader, error: Callable[[str, str], Exception]) -> Grid:
    training = t.text("training").strip()
    _refuse_scoring(t, ("training", "criterion"), error)
    criteria = tuple(_criterion(c, error) for c in t.tables("criterion"))
    t.done()
    if not criteria:
        raise error(_("a grid needs at least one [[grid.criterion]]"), t.where)
    if len(criteria) > MAX_CRITERIA:
        raise error(_("a grid has at most {n} criteria").format(n=MAX_CRITERIA), t.where)
    names = [c.name.casefold() for c in criteria]
    if len(set(names)) != len(names):
        raise error(_("a grid names the same criterion twice"), t.where)
    return Grid(training, criteria)


def _criterion(t: TableReader, error: Callable[[str, str], Exception]) -> Criterion:
    _refuse_scoring(t, TEXT_KEYS, error)
    name = t.text("name").strip()
    description = t.text("description", default="").strip()
    t.done()
    if len(name) > MAX_NAME or len(description) > MAX_DESCRIPTION:
        raise error(
            _("a criterion's name has at most {name} characters, its description {text}").format(
                name=MAX_NAME, text=MAX_DESCRIPTION
            ),
            t.where,
        )
    if scored(name) or scored(description):
        raise error(_(_NOT_SCORED).format(key=name), t.where)
    return Criterion(name, description)


def _refuse_scoring(
    t: TableReader, allowed: tuple[str, ...], error: Callable[[str, str], Exception]
) -> None:
    """Any other key of the table that holds a number or names a score is refused as a
    score (other unknown keys are left to `done`, as typos)."""
    for key, value in t.raw().items():
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if key not in allowed and (numeric or key.casefold() in SCORE_KEYS):
            raise error(_(_NOT_SCORED).format(key=key), t.where)
