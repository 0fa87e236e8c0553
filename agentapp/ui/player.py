"""Watch a recording without writing it anywhere: frames decoded from memory, shown at their
own pace, the watermark band under the picture (R7, R8, R11: a player, no "save frame").

Threading: Qt thread only. The frame source is a lazy iterator (one frame decoded per tick),
so a long recording never sits decoded in memory.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from agentapp.i18n import _


class PlayerWindow(QWidget):
    def __init__(
        self, frames: Iterator[tuple[float, np.ndarray]], title: str, caption: str = ""
    ) -> None:
        """`caption`: a line under the picture (the console gives the timeline: duration,
        segments, paused spans)."""
        super().__init__()
        self.setObjectName("agentapp-player")
        self.setWindowTitle(title)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)  # no "copy image"
        self._frames = frames
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(320, 200)
        self.position = QLabel("0:00")
        self.toggle = QPushButton(_("Pause"))
        self.toggle.clicked.connect(self._toggle)
        close = QPushButton(_("Close"))
        close.clicked.connect(self.close)
        row = QHBoxLayout()
        row.addWidget(self.toggle)
        row.addWidget(self.position, 1)
        row.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture, 1)
        if caption:
            self.caption = QLabel(caption)
            self.caption.setWordWrap(True)
            layout.addWidget(self.caption)
        layout.addLayout(row)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._next)
        self._last_t: float | None = None
        self._due: tuple[float, np.ndarray] | None = None
        self.shown = 0
        self.finished = False
        self._timer.start(0)

    def _toggle(self) -> None:
        if self.finished:
            return
        if self._timer.isActive():
            self._timer.stop()
            self.toggle.setText(_("Play"))
        else:
            self.toggle.setText(_("Pause"))
            self._timer.start(0)

    def _next(self) -> None:
        """Show the frame that is due, then wait until the next one is."""
        if self._due is not None:
            t, bgr = self._due
            h, w = bgr.shape[:2]
            image = QImage(bgr.data, w, h, bgr.strides[0], QImage.Format.Format_BGR888)
            pixmap = QPixmap.fromImage(image)  # a copy: bgr may go
            fit = pixmap.scaled(
                self.picture.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self.picture.setPixmap(fit)
            self.shown += 1
            self.position.setText(f"{int(t) // 60}:{int(t) % 60:02d}")
        try:
            self._due = next(self._frames)
        except StopIteration:
            self._due = None
            self.finished = True
            self.toggle.setEnabled(False)
            self.position.setText(
                _("{position} — end of the recording").format(position=self.position.text())
            )
            return
        wait = 0.0 if self._last_t is None else self._due[0] - self._last_t
        self._last_t = self._due[0]
        self._timer.start(round(min(max(wait, 0.0), 2.0) * 1000))  # a paused span: no long wait


def play(frames: Iterator[tuple[float, np.ndarray]], title: str) -> int:
    """Open the player in its own Qt application; returns when the window is closed."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["agentapp-player"])
    window = PlayerWindow(frames, title)
    window.resize(960, 600)
    window.show()
    return app.exec()
