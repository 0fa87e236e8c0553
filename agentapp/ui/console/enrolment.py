"""The Enrolment tab: who is enrolled in which training, until when, how often.

Threading: Qt thread only."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QDateEdit, QFormLayout, QLineEdit, QPushButton, QSpinBox, QWidget

from agentapp.console import ConsoleModel
from agentapp.core.policy import Enrolment
from agentapp.core.policy_writer import default_end
from agentapp.ui.console.widgets import Act, Say, date_of, fill, first_cell, lay_out, qdate, table


class EnrolmentTab(QWidget):
    def __init__(self, model: ConsoleModel, say: Say, act: Act) -> None:
        super().__init__()
        self.model, self._say, self._act = model, say, act
        self.enrolled = table(["Agent", "Training", "Start", "End", "Sampling", "Quota/week",
                               "State", "This week"])  # fmt: skip
        self.agent = QLineEdit()
        self.training = QLineEdit()
        today = dt.date.today()
        self.start = QDateEdit(qdate(today))
        self.end = QDateEdit(qdate(default_end(today)))
        for d in (self.start, self.end):
            d.setCalendarPopup(True)
            d.setDisplayFormat("yyyy-MM-dd")
        self.start.dateChanged.connect(lambda q: self.end.setDate(qdate(default_end(date_of(q)))))
        self.sampling = QSpinBox(minimum=1, maximum=100, value=30, suffix=" %")
        self.quota = QSpinBox(minimum=1, maximum=200, value=10, suffix=" per week")
        self.fps = QSpinBox(minimum=0, maximum=30, value=0, suffix=" fps")
        self.fps.setSpecialValueText("the policy's frame rate")
        form = QFormLayout()
        for label, w in (("Agent", self.agent), ("Training", self.training), ("Start", self.start),
                         ("End (required)", self.end), ("Share of calls", self.sampling),
                         ("At most", self.quota), ("Frame rate", self.fps)):  # fmt: skip
            form.addRow(label, w)
        self.enrol_button = QPushButton("Enrol / update")
        self.enrol_button.clicked.connect(self._enrol)
        self.unenrol_button = QPushButton("Remove selected")
        self.unenrol_button.clicked.connect(self._unenrol)
        lay_out(self, self.enrolled, form, [self.enrol_button, self.unenrol_button])

    def refresh(self) -> None:
        """ConsoleError when the draft cannot be read (the window says so)."""
        fill(self.enrolled, [[r.agent, r.training, str(r.start), str(r.end), f"{r.sampling} %",
                              str(r.quota), r.state, f"{r.used} of {r.quota}"]
                             for r in self.model.enrolments()])  # fmt: skip

    def _enrol(self) -> None:
        e = Enrolment(self.agent.text().strip(), self.training.text().strip(),
                      date_of(self.start.date()), date_of(self.end.date()), self.sampling.value(),
                      self.quota.value(), self.fps.value() or None)  # fmt: skip
        if not e.agent or not e.training:
            self._say("Refused: give the agent and the training")
            return
        self._act(lambda: f"draft version {self.model.enrol(e).version}: {e.agent} enrolled "
                  f"in '{e.training}' until {e.end} — publish to apply")  # fmt: skip

    def _unenrol(self) -> None:
        row = self.enrolled.currentRow()
        if row < 0:
            self._say("Select an agent first")
            return
        agent = first_cell(self.enrolled, row)
        self._act(lambda: f"draft version {self.model.unenrol(agent).version}: {agent} "
                  "removed — publish to apply")  # fmt: skip
