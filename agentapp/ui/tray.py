"""The agent's face: tray icon (or an always-visible status window when there is no tray),
recording badge, notice, secure pause and "caller objects".

Threading: everything here lives on the Qt GUI thread; engine status arrives through the
bridge's queued signal. Engine methods called from here are thread-safe and quick.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections.abc import Callable
from html import escape

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSystemTrayIcon,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from agentapp import i18n
from agentapp.agent.engine import Engine
from agentapp.agent.status import AgentState, EngineStatus
from agentapp.core import labels
from agentapp.i18n import _
from agentapp.platform.hotkey import human
from agentapp.ui import words
from agentapp.ui.bridge import EngineBridge
from agentapp.ui.icons import state_icon, state_pixmap
from agentapp.ui.indicator import RecordingIndicator
from agentapp.ui.notice_dialog import NoticeDialog
from agentapp.ui.qt_texts import install_qt_translations

log = logging.getLogger(__name__)
NOTIFY_EVERY_S = 20.0
MENU_WIDTH = 520  # px: a menu a trainee reads at a glance, never across the screen


def describe(status: EngineStatus, hotkey: str = "") -> list[str]:
    """The lines a person reads in the tooltip, the menu and the status window."""
    return words.lines(status, hotkey)


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
        self.objects = QPushButton()
        self.objects.clicked.connect(controller.caller_objects)
        self.about = QPushButton()
        self.about.clicked.connect(controller.show_notice)
        self.say = QPushButton()
        self.say.clicked.connect(controller.show_read_out)
        self.details = QPushButton()
        self.details.clicked.connect(controller.show_details)
        row = QHBoxLayout()
        row.addWidget(self.icon)
        row.addWidget(self.text, 1)
        buttons = QHBoxLayout()
        for b in (self.pause, self.objects, self.about, self.say, self.details):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(buttons)
        self.setMinimumWidth(520)

    def show_status(self, status: EngineStatus, hotkey: str) -> None:
        self.icon.setPixmap(state_pixmap(status.state, 32))
        self.text.setText("\n".join(describe(status, hotkey)))
        self.pause.setText(_(labels.RESUME) if status.state == AgentState.PAUSED
                           else _(labels.PAUSE).format(key=human(hotkey)))  # fmt: skip
        self.pause.setEnabled(status.recording)
        self.objects.setText(_("Caller objects"))
        self.objects.setEnabled(status.recording or status.erasable)
        self.about.setText(_(labels.ABOUT))
        self.say.setText(_(labels.SAY))
        self.details.setText(_(labels.DETAILS))
        self.details.setVisible(words.has_details(status))

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
        i18n.use(language)
        self.hotkey = hotkey
        self.bridge = EngineBridge(engine)
        self.indicator = RecordingIndicator()
        self.tray: QSystemTrayIcon | None = None
        self.window: StatusWindow | None = None
        self.notice: NoticeDialog | None = None
        self.dialog: QDialog | None = None  # the read-out text or the details, when open
        self.mine: subprocess.Popen[bytes] | None = None  # « Mes enregistrements », when open
        self.menu = QMenu()
        self.menu.setMaximumWidth(MENU_WIDTH)
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
        return "agentapp — " + "\n".join(describe(self.engine.status, self.hotkey))

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
            self._message(_("Recording for training started"), status)
        elif was in recording and status.state not in recording:
            self._message(_("Recording stopped"), status)
        if status.state == AgentState.NOTICE_REQUIRED and was != AgentState.NOTICE_REQUIRED:
            QTimer.singleShot(0, self.show_notice)

    def _message(self, title: str, status: EngineStatus) -> None:
        if self.tray is not None and self._notify.allow(title):
            self.tray.showMessage(title, words.headline(status), state_icon(status.state), 4000)

    def _action(self, text: str, slot: Callable[[], None], enabled: bool = True) -> QAction:
        action = QAction(text, self.menu)
        action.setEnabled(enabled)
        action.triggered.connect(slot)
        self.menu.addAction(action)
        return action

    def _build_menu(self) -> None:
        status = self.engine.status
        self.menu.clear()
        for line in describe(status, self.hotkey):
            info = self.menu.addAction(line)
            info.setEnabled(False)
        self.menu.addSeparator()
        self._action(_(labels.RESUME) if status.state == AgentState.PAUSED
                     else _(labels.PAUSE).format(key=human(self.hotkey)),
                     self.toggle_pause, status.recording)  # fmt: skip
        self._action(_(labels.OBJECTS) if status.recording or not status.erasable
                     else _(labels.OBJECTS_AFTER),
                     self.caller_objects, status.recording or status.erasable)  # fmt: skip
        self.menu.addSeparator()
        self._action(_(labels.SAY), self.show_read_out)
        self._action(_(labels.ABOUT), self.show_notice)
        self._action(_("My recordings…"), self.show_mine)
        if words.has_details(status):
            self._action(_(labels.DETAILS), self.show_details)
        self._action(_(labels.LANGUAGE), self.switch_language)

    # ------------------------------------------------------------------ actions
    def toggle_pause(self) -> None:
        log.info("tray: %s", self.engine.toggle_pause())

    def caller_objects(self) -> None:
        # off the Qt thread: erasing the last call may wait for its sealing, or for the site
        threading.Thread(target=lambda: log.info("tray: %s", self.engine.caller_objects()),
                         name="caller-objects", daemon=True).start()  # fmt: skip

    def switch_language(self) -> None:
        """French ↔ English for the tray, the badge and the notice, at once."""
        self.language = "en" if self.language == "fr" else "fr"
        i18n.use(self.language)
        install_qt_translations(self.language)
        self.show_status(self.engine.status)

    def show_notice(self) -> None:
        if self.notice is not None and self.notice.isVisible():
            self.notice.raise_()
            return
        self.notice = NoticeDialog(
            self.engine.notices.notice,
            self.language,
            self.engine.notices.needed(),
            self._acknowledged,
        )
        self.notice.show()

    def show_mine(self) -> None:
        """« Mes enregistrements » in a process of its own: playing a video never competes
        with the recording of a call (ui/mine.py)."""
        from agentapp.platform.process import own_command

        try:
            self.mine = subprocess.Popen(own_command("mine", "window"), start_new_session=True,
                                         stdin=subprocess.DEVNULL)  # fmt: skip
        except OSError as exc:
            log.warning("cannot open my recordings: %s", exc)

    def show_read_out(self) -> None:
        """A short text to read to a caller or a colleague who asks, in both languages."""
        self._text_dialog(_("What to tell a caller"), "\n\n".join(
            f"<h4>{head}</h4><p>{escape(self.engine.notices.read_out(lang))}</p>"
            for lang, head in (("fr", "Français"), ("en", "English"))))  # fmt: skip

    def show_details(self) -> None:
        """The technical words behind the trainee's, for IT (paths, keys, rule numbers)."""
        status = self.engine.status
        self._text_dialog(_("Details for IT"), "<p>" + escape(_(
            "Give these details to IT; they say what stands in the way on this desk.")) + "</p>"
            f"<pre style='white-space: pre-wrap'>{escape(status.detail)}</pre>")  # fmt: skip

    def _text_dialog(self, title: str, html: str) -> None:
        if self.dialog is not None:
            self.dialog.close()
        dialog = QDialog()
        dialog.setObjectName("agentapp-text")
        dialog.setWindowTitle(title)
        text = QTextBrowser()
        text.setHtml(html)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        layout.addWidget(buttons)
        dialog.resize(560, 380)
        dialog.show()
        self.dialog = dialog

    def _acknowledged(self, language: str) -> None:
        self.engine.notices.acknowledge(language)
