"""The Business windows tab: which application windows may be recorded, picked from the
screen or written by hand, and tried against the windows open now.

Threading: Qt thread only."""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from agentapp.console import ConsoleModel
from agentapp.core.policy import WindowRule
from agentapp.platform.base import WindowInfo
from agentapp.ui.console.widgets import Act, Say, lay_out


class ApplicationsTab(QWidget):
    def __init__(
        self,
        model: ConsoleModel,
        say: Say,
        act: Act,
        windows: Callable[[], list[WindowInfo]],
        pick: Callable[[], WindowInfo | None] | None,
    ) -> None:
        """`windows`: those open now; `pick` waits for a click on one (None: list only)."""
        super().__init__()
        self.model, self._say, self._act = model, say, act
        self._windows, self._pick = windows, pick
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
        pick_button = QPushButton("Pick from the list…")
        pick_button.clicked.connect(self.pick_window)
        click = QPushButton("Click on the window…")
        click.clicked.connect(self.click_window)
        click.setEnabled(pick is not None)
        test = QPushButton("Test the rule")
        test.clicked.connect(self.test_rule)
        self.add_rule_button = QPushButton("Add / update")
        self.add_rule_button.clicked.connect(self._add_rule)
        remove = QPushButton("Remove selected")
        remove.clicked.connect(self._remove_rule)
        lay_out(self, self.rules, form, [click, pick_button, test, self.add_rule_button, remove])

    def refresh(self) -> None:
        """ConsoleError when the draft cannot be read (the window says so)."""
        self.rules.clear()
        for a in self.model.draft().applications:
            self.rules.addItem(describe_rule(a))

    def _rule(self) -> WindowRule | None:
        compiled: dict[str, re.Pattern[str] | None] = {}
        for what, box in (("title", self.rule_title), ("page address", self.rule_url)):
            pattern = box.text().strip()
            try:
                compiled[what] = re.compile(pattern) if pattern else None
            except re.error as exc:
                self._say(f"Refused: the {what} pattern is not valid ({exc})")
                return None
        rule = WindowRule(self.rule_name.text().strip() or "Business application",
                          self.rule_class.text().strip() or None,
                          self.rule_exe.text().strip() or None, compiled["title"],
                          popups=self.rule_popups.isChecked(),
                          url_pattern=compiled["page address"])  # fmt: skip
        if rule.wm_class is None and rule.executable is None and rule.title_pattern is None:
            self._say("Refused: give a window class, an executable or a title pattern")
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
            self._say("No window found (is a display available?)")
            return
        listing.setCurrentRow(0)
        if dialog.exec() != QDialog.DialogCode.Accepted or listing.currentRow() < 0:
            return
        self.use_window(found[listing.currentRow()])

    def click_window(self) -> None:
        """Like xprop: the next click anywhere picks the window under the pointer."""
        from PySide6.QtWidgets import QApplication

        assert self._pick is not None
        self._say("Click on the business application's window (30 s)…")
        QApplication.processEvents()
        try:
            w = self._pick()
        except Exception as exc:  # the locator says why it cannot grab the pointer
            self._say(f"Cannot pick: {exc}")
            return
        if w is None:
            self._say("No window picked")
            return
        self.use_window(w)
        self._say(f"picked: {w.title or w.wm_class}")

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
            self._act(lambda: f"draft version {self.model.add_application(rule).version}: "
                      f"'{rule.name}' may be recorded — publish to apply")  # fmt: skip

    def _remove_rule(self) -> None:
        item = self.rules.currentItem()
        if item is None:
            self._say("Select a rule first")
            return
        name = item.text().split(" — ")[0]
        self._act(lambda: f"draft version {self.model.remove_application(name).version}: "
                  f"'{name}' removed — publish to apply")  # fmt: skip


def describe_rule(a: WindowRule) -> str:
    parts = [f"class {a.wm_class}" if a.wm_class else "", f"exe {a.executable}" if a.executable
             else "", f"title ~ {a.title_pattern.pattern}" if a.title_pattern else "",
             f"page ~ {a.url_pattern.pattern}" if a.url_pattern else "",
             "with its pop-ups" if a.popups else ""]  # fmt: skip
    return f"{a.name} — " + ", ".join(p for p in parts if p)
