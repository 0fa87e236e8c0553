"""The agent's face: tray icon (or an always-visible status window when there is no tray),
recording badge, notice, secure pause and "caller objects".

Threading: everything here lives on the Qt GUI thread; engine status arrives through the
bridge's queued signal. Engine methods called from here are thread-safe and quick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from agentapp.engine import AgentState, Engine, EngineStatus
from agentapp.platform.hotkey import human
from agentapp.ui.bridge import EngineBridge
from agentapp.ui.icons import HEADLINES, state_icon, state_pixmap
from agentapp.ui.indicator import RecordingIndicator
from agentapp.ui.notice_dialog import NoticeDialog

log = logging.getLogger(__name__)
NOTIFY_EVERY_S = 20.0


def describe(status: EngineStatus) -> list[str]:
    """The lines a person reads in the tooltip, the menu and the status window."""
    headline = HEADLINES.get(status.state, status.state)
    if status.state == AgentState.CANNOT_RECORD:
        headline = f"Cannot record: {status.detail}"
    lines = [headline]
    repeats = status.detail.lower() in headline.lower()
    if status.detail and status.state != AgentState.CANNOT_RECORD and not repeats:
        lines.append(status.detail[0].upper() + status.detail[1:])
    lines += [x[0].upper() + x[1:] for x in (status.enrolment, status.quota) if x]
    return lines


class RateLimiter:
    def __init__(self, every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every_s
        self._clock = clock
        self._last: dict[str, float] = {}

    def allow(self, key: str) -> bool:
        now = self._clock()
        if now - self._last.get(key, -1e9) < self._every:
            return False
        self._last[key] = now
        return True


class StatusWindow(QWidget):
    """Shown when no system tray exists: a small always-on-top window that cannot be missed."""

    def __init__(self, controller: TrayController) -> None:
        super().__init__()
        self.setObjectName("agentapp-status-window")
        self.setWindowTitle("agentapp")
        self.setWindowFlags(Qt.WindowType.Tool | Qt.WindowType.WindowStaysOnTopHint)
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.pause = QPushButton()
        self.pause.clicked.connect(controller.toggle_pause)
        self.objects = QPushButton("Caller objects")
        self.objects.clicked.connect(controller.caller_objects)
        about = QPushButton("About recording…")
        about.clicked.connect(controller.show_notice)
        row = QHBoxLayout()
        row.addWidget(self.icon)
        row.addWidget(self.text, 1)
        buttons = QHBoxLayout()
        for b in (self.pause, self.objects, about):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(buttons)
        self.setFixedWidth(420)

    def show_status(self, status: EngineStatus, hotkey: str) -> None:
        self.icon.setPixmap(state_pixmap(status.state, 32))
        self.text.setText("\n".join(describe(status)))
        self.pause.setText(
            "Resume recording" if status.state == AgentState.PAUSED else f"Pause ({human(hotkey)})"
        )
        self.pause.setEnabled(status.recording)
        self.objects.setEnabled(status.recording or status.erasable)

    def closeEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        event.ignore()  # the only visible sign of the agent: it stays


class TrayController(QObject):
    def __init__(
        self,
        engine: Engine,
        language: str,
        hotkey: str,
        tray_wait_s: float = 10.0,
        tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
    ) -> None:
        super().__init__()
        self._tray_available = tray_available
        self.engine = engine
        self.language = language
        self.hotkey = hotkey
        self.bridge = EngineBridge(engine)
        self.indicator = RecordingIndicator()
        self.tray: QSystemTrayIcon | None = None
        self.window: StatusWindow | None = None
        self.notice: NoticeDialog | None = None
        self.menu = QMenu()
        self.menu.aboutToShow.connect(self._build_menu)
        self._notify = RateLimiter(NOTIFY_EVERY_S)
        self._last_state: AgentState | None = None
        self.bridge.statusChanged.connect(self.show_status)
        self._tray_deadline = time.monotonic() + tray_wait_s
        self._tray_poll = QTimer(self)
        self._tray_poll.timeout.connect(self._try_tray)
        if not self._try_tray():
            self.window = StatusWindow(self)  # visible at once, never an invisible agent
            self.window.show()
            log.warning("no system tray yet: showing the status window")
            self._tray_poll.start(200)
        self.show_status(engine.status)

    # ------------------------------------------------------------------ tray / window
    def _try_tray(self) -> bool:
        if self._tray_available():
            self.tray = QSystemTrayIcon()
            self.tray.setContextMenu(self.menu)
            self.tray.activated.connect(self._activated)
            self.tray.show()
            self._tray_poll.stop()
            if self.window is not None:
                self.window.hide()
                self.window.deleteLater()
                self.window = None
            log.warning("tray icon shown in the system tray")
            self.show_status(self.engine.status)
            return True
        if time.monotonic() > self._tray_deadline:
            self._tray_poll.stop()
            log.warning("no system tray after waiting: the status window stays")
        return False

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.show_notice()

    @property
    def tooltip(self) -> str:
        return "agentapp — " + "\n".join(describe(self.engine.status))

    def show_status(self, status: EngineStatus) -> None:
        if self.tray is not None:
            self.tray.setIcon(state_icon(status.state))
            self.tray.setToolTip(self.tooltip)
        if self.window is not None:
            self.window.show_status(status, self.hotkey)
        self.indicator.show_status(status)
        was, self._last_state = self._last_state, status.state
        recording = (AgentState.RECORDING, AgentState.PAUSED)
        if status.state == AgentState.RECORDING and was not in recording:
            self._message("Recording for training started", status)
        elif was in recording and status.state not in recording:
            self._message("Recording stopped", status)
        if status.state == AgentState.NOTICE_REQUIRED and was != AgentState.NOTICE_REQUIRED:
            QTimer.singleShot(0, self.show_notice)

    def _message(self, title: str, status: EngineStatus) -> None:
        if self.tray is not None and self._notify.allow(title):
            self.tray.showMessage(title, describe(status)[-1], state_icon(status.state), 4000)

    def _build_menu(self) -> None:
        status = self.engine.status
        self.menu.clear()
        for line in describe(status):
            info = self.menu.addAction(line)
            info.setEnabled(False)
        self.menu.addSeparator()
        pause = QAction(
            "Resume recording"
            if status.state == AgentState.PAUSED
            else f"Pause recording ({human(self.hotkey)})",
            self.menu,
        )
        pause.setEnabled(status.recording)
        pause.triggered.connect(self.toggle_pause)
        self.menu.addAction(pause)
        objects = QAction(
            "Caller objects — stop and erase this recording"
            if status.recording or not status.erasable
            else "Caller objects — erase the last call's recording",
            self.menu,
        )
        objects.setEnabled(status.recording or status.erasable)
        objects.triggered.connect(self.caller_objects)
        self.menu.addAction(objects)
        self.menu.addSeparator()
        about = QAction("About recording…", self.menu)
        about.triggered.connect(self.show_notice)
        self.menu.addAction(about)

    # ------------------------------------------------------------------ actions
    def toggle_pause(self) -> None:
        log.info("tray: %s", self.engine.toggle_pause())

    def caller_objects(self) -> None:
        # off the Qt thread: erasing the last call may wait for its sealing, or for the site
        threading.Thread(target=lambda: log.info("tray: %s", self.engine.caller_objects()),
                         name="caller-objects", daemon=True).start()  # fmt: skip

    def show_notice(self) -> None:
        if self.notice is not None and self.notice.isVisible():
            self.notice.raise_()
            return
        self.notice = NoticeDialog(
            self.engine.notice, self.language, self.engine.notice_needed(), self._acknowledged
        )
        self.notice.show()

    def _acknowledged(self, language: str) -> None:
        self.engine.acknowledge_notice(language)
