"""The trainer console (`agentapp console`): enrolment, business windows, publishing, review.

All decisions live in agentapp.console.ConsoleModel; this module only lays out widgets and
turns clicks into model calls, showing the model's refusals as they are.

Threading: Qt thread only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from agentapp.console import ConsoleError, ConsoleModel
from agentapp.core.policy import Enrolment, WindowRule
from agentapp.core.policy_writer import default_end
from agentapp.platform.base import WindowInfo
from agentapp.ui.player import PlayerWindow

ReasonAsker = Callable[[QWidget, str], str | None]


def ask_reason(parent: QWidget, what: str) -> str | None:
    text, ok = QInputDialog.getText(parent, "Reason (audited)", f"Why do you need to {what}?")
    return text if ok else None


def _qdate(d: dt.date) -> QDate:
    return QDate(d.year, d.month, d.day)


def _date(q: QDate) -> dt.date:
    return dt.date(q.year(), q.month(), q.day())


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def _fill(t: QTableWidget, rows: list[list[str]]) -> None:
    t.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            t.setItem(r, c, QTableWidgetItem(text))


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
        self._pick = pick
        self.setObjectName("agentapp-console")
        self.model = model
        self._windows = windows
        self._key = private_key_loader
        self._reason = reason
        self.players: list[PlayerWindow] = []
        who = model.person()
        self.setWindowTitle(f"agentapp console — {who.name} ({who.role})"
                            + (" — my recordings" if model.mine else ""))  # fmt: skip
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.tabs = QTabWidget()
        if not model.mine:
            self.tabs.addTab(self._enrolment_tab(), "Enrolment")
            self.tabs.addTab(self._applications_tab(), "Business windows")
            self.tabs.addTab(self._publish_tab(), "Publish")
        self.tabs.addTab(self._recordings_tab(), "Recordings")
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        self.setCentralWidget(body)
        self.resize(980, 620)
        purged = model.purge()
        self.refresh()
        if purged:
            self.say(f"{purged} recording(s) or note(s) past their deadline deleted at the site")

    def say(self, text: str) -> None:
        self.status.setText(text)

    def _try(self, action: Callable[[], str]) -> None:
        try:
            self.say(action())
        except ConsoleError as exc:
            self.say(f"Refused: {exc}")
        self.refresh()

    def refresh(self) -> None:
        try:
            if not self.model.mine:
                _fill(self.enrolled, [[r.agent, r.training, str(r.start), str(r.end),
                                       f"{r.sampling} %", str(r.quota), r.state,
                                       f"{r.used} of {r.quota}"]
                                      for r in self.model.enrolments()])  # fmt: skip
                self.rules.clear()
                for a in self.model.draft().applications:
                    self.rules.addItem(_describe_rule(a))
                self._show_plan()
            self._list_recordings()
        except ConsoleError as exc:
            self.say(f"Refused: {exc}")

    # ------------------------------------------------------------------ enrolment
    def _enrolment_tab(self) -> QWidget:
        self.enrolled = _table(["Agent", "Training", "Start", "End", "Sampling", "Quota/week",
                                "State", "This week"])  # fmt: skip
        self.agent = QLineEdit()
        self.training = QLineEdit()
        today = dt.date.today()
        self.start = QDateEdit(_qdate(today))
        self.end = QDateEdit(_qdate(default_end(today)))
        for d in (self.start, self.end):
            d.setCalendarPopup(True)
            d.setDisplayFormat("yyyy-MM-dd")
        self.start.dateChanged.connect(lambda q: self.end.setDate(_qdate(default_end(_date(q)))))
        self.sampling = QSpinBox(minimum=1, maximum=100, value=30, suffix=" %")
        self.quota = QSpinBox(minimum=1, maximum=200, value=10, suffix=" per week")
        self.fps = QSpinBox(minimum=0, maximum=30, value=0, suffix=" fps")
        self.fps.setSpecialValueText("the policy's frame rate")
        form = QFormLayout()
        for label, w in (("Agent", self.agent), ("Training", self.training), ("Start", self.start),
                         ("End (required)", self.end), ("Share of calls", self.sampling),
                         ("At most", self.quota), ("Frame rate", self.fps)):  # fmt: skip
            form.addRow(label, w)
        enrol = QPushButton("Enrol / update")
        enrol.clicked.connect(self._enrol)
        remove = QPushButton("Remove selected")
        remove.clicked.connect(self._unenrol)
        self.enrol_button, self.unenrol_button = enrol, remove
        return _page(self.enrolled, form, [enrol, remove])

    def _enrol(self) -> None:
        e = Enrolment(self.agent.text().strip(), self.training.text().strip(),
                      _date(self.start.date()), _date(self.end.date()), self.sampling.value(),
                      self.quota.value(), self.fps.value() or None)  # fmt: skip
        if not e.agent or not e.training:
            self.say("Refused: give the agent and the training")
            return
        self._try(lambda: f"draft version {self.model.enrol(e).version}: {e.agent} enrolled "
                  f"in '{e.training}' until {e.end} — publish to apply")  # fmt: skip

    def _unenrol(self) -> None:
        row = self.enrolled.currentRow()
        if row < 0:
            self.say("Select an agent first")
            return
        agent = _cell(self.enrolled, row)
        self._try(lambda: f"draft version {self.model.unenrol(agent).version}: {agent} "
                  "removed — publish to apply")  # fmt: skip

    # ------------------------------------------------------------------ business windows
    def _applications_tab(self) -> QWidget:
        self.rules = QListWidget()
        self.rule_name, self.rule_class = QLineEdit(), QLineEdit()
        self.rule_exe, self.rule_title = QLineEdit(), QLineEdit()
        self.rule_url = QLineEdit()
        self.rule_url.setPlaceholderText(r"web application: e.g. ^https://crm\.example\.fr/")
        self.rule_popups = QCheckBox("its own menus, tooltips and dialogs may be recorded")
        form = QFormLayout()
        fields = [("Name", self.rule_name), ("Window class", self.rule_class),
                  ("Executable", self.rule_exe), ("Title pattern", self.rule_title),
                  ("Page address (URL) pattern", self.rule_url),
                  ("Pop-ups", self.rule_popups)]  # fmt: skip
        for label, w in fields:
            form.addRow(label, w)
        self.match_label = QLabel()
        form.addRow("", self.match_label)
        pick = QPushButton("Pick from the list…")
        pick.clicked.connect(self.pick_window)
        click = QPushButton("Click on the window…")
        click.clicked.connect(self.click_window)
        click.setEnabled(self._pick is not None)
        test = QPushButton("Test the rule")
        test.clicked.connect(self.test_rule)
        add = QPushButton("Add / update")
        add.clicked.connect(self._add_rule)
        remove = QPushButton("Remove selected")
        remove.clicked.connect(self._remove_rule)
        self.add_rule_button = add
        return _page(self.rules, form, [click, pick, test, add, remove])

    def _rule(self) -> WindowRule | None:
        import re

        compiled: dict[str, re.Pattern[str] | None] = {}
        for what, box in (("title", self.rule_title), ("page address", self.rule_url)):
            pattern = box.text().strip()
            try:
                compiled[what] = re.compile(pattern) if pattern else None
            except re.error as exc:
                self.say(f"Refused: the {what} pattern is not valid ({exc})")
                return None
        rule = WindowRule(self.rule_name.text().strip() or "Business application",
                          self.rule_class.text().strip() or None,
                          self.rule_exe.text().strip() or None, compiled["title"],
                          popups=self.rule_popups.isChecked(),
                          url_pattern=compiled["page address"])  # fmt: skip
        if rule.wm_class is None and rule.executable is None and rule.title_pattern is None:
            self.say("Refused: give a window class, an executable or a title pattern")
            return None
        return rule

    def pick_window(self) -> None:
        """Choose among the windows open now; fills the rule with what the locator reads."""
        found = self._windows()
        dialog = QDialog(self)
        dialog.setWindowTitle("Pick the business application's window")
        listing = QListWidget()
        for w in found:
            listing.addItem(f"{' / '.join(w.wm_class)} — {w.executable or '?'} — {w.title or ''}")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)  # fmt: skip
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(listing)
        layout.addWidget(buttons)
        self.picker = (dialog, listing)
        if not found:
            self.say("No window found (is a display available?)")
            return
        listing.setCurrentRow(0)
        if dialog.exec() != QDialog.DialogCode.Accepted or listing.currentRow() < 0:
            return
        self.use_window(found[listing.currentRow()])

    def click_window(self) -> None:
        """Like xprop: the next click anywhere picks the window under the pointer."""
        from PySide6.QtWidgets import QApplication

        assert self._pick is not None
        self.say("Click on the business application's window (30 s)…")
        QApplication.processEvents()
        try:
            w = self._pick()
        except Exception as exc:  # the locator says why it cannot grab the pointer
            self.say(f"Cannot pick: {exc}")
            return
        if w is None:
            self.say("No window picked")
            return
        self.use_window(w)
        self.say(f"picked: {w.title or w.wm_class}")

    def use_window(self, w: WindowInfo) -> None:
        self.rule_class.setText(w.wm_class[-1] if w.wm_class else "")
        self.rule_exe.setText(w.executable or "")
        self.rule_title.setText("")
        self.rule_url.setText("")  # a page rule is written by hand: a picked window has none
        if not self.rule_name.text():
            self.rule_name.setText(w.title or (w.wm_class[-1] if w.wm_class else "Application"))
        self.test_rule()

    def test_rule(self) -> None:
        rule = self._rule()
        if rule is None:
            return
        hits = self.model.matching(rule, self._windows())
        titles = "; ".join(w.title or "?" for w in hits[:3])
        self.match_label.setText(f"matches {len(hits)} open window(s)"
                                 + (f": {titles}" if hits else ""))  # fmt: skip

    def _add_rule(self) -> None:
        rule = self._rule()
        if rule is not None:
            self._try(lambda: f"draft version {self.model.add_application(rule).version}: "
                      f"'{rule.name}' may be recorded — publish to apply")  # fmt: skip

    def _remove_rule(self) -> None:
        item = self.rules.currentItem()
        if item is None:
            self.say("Select a rule first")
            return
        name = item.text().split(" — ")[0]
        self._try(lambda: f"draft version {self.model.remove_application(name).version}: "
                  f"'{name}' removed — publish to apply")  # fmt: skip

    # ------------------------------------------------------------------ publish
    def _publish_tab(self) -> QWidget:
        self.plan_text = QPlainTextEdit(readOnly=True)
        publish = QPushButton("Sign and publish")
        publish.clicked.connect(self._publish)
        self.publish_button = publish
        return _page(self.plan_text, None, [publish])

    def _show_plan(self) -> None:
        try:
            p = self.model.plan()
        except ConsoleError as exc:
            self.plan_text.setPlainText(f"Nothing to publish: {exc}")
            self.publish_button.setEnabled(False)
            return
        lines = [f"{a}: {w}" for a, w in p.changes] or ["(no change)"]
        if p.untrusted:
            lines.insert(0, f"the site's current policy cannot be trusted: {p.untrusted}")
        self.plan_text.setPlainText(f"Draft version {p.new.version} → {p.target}\n\n"
                                    + "\n".join(lines))  # fmt: skip
        self.publish_button.setEnabled(True)

    def _publish(self) -> None:
        self._try(lambda: f"version {self.model.publish().new.version} published: agents "
                  "apply it within seconds")  # fmt: skip

    # ------------------------------------------------------------------ recordings
    def _recordings_tab(self) -> QWidget:
        self.recs = _table(["Recording", "Agent", "Training", "Started", "Duration", "Status"])
        self.filter_agent, self.filter_training = QLineEdit(), QLineEdit()
        self.filter_agent.setPlaceholderText("any agent")
        self.filter_training.setPlaceholderText("any training")
        self.filter_since = QDateEdit(_qdate(dt.date.today() - dt.timedelta(days=183)))
        self.filter_since.setDisplayFormat("yyyy-MM-dd")
        self.filter_since.setCalendarPopup(True)
        form = QFormLayout()
        form.addRow("Agent", self.filter_agent)
        form.addRow("Training", self.filter_training)
        form.addRow("Since", self.filter_since)
        show = QPushButton("Filter")
        show.clicked.connect(self.refresh)
        play = QPushButton("Play…")
        play.clicked.connect(self.play_selected)
        note = QPushButton("Add a note…")
        note.clicked.connect(self._note)
        export = QPushButton("Export…")
        export.clicked.connect(lambda: self.export_selected(anonymise=False))
        share = QPushButton("Anonymised export…")
        share.clicked.connect(lambda: self.export_selected(anonymise=True))
        self.play_button = play
        return _page(self.recs, form, [show, play, note, export, share])

    def _list_recordings(self) -> None:
        metas = self.model.recordings(self.filter_agent.text().strip(),
                                      self.filter_training.text().strip(),
                                      _date(self.filter_since.date()))  # fmt: skip
        _fill(self.recs, [[m.id, m.agent, m.training,
                           dt.datetime.fromtimestamp(m.started_at).strftime("%Y-%m-%d %H:%M"),
                           f"{m.duration_s:.0f} s", m.status] for m in metas])  # fmt: skip

    def _selected(self) -> str | None:
        row = self.recs.currentRow()
        if row < 0:
            self.say("Select a recording first")
            return None
        return _cell(self.recs, row)

    def play_selected(self) -> None:
        rid = self._selected()
        if rid is None:
            return
        reason = self._reason(self, "watch this recording")
        if reason is None:
            return
        try:
            frames = self.model.open(rid, reason, self._key)
        except ConsoleError as exc:
            self.say(f"Refused: {exc}")
            return
        player = PlayerWindow(frames, f"agentapp — recording {rid}",
                              caption=self.model.timeline(rid))  # fmt: skip
        player.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.players.append(player)
        player.show()
        self.say(f"playing {rid} (decrypted in memory; the view is in the audit trail)")

    def export_selected(self, anonymise: bool, folder: str | None = None) -> None:
        rid = self._selected()
        if rid is None:
            return
        what = "share this recording anonymised" if anonymise else "export this recording"
        reason = self._reason(self, what)
        if reason is None:
            return
        folder = folder or QFileDialog.getExistingDirectory(self, "Export to which folder?")
        if not folder:
            return

        def export() -> str:
            out = self.model.export(rid, reason, Path(folder), anonymise, self._key)
            return f"written to {out} (watermarked)"

        self._try(export)

    def _note(self) -> None:
        rid = self._selected()
        if rid is None:
            return
        text, ok = QInputDialog.getMultiLineText(self, "Analysis note",
                                                 "Kept sealed, at most one year:")  # fmt: skip
        if ok and text.strip():

            def add() -> str:
                self.model.add_note(rid, text)
                return f"note sealed on {rid}"

            self._try(add)


def _cell(t: QTableWidget, row: int) -> str:
    item = t.item(row, 0)
    return item.text() if item is not None else ""


def _describe_rule(a: WindowRule) -> str:
    parts = [f"class {a.wm_class}" if a.wm_class else "", f"exe {a.executable}" if a.executable
             else "", f"title ~ {a.title_pattern.pattern}" if a.title_pattern else "",
             f"page ~ {a.url_pattern.pattern}" if a.url_pattern else "",
             "with its pop-ups" if a.popups else ""]  # fmt: skip
    return f"{a.name} — " + ", ".join(p for p in parts if p)


def _page(main: QWidget, form: QFormLayout | None, buttons: list[QPushButton]) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.addWidget(main, 1)
    if form is not None:
        layout.addLayout(form)
    row = QHBoxLayout()
    for b in buttons:
        row.addWidget(b)
    row.addStretch(1)
    layout.addLayout(row)
    return page


def run_console(window_factory: Callable[[], ConsoleWindow]) -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["agentapp-console"])
    window = window_factory()
    window.show()
    return app.exec()
