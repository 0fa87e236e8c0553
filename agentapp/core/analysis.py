"""An analysis of one recording on its training's grid (core/grid.py): for each criterion, one
of the four levels, a comment and moments of the recording. A training document (R1): no
number but the moments (seconds from the off-hook), nothing added up or compared.

What a trainer writes arrives as a TOML form (`form` gives it, with the grid's criteria in
order) or, sealed, as the JSON document `document` makes. Both come from elsewhere (a file a
person edited, a folder someone else can write): `marks_from` checks every field's type, size
and value against the grid and refuses what is not one of its criteria or levels, in one line.

Pure: no I/O. Threading: immutable values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from agentapp.core.errors import Refusal
from agentapp.core.grid import (
    LEVELS,
    MAX_CRITERIA,
    MAX_DESCRIPTION,
    MAX_NAME,
    Criterion,
    Grid,
    scored,
)
from agentapp.i18n import _

MAX_COMMENT = 2_000  # characters per criterion
MAX_MOMENTS = 20  # per criterion
NOT_SEEN = "not_seen"
# what a French or English trainer may write for a level, besides its code
_LEVEL_WORDS = {
    "acquired": ("acquis", "acquired"),
    "in_progress": ("en cours", "in progress"),
    "to_work_on": ("à travailler", "a travailler", "to work on"),
    "not_seen": ("non observé", "non observe", "not seen"),
}
_CODES = tuple(code for code, _word in LEVELS)


class AnalysisError(Refusal):
    """A form or a document that does not fit its grid: one line, for the person."""


@dataclass(frozen=True, slots=True)
class Mark:
    """One criterion, as observed in one recording."""

    criterion: str
    level: str  # one of core/grid.LEVELS' codes
    comment: str = ""
    moments: tuple[float, ...] = ()  # seconds from the off-hook, in order


@dataclass(frozen=True, slots=True)
class Analysis:
    """A grid filled on one recording (`kind`: the trainer's, or the trainee's own review).
    It keeps the grid it was written on: the policy's grid may change during the year the
    analysis is kept."""

    recording: str
    grid: Grid
    marks: tuple[Mark, ...]
    kind: str = "trainer"

    @property
    def training(self) -> str:
        return self.grid.training


KINDS = ("trainer", "self-review")


def level_word(code: str) -> str:
    """The level's word in the person's language."""
    return _(dict(LEVELS)[code])


def _level(value: object, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str):
        raise AnalysisError(
            _(
                "{where}: the level is one of acquired, in progress, to work on, not seen "
                "(never a number: rule R1)"
            ).format(where=where)
        )
    said = " ".join(value.split()).casefold().replace("-", "_")
    for code, words in _LEVEL_WORDS.items():
        if said == code or said in words:
            return code
    raise AnalysisError(
        _("{where}: {value!r} is not a level (acquired, in progress, to work on, not seen)").format(
            where=where, value=value[:40]
        )
    )


def _comment(value: object, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AnalysisError(_("{where}: the comment is text").format(where=where))
    if len(value) > MAX_COMMENT:
        raise AnalysisError(
            _("{where}: the comment is longer than {n} characters").format(
                where=where, n=MAX_COMMENT
            )
        )
    if any((ord(c) < 32 and c not in "\n\t") or ord(c) == 127 for c in value):
        raise AnalysisError(_("{where}: the comment holds control characters").format(where=where))
    return value.strip()


def _moments(value: object, where: str, duration_s: float | None) -> tuple[float, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or len(value) > MAX_MOMENTS:
        raise AnalysisError(
            _("{where}: moments are a list of at most {n} times in seconds").format(
                where=where, n=MAX_MOMENTS
            )
        )
    out = []
    for m in value:
        ok = isinstance(m, int | float) and not isinstance(m, bool) and math.isfinite(m)
        if not ok or m < 0 or (duration_s is not None and m > duration_s + 1):
            raise AnalysisError(
                _(
                    "{where}: {m!r} is not a moment of this recording (seconds from the off-hook)"
                ).format(where=where, m=m)
            )
        out.append(round(float(m), 1))
    return tuple(sorted(set(out)))


def marks_from(grid: Grid, items: object, duration_s: float | None = None) -> tuple[Mark, ...]:
    """The marks a form or a document gives (a list of tables: criterion/name, level,
    comment, moments), one per criterion of `grid` in its order; a criterion left out is
    not seen. AnalysisError for anything else."""
    if not isinstance(items, list | tuple) or len(items) > MAX_CRITERIA:
        raise AnalysisError(
            _("an analysis is a list of at most {n} criteria").format(n=MAX_CRITERIA)
        )
    names = {c.name.casefold(): c.name for c in grid.criteria}
    given: dict[str, Mark] = {}
    for n, item in enumerate(items, 1):
        where = _("criterion {n}").format(n=n)
        if not isinstance(item, Mapping):
            raise AnalysisError(_("{where}: not a table").format(where=where))
        unknown = set(item) - {"criterion", "name", "level", "comment", "moments"}
        if unknown:
            raise AnalysisError(
                _("{where}: unknown field {key!r} (a criterion has a level, a comment and "
                  "moments; never a score: rule R1)").format(where=where, key=sorted(unknown)[0])
            )  # fmt: skip
        raw = item.get("criterion", item.get("name"))
        name = names.get(raw.strip().casefold()) if isinstance(raw, str) else None
        if name is None:
            raise AnalysisError(
                _("{where}: {name!r} is not a criterion of the grid of '{training}'").format(
                    where=where, name=str(raw)[:80], training=grid.training
                )
            )
        if name in given:
            raise AnalysisError(_("{name!r} is given twice").format(name=name))
        where = repr(name)
        given[name] = Mark(name, _level(item.get("level", NOT_SEEN), where),
                           _comment(item.get("comment"), where),
                           _moments(item.get("moments"), where, duration_s))  # fmt: skip
    return tuple(given.get(c.name) or Mark(c.name, NOT_SEEN) for c in grid.criteria)


def document(a: Analysis) -> dict[str, Any]:
    """What is sealed: the analysis and its grid as plain JSON values."""
    return {
        "recording": a.recording,
        "training": a.training,
        "kind": a.kind,
        "grid": [{"name": c.name, "description": c.description} for c in a.grid.criteria],
        "marks": [asdict(m) | {"moments": list(m.moments)} for m in a.marks],
    }


def from_document(doc: object) -> Analysis:
    """An unsealed document read back: its grid checked as the policy checks one (sizes, no
    score), then its marks against that grid."""
    if not isinstance(doc, Mapping) or doc.get("kind") not in KINDS:
        raise AnalysisError(_("not an analysis"))
    recording, training, items = doc.get("recording"), doc.get("training"), doc.get("grid")
    if not (isinstance(recording, str) and isinstance(training, str) and isinstance(items, list)):
        raise AnalysisError(_("not an analysis"))
    if not 0 < len(items) <= MAX_CRITERIA:
        raise AnalysisError(_("not an analysis"))
    criteria = []
    for c in items:
        name = c.get("name") if isinstance(c, Mapping) else None
        text = c.get("description", "") if isinstance(c, Mapping) else None
        if not (isinstance(name, str) and isinstance(text, str)) or len(name) > MAX_NAME or \
                len(text) > MAX_DESCRIPTION or scored(name) or scored(text):  # fmt: skip
            raise AnalysisError(_("not an analysis: a criterion of its grid is not one"))
        criteria.append(Criterion(name, text))
    if len({c.name.casefold() for c in criteria}) != len(criteria):
        raise AnalysisError(_("not an analysis: a criterion of its grid is not one"))
    grid = Grid(training, tuple(criteria))
    return Analysis(recording, grid, marks_from(grid, doc.get("marks")), str(doc["kind"]))


def form(grid: Grid, recording: str, duration_s: float | None = None) -> str:
    """A TOML form to fill for `recording`: each criterion with its description, the levels
    to choose from, an empty comment and no moment."""
    import tomlkit

    doc = tomlkit.document()
    doc.add(tomlkit.comment(_("Analysis grid of training '{training}', recording {id}").format(
        training=grid.training, id=recording)))  # fmt: skip
    doc.add(
        tomlkit.comment(
            _(
                "level: acquired, in progress, to work on or not seen (in French: "
                "acquis, en cours, à travailler, non observé); never a score"
            )
        )
    )
    if duration_s is not None:
        doc.add(tomlkit.comment(_("moments: seconds from the off-hook, 0 to {d:.0f}").format(
            d=duration_s)))  # fmt: skip
    items = tomlkit.aot()
    for c in grid.criteria:
        t = tomlkit.table()
        t.add("criterion", c.name)
        if c.description:
            t.add(tomlkit.comment(" ".join(c.description.split())))
        t.add("level", level_word(NOT_SEEN))
        t.add("comment", "")
        t.add("moments", tomlkit.array())
        items.append(t)
    doc.add("mark", items)
    return tomlkit.dumps(doc)


def read_form(grid: Grid, text: str, duration_s: float | None = None) -> tuple[Mark, ...]:
    """A filled form (`form`) as marks; AnalysisError for a form that is not TOML or does not
    fit the grid."""
    return marks_from(grid, form_items(text), duration_s)


def form_items(text: str) -> object:
    """The [[mark]] tables of a filled form, unchecked (`marks_from` checks them);
    AnalysisError for a form that is not TOML or holds anything else."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AnalysisError(_("the form is not valid TOML: {exc}").format(exc=exc)) from None
    extra = set(data) - {"mark"}
    if extra:
        raise AnalysisError(
            _("unknown key {key!r} in the form (it holds [[mark]] tables only)").format(
                key=sorted(extra)[0]
            )
        )
    return data.get("mark", [])


def describe(a: Analysis) -> list[str]:
    """The analysis as lines of text, in the person's language."""
    lines = []
    for m in a.marks:
        lines.append(f"{m.criterion} — {level_word(m.level)}")
        lines += [f"    {line}" for line in m.comment.splitlines()]
        if m.moments:
            lines.append("    " + _("moments: {list}").format(
                list=", ".join(clock(t) for t in m.moments)))  # fmt: skip
    return lines


def clock(seconds: float) -> str:
    """12.5 → '0:12'; 3725 → '1:02:05'."""
    s = int(seconds)
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"
