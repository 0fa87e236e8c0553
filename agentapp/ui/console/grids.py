"""The Analysis grids tab: each training's criteria, as the draft policy gives them; a
criterion added, replaced or removed in the draft (published with the rest). A criterion is
observed, never scored: the draft refuses points, weights and scales in one line (R1).

Threading: Qt thread only."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFormLayout, QLineEdit, QPushButton, QWidget

from agentapp.core.grid import Criterion
from agentapp.i18n import _
from agentapp.trainer.console import ConsoleModel
from agentapp.ui.console.widgets import Act, Say, fill, first_cell, lay_out, table


class GridsTab(QWidget):
    def __init__(self, model: ConsoleModel, say: Say, act: Act) -> None:
        super().__init__()
        self.model, self._say, self._act = model, say, act
        self.training = QComboBox()
        self.training.setEditable(True)  # a training the draft names, or a new one's name
        self.training.currentTextChanged.connect(lambda _text: self._show())
        self.criteria = table([_("Criterion"), _("What the trainer looks for")])
        self.name, self.description = QLineEdit(), QLineEdit()
        self.description.setPlaceholderText(_("what shows it in a call; never points or a scale"))
        form = QFormLayout()
        for label, w in ((_("Training"), self.training), (_("Criterion"), self.name),
                         (_("Description"), self.description)):  # fmt: skip
            form.addRow(label, w)
        add = QPushButton(_("Add / update"))
        add.clicked.connect(self.add_criterion)
        remove = QPushButton(_("Remove selected"))
        remove.clicked.connect(self.remove_criterion)
        lay_out(self, self.criteria, form, [add, remove])

    def refresh(self) -> None:
        """ConsoleError when the draft cannot be read (the window says so)."""
        draft = self.model.draft()
        chosen = self.training.currentText()
        names = sorted({e.training for e in draft.enrolments}
                       | {t for tr in draft.trainers for t in tr.trainings})  # fmt: skip
        self.training.blockSignals(True)
        self.training.clear()
        self.training.addItems(names)
        self.training.setCurrentText(chosen or (names[0] if names else ""))
        self.training.blockSignals(False)
        self._show()

    def _show(self) -> None:
        grid = self.model.draft().grid_for(self.training.currentText().strip())
        fill(self.criteria, [[c.name, c.description] for c in (grid.criteria if grid else ())])

    def add_criterion(self) -> None:
        training, name = self.training.currentText().strip(), self.name.text().strip()
        if not training or not name:
            self._say(_("Refused: give a training and a criterion"))
            return
        c = Criterion(name, self.description.text().strip())

        def add() -> str:
            self.model.set_criterion(training, c)
            return _("criterion '{name}' in the grid of '{training}' (draft: publish it)").format(
                name=name, training=training)  # fmt: skip

        self._act(add)

    def remove_criterion(self) -> None:
        row = self.criteria.currentRow()
        if row < 0:
            self._say(_("Select a criterion first"))
            return
        training, name = self.training.currentText().strip(), first_cell(self.criteria, row)

        def remove() -> str:
            self.model.remove_criterion(training, name)
            return _("criterion '{name}' removed (draft: publish it)").format(name=name)

        self._act(remove)
