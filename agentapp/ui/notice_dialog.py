"""The information notice (R2): read, switch language, acknowledge.

Its texts are the notice's own language (both are offered whatever the tray's), so they are
written here in both rather than taken from the catalogue. Qt thread only."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QPushButton, QTextBrowser, QVBoxLayout

from agentapp.core.notice import Notice


class NoticeDialog(QDialog):
    def __init__(
        self,
        notice_for: Callable[[str], Notice],
        language: str,
        needs_ack: bool,
        on_ack: Callable[[str], None],
    ) -> None:
        super().__init__()
        self.setObjectName("agentapp-notice")
        self._notice_for = notice_for
        self._on_ack = on_ack
        self.language = language
        self.resize(640, 620)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        buttons = QDialogButtonBox()
        self.switch = QPushButton()
        buttons.addButton(self.switch, QDialogButtonBox.ButtonRole.ActionRole)
        self.switch.clicked.connect(self._switch)
        self.ack: QPushButton | None = None
        self.later: QPushButton | None = None
        if needs_ack:
            self.ack = QPushButton()
            buttons.addButton(self.ack, QDialogButtonBox.ButtonRole.AcceptRole)
            self.ack.clicked.connect(self._acknowledge)
            self.later = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        else:
            buttons.addButton(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self._render()

    def _render(self) -> None:
        notice = self._notice_for(self.language)
        self.setWindowTitle(notice.title)
        self.text.setHtml(notice.as_html())
        self.switch.setText("English" if self.language == "fr" else "Français")
        if self.ack is not None:
            self.ack.setText(
                "J'ai lu cette information" if self.language == "fr" else "I have read this notice"
            )
        if self.later is not None:
            self.later.setText("Plus tard" if self.language == "fr" else "Later")

    def _switch(self) -> None:
        self.language = "en" if self.language == "fr" else "fr"
        self._render()

    def _acknowledge(self) -> None:
        self._on_ack(self.language)
        self.accept()
