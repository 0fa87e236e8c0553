"""Turns the engine's plain status hook into a Qt signal (Plover's engine/gui split).

Threading: the engine calls `_relay` on whatever thread changed the status; emitting a signal
whose receivers live in the GUI thread queues the call there (AutoConnection).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from agentapp.agent.engine import Engine
from agentapp.agent.status import EngineStatus


class EngineBridge(QObject):
    statusChanged = Signal(object)  # EngineStatus

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine
        engine.add_status_listener(self._relay)

    def _relay(self, status: EngineStatus) -> None:
        self.statusChanged.emit(status)
