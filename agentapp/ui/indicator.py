"""The recording badge: always on top, click-through, never takes focus, cannot be closed.

It is an override-redirect window of the agent's own process, so the capture pipeline masks
it like any other window above the business window (it is never recorded).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel

from agentapp.agent.status import AgentState, EngineStatus
from agentapp.ui import words

TITLE = "agentapp recording indicator"


class RecordingIndicator(QLabel):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowFlags(
            Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint
            | Qt.WindowType.WindowDoesNotAcceptFocus
            | Qt.WindowType.WindowTransparentForInput
            | Qt.WindowType.X11BypassWindowManagerHint
            | Qt.WindowType.Tool
        )
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setObjectName("agentapp-indicator")
        self.setWindowTitle(TITLE)
        self.setContentsMargins(14, 6, 14, 6)

    def show_status(self, status: EngineStatus) -> None:
        text = words.badge(status)
        if not text:
            self.hide()
            return
        if status.state == AgentState.PAUSED:
            bg = "#fb8c00"
        else:  # grey while nothing is written: the window is hidden
            bg = "#c62828" if status.writing else "#616161"
        self.setText(text)
        self.setStyleSheet(
            f"QLabel {{ background: {bg}; color: white; font: bold 13px sans-serif; "
            "border-radius: 6px; }"
        )
        self.adjustSize()
        screen = QGuiApplication.primaryScreen().availableGeometry()
        self.move(screen.x() + (screen.width() - self.width()) // 2, screen.y() + 4)
        self.show()
        self.raise_()

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if self.isVisible() and self.text():
            event.ignore()  # the agent cannot turn it off while recording
        else:
            event.accept()
