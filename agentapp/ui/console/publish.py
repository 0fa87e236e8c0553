"""The Publish tab: what the draft changes at the site, then sign and publish it.

Threading: Qt thread only."""

from __future__ import annotations

from PySide6.QtWidgets import QPlainTextEdit, QPushButton, QWidget

from agentapp.console import ConsoleError, ConsoleModel
from agentapp.ui.console.widgets import Act, lay_out


class PublishTab(QWidget):
    def __init__(self, model: ConsoleModel, act: Act) -> None:
        super().__init__()
        self.model, self._act = model, act
        self.plan_text = QPlainTextEdit(readOnly=True)
        self.publish_button = QPushButton("Sign and publish")
        self.publish_button.clicked.connect(self._publish)
        lay_out(self, self.plan_text, None, [self.publish_button])

    def refresh(self) -> None:
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
        self._act(lambda: f"version {self.model.publish().new.version} published: agents "
                  "apply it within seconds")  # fmt: skip
