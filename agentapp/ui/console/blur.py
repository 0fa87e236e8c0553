"""Draw the rectangles an anonymised export blurs, on a frame of the recording: a customer's
name, an agent's badge. The frame is decoded in memory and shown here only (R11: nothing
offers to save it).

Threading: Qt thread only.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from agentapp.core.geometry import Rect
from agentapp.i18n import _

MAX_VIEW = (960, 600)  # the frame is shown at most this big (scaled down, never up)


class Canvas(QWidget):
    """The frame, and the rectangles drawn on it with the mouse (in the frame's pixels)."""

    def __init__(self, frame: np.ndarray) -> None:
        super().__init__()
        h, w = frame.shape[:2]
        image = QImage(frame.data, w, h, frame.strides[0], QImage.Format.Format_BGR888)
        self.scale = min(1.0, MAX_VIEW[0] / w, MAX_VIEW[1] / h)
        self.pixmap = QPixmap.fromImage(image).scaled(
            round(w * self.scale), round(h * self.scale),
            Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation,
        )  # fmt: skip
        self.frame_size = (w, h)
        self.setFixedSize(self.pixmap.size())
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)  # no "copy image"
        self.rects: list[Rect] = []
        self._start: QPoint | None = None
        self._now: QPoint | None = None

    def _to_frame(self, a: QPoint, b: QPoint) -> Rect:
        x0, x1 = sorted((a.x(), b.x()))
        y0, y1 = sorted((a.y(), b.y()))
        w, h = self.frame_size
        fx0, fy0 = max(0, round(x0 / self.scale)), max(0, round(y0 / self.scale))
        fx1, fy1 = min(w, round(x1 / self.scale)), min(h, round(y1 / self.scale))
        return Rect(fx0, fy0, fx1 - fx0, fy1 - fy0)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._start = self._now = event.position().toPoint()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._start is not None:
            self._now = event.position().toPoint()
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._start is None:
            return
        r = self._to_frame(self._start, event.position().toPoint())
        self._start = self._now = None
        if r.w >= 4 and r.h >= 4:  # a click is not a rectangle
            self.rects.append(r)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.drawPixmap(0, 0, self.pixmap)
        p.setPen(QPen(QColor(230, 40, 40), 2))
        s = self.scale
        for r in self.rects:
            p.fillRect(QRect(round(r.x * s), round(r.y * s), round(r.w * s), round(r.h * s)),
                       QColor(230, 40, 40, 90))  # fmt: skip
        if self._start is not None and self._now is not None:
            p.drawRect(QRect(self._start, self._now).normalized())
        p.end()


class BlurDialog(QDialog):
    def __init__(self, parent: QWidget | None, frame: np.ndarray) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("What to blur in the anonymised extract"))
        self.canvas = Canvas(frame)
        hint = QLabel(_("Drag over each area to blur in every frame (a name, a customer's "
                        "details). The extract has no agent name and no voice."))  # fmt: skip
        hint.setWordWrap(True)
        undo, clear = QPushButton(_("Undo")), QPushButton(_("Clear"))
        undo.clicked.connect(self._undo)
        clear.clicked.connect(self._clear)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(undo)
        row.addWidget(clear)
        row.addStretch(1)
        row.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.canvas, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addLayout(row)

    @property
    def rects(self) -> list[Rect]:
        return list(self.canvas.rects)

    def _undo(self) -> None:
        if self.canvas.rects:
            self.canvas.rects.pop()
            self.canvas.update()

    def _clear(self) -> None:
        self.canvas.rects.clear()
        self.canvas.update()


def pick_blurs(parent: QWidget | None, frame: np.ndarray) -> list[Rect] | None:
    """The rectangles drawn (None: cancelled)."""
    dialog = BlurDialog(parent, frame)
    return dialog.rects if dialog.exec() == QDialog.DialogCode.Accepted else None
