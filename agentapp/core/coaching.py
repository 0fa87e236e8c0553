"""A coaching record: what a trainer and a trainee agreed at a coaching session about one
recording — the trainer's analysis and the trainee's own review side by side (core/analysis.py),
the next steps, and the session's date. A training document (R1): words, comments and
moments, never a score; kept a year at most from its writing (R9), with the analyses it holds
copied in, so that it stands whole when the recording (six months) has gone.

Pure: no I/O. Threading: immutable values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentapp.core.analysis import (
    Analysis,
    AnalysisError,
    Mark,
    clock,
    document,
    from_document,
    level_word,
)
from agentapp.i18n import _

MAX_STEPS = 4_000  # characters of agreed next steps
KINDS = ("trainer", "self-review")
SESSION_AHEAD_DAYS = 90  # a session is dated at most this far ahead of today


@dataclass(frozen=True, slots=True)
class Coaching:
    recording: str
    training: str
    trainee: str
    session: dt.date
    next_steps: str
    trainer: Analysis | None = None
    self_review: Analysis | None = None


def check_session(call: dt.date, session: dt.date, today: dt.date) -> None:
    """A session is dated from the call's day to SESSION_AHEAD_DAYS ahead of today;
    AnalysisError in one line otherwise."""
    last = today + dt.timedelta(days=SESSION_AHEAD_DAYS)
    if not call <= session <= last:
        raise AnalysisError(
            _("the session's date must be between the call ({start}) and {last}").format(
                start=call.isoformat(), last=last.isoformat()
            )
        )


def coaching(
    recording: str,
    training: str,
    trainee: str,
    session: dt.date,
    next_steps: str,
    trainer: Analysis | None,
    self_review: Analysis | None,
) -> Coaching:
    """A record checked: the analyses are of this recording and of their kind, the next steps
    are text of a bounded size. AnalysisError in one line otherwise."""
    for a, kind in ((trainer, "trainer"), (self_review, "self-review")):
        if a is not None and (a.recording != recording or a.kind != kind):
            raise AnalysisError(
                _("the {kind} analysis given is not of recording {id}").format(
                    kind=kind, id=recording
                )
            )
    steps = next_steps.strip()
    if not steps:
        raise AnalysisError(_("write the next steps agreed at the session"))
    if len(steps) > MAX_STEPS or any(ord(c) < 32 and c not in "\n\t" for c in steps):
        raise AnalysisError(
            _("the next steps are plain text of at most {n} characters").format(n=MAX_STEPS)
        )
    return Coaching(recording, training, trainee, session, steps, trainer, self_review)


def to_document(c: Coaching) -> dict[str, Any]:
    return {
        "recording": c.recording,
        "training": c.training,
        "trainee": c.trainee,
        "session": c.session.isoformat(),
        "next_steps": c.next_steps,
        "trainer": document(c.trainer) if c.trainer else None,
        "self_review": document(c.self_review) if c.self_review else None,
    }


def from_record(doc: object) -> Coaching:
    """An unsealed record read back, every part checked again."""
    if not isinstance(doc, Mapping):
        raise AnalysisError(_("not a coaching record"))
    try:
        session = dt.date.fromisoformat(str(doc.get("session")))
    except ValueError:
        raise AnalysisError(_("not a coaching record")) from None
    fields = [doc.get(k) for k in ("recording", "training", "trainee", "next_steps")]
    if not all(isinstance(v, str) for v in fields):
        raise AnalysisError(_("not a coaching record"))
    rid, training, trainee, steps = (str(v) for v in fields)
    trainer = from_document(doc["trainer"]) if doc.get("trainer") is not None else None
    own = from_document(doc["self_review"]) if doc.get("self_review") is not None else None
    return coaching(rid, training, trainee, session, steps, trainer, own)


@dataclass(frozen=True, slots=True)
class Row:
    """One criterion as both saw it (None: that side did not give this criterion)."""

    criterion: str
    trainer: Mark | None
    trainee: Mark | None


def side_by_side(c: Coaching) -> list[Row]:
    """The criteria of both analyses in the trainer's order, then any only the trainee's
    grid has."""
    mine = {m.criterion: m for m in c.trainer.marks} if c.trainer else {}
    theirs = {m.criterion: m for m in c.self_review.marks} if c.self_review else {}
    names = list(mine) + [n for n in theirs if n not in mine]
    return [Row(n, mine.get(n), theirs.get(n)) for n in names]


def said(mark: Mark | None) -> str:
    """A mark in a line: its word, its comment, its moments ('—' when not given)."""
    if mark is None:
        return "—"
    parts = [level_word(mark.level)]
    if mark.comment:
        parts.append(" ".join(mark.comment.split()))
    if mark.moments:
        parts.append(_("moments: {list}").format(list=", ".join(clock(t) for t in mark.moments)))
    return " — ".join(parts)
