"""The Qt binding must not eat references to None.

PySide6-Essentials 6.12.0 on Python 3.11 drops one reference to None on every call of a
method that returns nothing (QPainter.fillRect, QLabel.setText, QTimer.setInterval…). None
is not immortal before Python 3.12: a tray agent that runs for days, or the player painting
at 10 fps, reaches zero and dies with "Fatal Python error: none_dealloc". pyproject.toml
keeps PySide6 below 6.12; this test catches the bug in whichever version is installed."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("PySide6")


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_void_qt_calls_keep_none_alive(qapp: object) -> None:
    from PySide6.QtCore import QRect, QTimer
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtWidgets import QLabel

    label, timer = QLabel(), QTimer()
    image = QImage(64, 64, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    calls = {
        "QPainter.fillRect": lambda: painter.fillRect(QRect(0, 0, 8, 8), QColor(1, 2, 3)),
        "QPainter.setPen": lambda: painter.setPen(QColor(1, 2, 3)),
        "QLabel.setText": lambda: label.setText("x"),
        "QTimer.setInterval": lambda: timer.setInterval(5),
    }
    try:
        for name, call in calls.items():
            before = sys.getrefcount(None)
            for _ in range(500):
                call()
            lost = before - sys.getrefcount(None)
            assert lost < 100, f"{name} drops a reference to None per call ({lost} in 500)"
    finally:
        painter.end()
