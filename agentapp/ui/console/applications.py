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

from agentapp.core.policy import WindowRule
from agentapp.i18n import _, ngettext
from agentapp.platform.base import WindowInfo
from agentapp.trainer.console import ConsoleModel
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
        self.rule_url.setPlaceholderText(
            _("web application: e.g. {example}").format(example=r"^https://crm\.example\.fr/")
        )
        self.rule_title.setPlaceholderText(_("avoid: a title can hold a customer's name"))
        self.rule_popups = QCheckBox(_("its own menus, tooltips and dialogs may be recorded"))
        form = QFormLayout()
        fields = [(_("Name"), self.rule_name), (_("Window class"), self.rule_class),
                  (_("Executable"), self.rule_exe), (_("Title pattern"), self.rule_title),
                  (_("Page address (URL) pattern"), self.rule_url),
                  (_("Pop-ups"), self.rule_popups)]  # fmt: skip
        for label, w in fields:
            form.addRow(label, w)
        self.match_label = QLabel()
        form.addRow("", self.match_label)
        pick_button = QPushButton(_("Pick from the list…"))
        pick_button.clicked.connect(self.pick_window)
        click = QPushButton(_("Click on the window…"))
        click.clicked.connect(self.click_window)
        click.setEnabled(pick is not None)
        test = QPushButton(_("Test the rule"))
        test.clicked.connect(self.test_rule)
        self.add_rule_button = QPushButton(_("Add / update"))
        self.add_rule_button.clicked.connect(self._add_rule)
        remove = QPushButton(_("Remove selected"))
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
                message = (_("Refused: the title pattern is not valid ({error})") if what ==
                           "title" else _("Refused: the page address pattern is not valid "
                                          "({error})"))  # fmt: skip
                self._say(message.format(error=exc))
                return None
        rule = WindowRule(self.rule_name.text().strip() or _("Business application"),
                          self.rule_class.text().strip() or None,
                          self.rule_exe.text().strip() or None, compiled["title"],
                          popups=self.rule_popups.isChecked(),
                          url_pattern=compiled["page address"])  # fmt: skip
        if rule.wm_class is None and rule.executable is None and rule.title_pattern is None:
            self._say(_("Refused: give a window class, an executable or a title pattern"))
            return None
        return rule

    def pick_window(self) -> None:
        """Choose among the windows open now; fills the rule with what the locator reads."""
        found = self._windows()
        dialog = QDialog(self)
        dialog.setWindowTitle(_("Pick the business application's window"))
        hint = QLabel(
            _(
                "The rule uses the window class and the executable, never the title: "
                "a title can hold a customer's name, and the rule goes to every desk."
            )
        )
        hint.setWordWrap(True)
        listing = QListWidget()
        listing.setWordWrap(True)
        for w in found:
            listing.addItem(_("class {wm_class} — program {executable} — shows “{title}”").format(
                wm_class=" / ".join(w.wm_class) or "?", executable=w.executable or "?",
                title=w.title or ""))  # fmt: skip
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)  # fmt: skip
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(hint)
        layout.addWidget(listing, 1)
        layout.addWidget(buttons)
        dialog.resize(760, 420)
        self.picker = (dialog, listing)
        if not found:
            self._say(_("No window found (is a display available?)"))
            return
        listing.setCurrentRow(0)
        if dialog.exec() != QDialog.DialogCode.Accepted or listing.currentRow() < 0:
            return
        self.use_window(found[listing.currentRow()])

    def click_window(self) -> None:
        """Like xprop: the next click anywhere picks the window under the pointer."""
        from PySide6.QtWidgets import QApplication

        assert self._pick is not None
        self._say(_("Click on the business application's window (30 s)…"))
        QApplication.processEvents()
        try:
            w = self._pick()
        except Exception as exc:  # the locator says why it cannot grab the pointer
            self._say(_("Cannot pick: {reason}").format(reason=exc))
            return
        if w is None:
            self._say(_("No window picked"))
            return
        self.use_window(w)
        self._say(
            _("picked: class {wm_class}, program {executable}").format(
                wm_class=" / ".join(w.wm_class) or "?", executable=w.executable or "?"
            )
        )

    def use_window(self, w: WindowInfo) -> None:
        self.rule_class.setText(w.wm_class[-1] if w.wm_class else "")
        self.rule_exe.setText(w.executable or "")
        self.rule_title.setText("")
        self.rule_url.setText("")  # a page rule is written by hand: a picked window has none
        if not self.rule_name.text():  # never the title: it may name a customer
            self.rule_name.setText(proposed_name(w))
        self.test_rule()

    def test_rule(self) -> None:
        rule = self._rule()
        if rule is None:
            return
        hits = self.model.matching(rule, self._windows())
        titles = "; ".join(w.title or "?" for w in hits[:3])
        self.match_label.setText(ngettext("matches {n} open window", "matches {n} open windows",
                                          len(hits)).format(n=len(hits))
                                 + (f": {titles}" if hits else ""))  # fmt: skip

    def _add_rule(self) -> None:
        rule = self._rule()
        if rule is None:
            return
        warning = "" if rule.title_pattern is None else " " + _(
            "Warning: a title rule is published to every desk, and a title can hold a "
            "customer's name; prefer the window class or the executable.")  # fmt: skip
        self._act(lambda: _("draft version {version}: “{name}” may be recorded — publish to "
                            "apply").format(version=self.model.add_application(rule).version,
                                            name=rule.name) + warning)  # fmt: skip

    def _remove_rule(self) -> None:
        item = self.rules.currentItem()
        if item is None:
            self._say(_("Select a rule first"))
            return
        name = item.text().split(" — ")[0]
        self._act(lambda: _("draft version {version}: “{name}” removed — publish to apply")
                  .format(version=self.model.remove_application(name).version,
                          name=name))  # fmt: skip


def proposed_name(w: WindowInfo) -> str:
    """A rule's name from what identifies the program, never its title."""
    if w.wm_class:
        return w.wm_class[-1]
    return w.executable or _("Business application")


def describe_rule(a: WindowRule) -> str:
    parts = [_("class {v}").format(v=a.wm_class) if a.wm_class else "",
             _("program {v}").format(v=a.executable) if a.executable else "",
             _("title ~ {v}").format(v=a.title_pattern.pattern) if a.title_pattern else "",
             _("page ~ {v}").format(v=a.url_pattern.pattern) if a.url_pattern else "",
             _("with its pop-ups") if a.popups else ""]  # fmt: skip
    return f"{a.name} — " + ", ".join(p for p in parts if p)
