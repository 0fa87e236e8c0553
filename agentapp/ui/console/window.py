"""The trainer console's window: its tabs (one widget each), a status line, and the one
way a tab acts (`act`: the model's answer or refusal in the status, then every tab shown
again). A trainee's own view (`mine`) has the Recordings tab only.

Threading: Qt thread only.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget

from agentapp.i18n import N_, _, ngettext
from agentapp.platform.base import WindowInfo
from agentapp.trainer.console import ConsoleError, ConsoleModel
from agentapp.ui.console.applications import ApplicationsTab
from agentapp.ui.console.enrolment import EnrolmentTab
from agentapp.ui.console.grids import GridsTab
from agentapp.ui.console.publish import PublishTab
from agentapp.ui.console.recordings import ReasonAsker, RecordingsTab, ask_reason

ROLES = {"admin": N_("admin"), "trainer": N_("trainer"), "agent": N_("agent")}


class ConsoleWindow(QMainWindow):
    def __init__(
        self,
        model: ConsoleModel,
        windows: Callable[[], list[WindowInfo]],
        private_key_loader: Callable[[str], object],
        reason: ReasonAsker = ask_reason,
        pick: Callable[[], WindowInfo | None] | None = None,
    ) -> None:
        """`pick` waits for a click on a window (the locator's `pick`); None: list only."""
        super().__init__()
        self.setObjectName("agentapp-console")
        self.model = model
        who = model.person()
        role = _(ROLES.get(who.role, who.role))
        title = _("agentapp console — {name} ({role})").format(name=who.name, role=role)
        self.setWindowTitle(title + (_(" — my recordings") if model.mine else ""))
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.tabs = QTabWidget()
        self.enrolment: EnrolmentTab | None = None
        self.applications: ApplicationsTab | None = None
        self.grids: GridsTab | None = None
        self.publishing: PublishTab | None = None
        if not model.mine:
            self.enrolment = EnrolmentTab(model, self.say, self.act)
            self.applications = ApplicationsTab(model, self.say, self.act, windows, pick)
            self.grids = GridsTab(model, self.say, self.act)
            self.publishing = PublishTab(model, self.act)
            self.tabs.addTab(self.enrolment, _("Enrolment"))
            self.tabs.addTab(self.applications, _("Business windows"))
            self.tabs.addTab(self.grids, _("Analysis grids"))
            self.tabs.addTab(self.publishing, _("Publish"))
        self.recordings = RecordingsTab(model, self.say, self.act, private_key_loader, reason)
        self.tabs.addTab(self.recordings, _("Recordings"))
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        self.setCentralWidget(body)
        self.resize(980, 620)
        purged = model.purge()
        self.refresh()
        if purged:
            self.say(ngettext("{n} recording or note past its deadline deleted at the site",
                              "{n} recordings or notes past their deadline deleted at the site",
                              purged).format(n=purged))  # fmt: skip

    def say(self, text: str) -> None:
        self.status.setText(text)

    def act(self, action: Callable[[], str]) -> None:
        try:
            self.say(action())
        except ConsoleError as exc:
            self.say(_("Refused: {reason}").format(reason=exc))
        self.refresh()

    def refresh(self) -> None:
        try:
            tabs = (self.enrolment, self.applications, self.grids, self.publishing,
                    self.recordings)  # fmt: skip
            for tab in tabs:
                if tab is not None:
                    tab.refresh()
        except ConsoleError as exc:
            self.say(_("Refused: {reason}").format(reason=exc))


def run_console(window_factory: Callable[[], ConsoleWindow]) -> int:
    from PySide6.QtWidgets import QApplication

    from agentapp.i18n import current
    from agentapp.ui.qt_texts import install_qt_translations

    app = QApplication.instance() or QApplication(["agentapp-console"])
    install_qt_translations(current())
    window = window_factory()
    window.show()
    return app.exec()
