"""The Publish tab: what the draft changes at the site, then sign and publish it; once
published, what is in force and what the last publish changed.

Threading: Qt thread only."""

from __future__ import annotations

from PySide6.QtWidgets import QPlainTextEdit, QPushButton, QWidget

from agentapp.i18n import _
from agentapp.site.publish import Plan
from agentapp.trainer.console import ConsoleError, ConsoleModel
from agentapp.ui.console.widgets import Act, lay_out


class PublishTab(QWidget):
    def __init__(self, model: ConsoleModel, act: Act) -> None:
        super().__init__()
        self.model, self._act = model, act
        self.plan_text = QPlainTextEdit(readOnly=True)
        self.publish_button = QPushButton(_("Sign and publish"))
        self.publish_button.clicked.connect(self._publish)
        self.last: Plan | None = None  # what this console published last
        lay_out(self, self.plan_text, None, [self.publish_button])

    def refresh(self) -> None:
        in_force = self.model.in_force()
        if in_force is not None:
            self.publish_button.setEnabled(False)
            lines = [
                _(
                    "Version {version} is the site's policy: the draft has nothing new to publish."
                ).format(version=in_force.version)
            ]
            if self.last is not None and self.last.new.version == in_force.version:
                lines += ["", _("Published from this console:")]
                lines += ["  " + _said(a, w) for a, w in self.last.changes] or [_("  (no change)")]
            lines += [
                "",
                _("Edit the enrolments or the business windows to prepare the next version."),
            ]
            self.plan_text.setPlainText("\n".join(lines))
            return
        try:
            p = self.model.plan()
        except ConsoleError as exc:
            self.plan_text.setPlainText(
                _("This draft cannot be published: {reason}").format(reason=exc)
            )
            self.publish_button.setEnabled(False)
            return
        lines = [_said(a, w) for a, w in p.changes] or [_("(no change)")]
        if p.untrusted:
            lines.insert(
                0,
                _("the site's current policy cannot be trusted: {reason}").format(
                    reason=p.untrusted
                ),
            )
        self.plan_text.setPlainText(
            _("Draft version {version} → {target}").format(version=p.new.version, target=p.target)
            + "\n\n"
            + "\n".join(lines)
        )
        self.publish_button.setEnabled(True)

    def _publish(self) -> None:
        def publish() -> str:
            self.last = self.model.publish()
            return _("version {version} published: agents apply it within seconds").format(
                version=self.last.new.version
            )

        self._act(publish)


def _said(action: str, what: str) -> str:
    return _("{action}: {what}").format(action=action, what=what)
