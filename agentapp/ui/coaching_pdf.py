"""A coaching record as a PDF for the session: text only, drawn by Qt's own PDF writer (the
fonts Qt embeds; no frame, no image: R11). The file is new (never written over another one);
the caller lists it for the purge before it is written (vault/coaching.py `list_pdf`).

Threading: the thread that made the Qt application (one is made here, off-screen, for the
command line: ui/watermark.py).
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from PySide6.QtCore import QMarginsF
from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPdfWriter, QTextDocument

from agentapp.core.coaching import Coaching, said, side_by_side
from agentapp.i18n import _, date
from agentapp.ui.watermark import ensure_app


def coaching_html(c: Coaching, author: str) -> str:
    """The record as simple HTML: headings, a table of the criteria, the next steps."""
    rows = "".join(
        f"<tr><td>{escape(r.criterion)}</td><td>{escape(said(r.trainer))}</td>"
        f"<td>{escape(said(r.trainee))}</td></tr>"
        for r in side_by_side(c)
    )
    facts = [
        (_("Trainee"), c.trainee),
        (_("Training"), c.training),
        (_("Call recording"), c.recording),
        (_("Session"), date(c.session)),
        (_("Written by"), author),
    ]
    fact = _("{name}: {value}")
    lines = "".join(f"<p>{escape(fact.format(name=k, value=v))}</p>" for k, v in facts)
    steps = "<br/>".join(escape(line) for line in c.next_steps.splitlines())
    about = _("A training document (rule R1): words, never a score. Kept one year at most; "
              "destroy this copy after the session.")  # fmt: skip
    title, steps_title = _("Coaching record"), _("Next steps agreed")
    heads = (_("Criterion"), _("Trainer"), _("Trainee (own review)"))
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    return (
        f"<h2>{escape(title)}</h2>{lines}<p><i>{escape(about)}</i></p>"
        f"<table border='1' cellpadding='4' cellspacing='0' width='100%'><tr>{head}</tr>"
        f"{rows}</table><h3>{escape(steps_title)}</h3><p>{steps}</p>"
    )


def write_pdf(c: Coaching, author: str, out: Path) -> None:
    """The record as a new PDF file `out` (0600). FileExistsError if it exists."""
    ensure_app()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.close(fd)
    writer = QPdfWriter(str(out))
    writer.setTitle(_("Coaching record"))
    writer.setCreator("agentapp")
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                     QPageLayout.Orientation.Portrait,
                                     QMarginsF(15, 15, 15, 15)))  # fmt: skip
    doc = QTextDocument()
    # no ligatures: an id or a word copied from the PDF must be its own letters ("ff" in a
    # recording id was one glyph, U+FB00, that no search or command line matches)
    font = doc.defaultFont()
    for tag in ("liga", "clig", "dlig"):
        font.setFeature(QFont.Tag(tag), 0)
    doc.setDefaultFont(font)
    doc.setHtml(coaching_html(c, author))
    doc.print_(writer)
