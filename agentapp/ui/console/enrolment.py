"""The Enrolment tab: who is enrolled in which training, until when, how often.

Threading: Qt thread only."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFormLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from agentapp.core.policy import VOICE_OFF, VOICE_SOFTPHONE, Enrolment
from agentapp.core.policy_writer import default_end
from agentapp.i18n import _, date
from agentapp.trainer.console import ConsoleModel, EnrolmentRow
from agentapp.ui.console.widgets import (
    DATE_FORMAT,
    Act,
    Say,
    date_of,
    fill,
    first_cell,
    lay_out,
    qdate,
    table,
)


class EnrolmentTab(QWidget):
    def __init__(self, model: ConsoleModel, say: Say, act: Act) -> None:
        super().__init__()
        self.model, self._say, self._act = model, say, act
        self.enrolled = table([_("Agent"), _("Training"), _("Start"), _("End"), _("Sampling"),
                               _("Quota/week"), _("State"), _("This week")])  # fmt: skip
        self.enrolled.itemSelectionChanged.connect(self._load_selected)
        self._rows: list[EnrolmentRow] = []
        self.agent = QLineEdit()
        self.training = QLineEdit()
        today = dt.date.today()
        self.start = QDateEdit(qdate(today))
        self.end = QDateEdit(qdate(default_end(today)))
        for d in (self.start, self.end):
            d.setCalendarPopup(True)
            d.setDisplayFormat(DATE_FORMAT)
        self.start.dateChanged.connect(lambda q: self.end.setDate(qdate(default_end(date_of(q)))))
        self.sampling = QSpinBox(minimum=1, maximum=100, value=30, suffix=" %")
        self.quota = QSpinBox(minimum=1, maximum=200, value=10, suffix=_(" per week"))
        self.fps = QSpinBox(minimum=0, maximum=30, value=0, suffix=_(" fps"))
        self.fps.setSpecialValueText(_("the policy's frame rate"))
        self._extension: str | None = None  # kept from the loaded row (not in the form)
        self.voice = QComboBox()
        for label, value in ((_("as the policy says"), None), (_("not recorded"), VOICE_OFF),
                             (_("from the softphone"), VOICE_SOFTPHONE)):  # fmt: skip
            self.voice.addItem(label, value)
        self.voice.setToolTip(_("Recording the call's voice needs the policy's [softphone] "
                                "table; the notice tells the agent"))  # fmt: skip
        form = QFormLayout()
        for label, w in ((_("Agent"), self.agent), (_("Training"), self.training),
                         (_("Start"), self.start), (_("End (required)"), self.end),
                         (_("Share of calls"), self.sampling), (_("At most"), self.quota),
                         (_("Frame rate"), self.fps),
                         (_("Call's voice"), self.voice)):  # fmt: skip
            form.addRow(label, w)
        self.enrol_button = QPushButton(_("Enrol / update"))
        self.enrol_button.clicked.connect(self._enrol)
        self.unenrol_button = QPushButton(_("Remove selected"))
        self.unenrol_button.clicked.connect(self._unenrol)
        lay_out(self, self.enrolled, form, [self.enrol_button, self.unenrol_button])

    def refresh(self) -> None:
        """ConsoleError when the draft cannot be read (the window says so)."""
        self._rows = self.model.enrolments()
        selected = self.enrolled.currentRow()
        self.enrolled.blockSignals(True)  # refilling is not the trainer choosing a row
        fill(self.enrolled, [[r.agent, r.training, date(r.start), date(r.end),
                              f"{r.sampling} %", str(r.quota), _(r.state),
                              _("{used} of {quota}").format(used=r.used, quota=r.quota)]
                             for r in self._rows])  # fmt: skip
        if 0 <= selected < len(self._rows):
            self.enrolled.selectRow(selected)
        self.enrolled.blockSignals(False)

    def _load_selected(self) -> None:
        """The selected agent's enrolment in the form: "Enrol / update" changes what it
        shows, never resets the other fields to defaults."""
        row = self.enrolled.currentRow()
        if not 0 <= row < len(self._rows):
            return
        r = self._rows[row]
        self.agent.setText(r.agent)
        self.training.setText(r.training)
        self.start.blockSignals(True)  # a loaded start does not move the loaded end
        self.start.setDate(qdate(r.start))
        self.start.blockSignals(False)
        self.end.setDate(qdate(r.end))
        self.sampling.setValue(r.sampling)
        self.quota.setValue(r.quota)
        self.fps.setValue(r.fps or 0)
        self._extension = r.extension
        self.voice.setCurrentIndex(max(0, self.voice.findData(r.voice)))

    def _enrol(self) -> None:
        agent = self.agent.text().strip()
        loaded = next((r for r in self._rows if r.agent == agent), None)
        e = Enrolment(agent, self.training.text().strip(),
                      date_of(self.start.date()), date_of(self.end.date()), self.sampling.value(),
                      self.quota.value(), self.fps.value() or None,
                      loaded.extension if loaded else None, self.voice.currentData())  # fmt: skip
        if not e.agent or not e.training:
            self._say(_("Refused: give the agent and the training"))
            return
        self._act(lambda: _("draft version {version}: {agent} enrolled in “{training}” until "
                            "{end} — publish to apply").format(
            version=self.model.enrol(e).version, agent=e.agent, training=e.training,
            end=date(e.end)))  # fmt: skip

    def _unenrol(self) -> None:
        row = self.enrolled.currentRow()
        if row < 0:
            self._say(_("Select an agent first"))
            return
        agent = first_cell(self.enrolled, row)
        self._act(lambda: _("draft version {version}: {agent} removed — publish to apply")
                  .format(version=self.model.unenrol(agent).version, agent=agent))  # fmt: skip
