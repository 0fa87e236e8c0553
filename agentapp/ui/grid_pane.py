"""The training's analysis grid beside the player (R1): for each criterion a word (a list of the
four levels), a comment, and the moments of the call it is seen in, each one click on the
timeline. No field takes a number; the marks are checked and sealed by the console's model
(trainer/analyses.py), which says in one line what it refuses.

Threading: the Qt thread.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from agentapp.core.analysis import MAX_COMMENT, MAX_MOMENTS, NOT_SEEN, clock
from agentapp.core.errors import Refusal
from agentapp.core.grid import LEVELS, Criterion, Grid
from agentapp.i18n import _


class CriterionBox(QGroupBox):
    """One criterion: its level, its comment, its moments."""

    def __init__(self, criterion: Criterion, on_pick: Callable[[CriterionBox], None]) -> None:
        super().__init__(criterion.name)
        self.criterion = criterion
        self.setToolTip(criterion.description)
        self.level = QComboBox()
        for code, words in LEVELS:
            self.level.addItem(_(words), code)
        self.level.setCurrentIndex([c for c, _w in LEVELS].index(NOT_SEEN))
        self.comment = QPlainTextEdit()
        self.comment.setPlaceholderText(_("What was seen, what to work on…"))
        self.comment.setMaximumHeight(64)
        self.moments: list[float] = []
        self.shown = QLabel()
        self.pick = QPushButton(_("Mark moments on the timeline"))
        self.pick.setCheckable(True)
        self.pick.setToolTip(_("While this is pressed, each click on the timeline is a moment "
                               "of this criterion"))  # fmt: skip
        self.pick.toggled.connect(lambda on: on_pick(self) if on else None)
        clear = QPushButton(_("Clear"))
        clear.clicked.connect(self.clear_moments)
        row = QHBoxLayout()
        row.addWidget(self.shown, 1)
        row.addWidget(self.pick)
        row.addWidget(clear)
        layout = QVBoxLayout(self)
        if criterion.description:
            about = QLabel(criterion.description)
            about.setWordWrap(True)
            layout.addWidget(about)
        layout.addWidget(self.level)
        layout.addWidget(self.comment)
        layout.addLayout(row)
        self._show_moments()

    def add_moment(self, t: float) -> None:
        if len(self.moments) < MAX_MOMENTS:
            self.moments = sorted({*self.moments, round(t, 1)})
        self._show_moments()

    def clear_moments(self) -> None:
        self.moments = []
        self._show_moments()

    def _show_moments(self) -> None:
        said = ", ".join(clock(t) for t in self.moments) or "—"
        self.shown.setText(_("moments: {list}").format(list=said))

    def item(self) -> dict[str, object]:
        return {"criterion": self.criterion.name, "level": self.level.currentData(),
                "comment": self.comment.toPlainText()[: MAX_COMMENT + 1],
                "moments": list(self.moments)}  # fmt: skip


class GridPane(QWidget):
    """The grid of `grid` to fill; `save(items)` seals the marks and returns what to say
    (raises Refusal with one line for the trainer)."""

    def __init__(
        self,
        grid: Grid,
        save: Callable[[list[dict[str, object]]], str],
        self_review: bool = False,
    ) -> None:
        """`self_review`: the trainee's own review of their call (the words say so)."""
        super().__init__()
        self.setObjectName("agentapp-grid")
        self._save = save
        heading = _("My review — {training}") if self_review else _("Analysis grid — {training}")
        title = QLabel(heading.format(training=grid.training))
        title.setWordWrap(True)
        hint = QLabel(_("A word for each criterion, never a score (rule R1). Sealed for the "
                        "training's trainers, kept one year."))  # fmt: skip
        hint.setWordWrap(True)
        self.boxes = [CriterionBox(c, self._picking) for c in grid.criteria]
        inner = QWidget()
        column = QVBoxLayout(inner)
        for box in self.boxes:
            column.addWidget(box)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        self.save_button = QPushButton(_("Save the analysis (sealed)"))
        self.save_button.clicked.connect(self.save)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.save_button)
        layout.addWidget(self.status)
        self.setMinimumWidth(320)

    def _picking(self, chosen: CriterionBox) -> None:
        """One criterion takes the timeline's clicks at a time."""
        for box in self.boxes:
            if box is not chosen:
                box.pick.setChecked(False)

    def timeline_clicked(self, t: float) -> None:
        """A click on the player's timeline: a moment of the criterion taking them, if any."""
        for box in self.boxes:
            if box.pick.isChecked():
                box.add_moment(t)

    def items(self) -> list[dict[str, object]]:
        return [box.item() for box in self.boxes]

    def save(self) -> None:
        try:
            self.status.setText(self._save(self.items()))
        except Refusal as exc:
            self.status.setText(_("Not saved: {reason}").format(reason=exc))
