"""The watermark band drawn with Qt's painter: the vault and the export have no font of their
own, and Qt is on every desk already (OpenCV's vector font was the one thing it was kept for).

Threading: the thread that made the Qt application (the console's or player's; the CLI's
export makes one here).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QGuiApplication, QImage, QPainter
from PySide6.QtWidgets import QApplication

from agentapp.vault.export import BAND, Mark

LARGEST_PX, SMALLEST_PX = 12, 7  # the text's height: the largest that fits the width
BACKGROUND = QColor(32, 32, 32)


def watermark_band(text: str, width: int) -> np.ndarray:
    """`text` in white on a dark band of BAND rows and `width` columns (BGR, uint8), at the
    largest size that fits (at the smallest, a very narrow window cuts the end off)."""
    ensure_app()
    image = QImage(width, BAND, QImage.Format.Format_RGB888)
    image.fill(BACKGROUND)
    font = QFont()
    font.setStyleHint(QFont.StyleHint.SansSerif)
    for px in range(LARGEST_PX, SMALLEST_PX - 1, -1):
        font.setPixelSize(px)
        if QFontMetrics(font).horizontalAdvance(text) <= width - 8:
            break
    painter = QPainter(image)
    try:
        painter.setFont(font)
        painter.setPen(Qt.GlobalColor.white)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        painter.drawText(4, 0, max(1, width - 4), BAND, Qt.AlignmentFlag.AlignVCenter, text)
    finally:
        painter.end()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(BAND, image.bytesPerLine())
    return np.ascontiguousarray(rows[:, : width * 3].reshape(BAND, width, 3)[:, :, ::-1])


_app: QApplication | None = None


def ensure_app() -> None:
    """Fonts need a Qt application: the running one (a console's, a player's), else one made
    here, off-screen: the CLI's export shows no window and must not depend on a display (a
    gone one makes Qt abort). A QApplication, not a QGuiApplication, so that a window can
    still be opened in this process afterwards (Qt allows one application object)."""
    global _app
    if QGuiApplication.instance() is None:
        _app = QApplication(["agentapp", "-platform", "offscreen"])


def qt_mark(text: str) -> Mark:
    """A watermark of `text` drawn by this module (for the export, the player and the CLI)."""
    return Mark(text, watermark_band)
