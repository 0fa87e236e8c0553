"""Tray icons drawn at run time, one look per state (no image files to ship or theme)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPen, QPixmap

HEADLINES = {
    "not_enrolled": "Not enrolled — never recorded",
    "notice_required": "Notice to read before any recording",
    "waiting": "Enrolled — waiting for a call",
    "recording": "● Recording for training",
    "paused": "Paused — nothing is recorded",
    "cannot_record": "Cannot record",
}

_COLOURS = {
    "not_enrolled": "#9e9e9e",
    "notice_required": "#1e88e5",
    "waiting": "#43a047",
    "recording": "#e53935",
    "paused": "#fb8c00",
    "cannot_record": "#6d4c41",
}


def state_colour(state: str) -> QColor:
    return QColor(_COLOURS.get(state, "#9e9e9e"))


def state_pixmap(state: str, size: int = 64) -> QPixmap:
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
    if state == "recording":
        p.drawEllipse(QRectF(size * 0.3, size * 0.3, size * 0.4, size * 0.4))
    elif state == "paused":
        p.drawRect(QRectF(size * 0.32, size * 0.28, size * 0.12, size * 0.44))
        p.drawRect(QRectF(size * 0.56, size * 0.28, size * 0.12, size * 0.44))
    else:
        mark = {"not_enrolled": "–", "notice_required": "i", "waiting": "✓", "cannot_record": "!"}
        p.setPen(QPen(c))
        f = QFont("Sans")
        f.setPixelSize(int(size * 0.5))
        f.setBold(True)
        p.setFont(f)
        p.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, mark.get(state, "?"))
    p.end()
    return pm


def state_icon(state: str) -> QIcon:
    return QIcon(state_pixmap(state))
