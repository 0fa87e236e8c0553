"""A scripted business window for the benchmarks: a mostly static CRM form with periodic
typing, a list that scrolls now and then, and an occasional full repaint (theme change).

What it shows is a pure function of a *content version* v (`states()[v]`), and v is drawn in
the window as 16 black/white blocks in the bottom strip. A benchmark reads v back from any
decoded frame and renders `states()[v]` offscreen (`render`) as the ground truth, so quality
is measured against what was actually on screen, whatever the recorder's timing.

Cycle of 30 s at a 10 Hz step: typing (5 characters/s) during 6 s, a scroll of 10 lines during
2 s, a theme flip once; static the rest of the time (about 70 % of the steps change nothing).

    python -m bench.scenario --geometry 0,0,1280,720 --wm-class bench-crm

prints its X window id once shown, then runs until terminated.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

STEP_S = 0.1
CYCLE = 300  # steps
SENTENCE = "Customer asks to move the delivery to Thursday morning; reference 88-412-QX. "
LABELS = ["Customer", "Account", "Phone", "Address", "City", "Postcode", "Contract", "Plan",
          "Since", "Agent", "Priority", "Channel"]  # fmt: skip
NOTES = [f"{i:03d}  2026-11-{1 + i % 28:02d}  call back re. invoice {7000 + 37 * i}"
         for i in range(80)]  # fmt: skip
CODE_BITS, CODE_BLOCK = 16, 16


@dataclass(frozen=True, slots=True)
class State:
    cycle: int
    typed: int  # characters typed in this cycle's field
    scroll: int  # first note line shown
    dark: bool  # theme


def state_at(step: int) -> State:
    cycle, k = divmod(step, CYCLE)
    typed = min(k, 60) // 2
    scroll = cycle * 10 + (min(max(k - 120, 0), 20) // 2)
    dark = (cycle + (k >= 200)) % 2 == 1
    return State(cycle, typed, scroll % (len(NOTES) - 20), dark)


@cache
def states(steps: int = 10 * CYCLE * 20) -> tuple[State, ...]:
    """Every distinct content in order: the index is the content version drawn in the strip."""
    out = [state_at(0)]
    for k in range(1, steps):
        s = state_at(k)
        if s != out[-1]:
            out.append(s)
    return tuple(out)


def paint(p: Any, w: int, h: int, s: State, version: int) -> None:
    """Draw the form for state `s` with QPainter `p` (the window and the reference share it)."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QColor, QFont

    bg, fg, box = ((40, 44, 52), (220, 220, 220), (60, 64, 72)) if s.dark else \
        ((236, 236, 236), (30, 30, 30), (255, 255, 255))  # fmt: skip
    p.fillRect(QRect(0, 0, w, h), QColor(*bg))
    p.setFont(QFont("DejaVu Sans", 11))
    p.setPen(QColor(*fg))
    p.drawText(20, 28, "CRM — customer file")
    for i, label in enumerate(LABELS):
        x, y = 20 + (i % 2) * 330, 50 + (i // 2) * 44
        p.setPen(QColor(*fg))
        p.drawText(x, y + 14, label)
        p.fillRect(QRect(x + 100, y, 210, 22), QColor(*box))
        p.drawText(x + 106, y + 16, f"{label.lower()} value {i * 7 + 3}")
    field = QRect(20, 330, 640, 120)
    p.fillRect(field, QColor(*box))
    text = (SENTENCE * 3)[s.cycle % 40 : s.cycle % 40 + s.typed]
    flags = Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft
    p.drawText(field.adjusted(6, 6, -6, -6), flags, text)
    lx, lh = 700, 20
    p.fillRect(QRect(lx, 50, w - lx - 20, h - 110), QColor(*box))
    for row in range(max(0, (h - 120) // lh)):
        p.drawText(lx + 8, 68 + row * lh, NOTES[(s.scroll + row) % len(NOTES)])
    for bit in range(CODE_BITS):  # the content version, for the benchmark to read back
        on = (version >> bit) & 1
        block = QRect(20 + bit * CODE_BLOCK, h - 30, CODE_BLOCK, CODE_BLOCK)
        p.fillRect(block, QColor(*((255, 255, 255) if on else (0, 0, 0))))


def read_version(bgr: Any) -> int | None:
    """The content version drawn in a decoded frame (BGR), or None when unreadable."""
    h = bgr.shape[0]
    v = 0
    for bit in range(CODE_BITS):
        y, x = h - 30 + CODE_BLOCK // 2, 20 + bit * CODE_BLOCK + CODE_BLOCK // 2
        level = int(bgr[y - 3 : y + 4, x - 3 : x + 4].mean())
        if 60 < level < 195:
            return None
        v |= (level >= 128) << bit
    return v if v < len(states()) else None


def render(w: int, h: int, version: int) -> Any:
    """The reference picture of content `version` as a BGR array (needs a QGuiApplication)."""
    import numpy as np
    from PySide6.QtGui import QImage, QPainter

    img = QImage(w, h, QImage.Format.Format_RGB32)
    p = QPainter(img)
    paint(p, w, h, states()[version], version)
    p.end()
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(h, img.bytesPerLine() // 4, 4)
    return arr[:, :w, :3].copy()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--geometry", required=True, help="X,Y,W,H of the client area")
    ap.add_argument("--wm-class", default="bench-crm")
    a = ap.parse_args(argv)
    x, y, w, h = (int(v) for v in a.geometry.split(","))

    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QPainter, QPaintEvent
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication([a.wm_class])
    app.setApplicationName(a.wm_class)
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    index = {s: i for i, s in enumerate(states())}

    class Form(QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.setWindowTitle("CRM — bench scenario")
            self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
            self.t0 = time.monotonic()
            self.state = state_at(0)

        def step(self) -> None:
            s = state_at(int((time.monotonic() - self.t0) / STEP_S))
            if s != self.state:  # repaint only what changes: the screen stays static otherwise
                self.state = s
                self.update()

        def paintEvent(self, event: QPaintEvent) -> None:
            p = QPainter(self)
            paint(p, self.width(), self.height(), self.state, index[self.state])
            p.end()

    win = Form()
    win.setGeometry(x, y, w, h)
    timer = QTimer()
    timer.timeout.connect(win.step)
    timer.start(int(STEP_S * 1000 / 2))
    win.show()
    QTimer.singleShot(0, lambda: print(int(win.winId()), flush=True))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
