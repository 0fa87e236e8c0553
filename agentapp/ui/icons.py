"""Tray icons drawn at run time, one look per state (no image files to ship or theme)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPen, QPixmap

from agentapp.agent.status import AgentState

HEADLINES = {
    AgentState.NOT_ENROLLED: "Not enrolled — never recorded",
    AgentState.NOTICE_REQUIRED: "Notice to read before any recording",
    AgentState.WAITING: "Enrolled — waiting for a call",
    AgentState.RECORDING: "● Recording for training",
    AgentState.PAUSED: "Paused — nothing is recorded",
    AgentState.CANNOT_RECORD: "Cannot record",
}

_COLOURS = {
    AgentState.NOT_ENROLLED: "#9e9e9e",
    AgentState.NOTICE_REQUIRED: "#1e88e5",
    AgentState.WAITING: "#43a047",
    AgentState.RECORDING: "#e53935",
    AgentState.PAUSED: "#fb8c00",
    AgentState.CANNOT_RECORD: "#6d4c41",
}


def state_colour(state: AgentState) -> QColor:
    return QColor(_COLOURS.get(state, "#9e9e9e"))


def state_pixmap(state: AgentState, size: int = 64) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    c = state_colour(state)
    ring = QRectF(size * 0.06, size * 0.06, size * 0.88, size * 0.88)
    p.setPen(QPen(c, size * 0.1))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawEllipse(ring)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QBrush(c))
    if state == AgentState.RECORDING:
        p.drawEllipse(QRectF(size * 0.3, size * 0.3, size * 0.4, size * 0.4))
    elif state == AgentState.PAUSED:
        p.drawRect(QRectF(size * 0.32, size * 0.28, size * 0.12, size * 0.44))
        p.drawRect(QRectF(size * 0.56, size * 0.28, size * 0.12, size * 0.44))
    else:
        mark = {
            AgentState.NOT_ENROLLED: "–",
            AgentState.NOTICE_REQUIRED: "i",
            AgentState.WAITING: "✓",
            AgentState.CANNOT_RECORD: "!",
        }
        p.setPen(QPen(c))
        f = QFont("Sans")
        f.setPixelSize(int(size * 0.5))
        f.setBold(True)
        p.setFont(f)
        p.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, mark.get(state, "?"))
    p.end()
    return pm


def state_icon(state: AgentState) -> QIcon:
    return QIcon(state_pixmap(state))
