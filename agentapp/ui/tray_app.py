"""The Qt application around the tray (aw-qt / Vorta idioms).

Runs on the main thread: QApplication, no quit on last window closed, a no-op timer so that
SIGINT/SIGTERM handlers get to run (they end the event loop even while the badge or the
status window is shown), and the TrayController.
"""

from __future__ import annotations

import signal

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from agentapp.agent.engine import Engine
from agentapp.ui.qt_texts import install_qt_translations
from agentapp.ui.tray import TrayController


def run_tray(engine: Engine, language: str, hotkey: str) -> int:
    app = QApplication.instance() or QApplication(["agentapp"])
    assert isinstance(app, QApplication)
    app.setApplicationName("agentapp")
    app.setQuitOnLastWindowClosed(False)
    install_qt_translations(language)
    # exit(), not quit(): Qt 6's quit() first asks every window to close, and the recording
    # badge and the status window refuse (the agent cannot hide them), which cancels it
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: app.exit(0))
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: None)  # lets Python run its signal handlers
    heartbeat.start(200)
    controller = TrayController(engine, language, hotkey)
    code = app.exec()
    controller.indicator.hide()
    return int(code)
