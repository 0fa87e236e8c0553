"""A stand-in window for the demo, tests and benchmarks: a solid colour, a title and a ticking
line of text, so the video is not perfectly static.

    python -m agentapp.demo.sample_window --wm-class agentapp-business --title "CRM — form" \
        --color 40,160,60 --geometry 100,100,1280,720

It prints its X window id on stdout once shown, then runs until terminated. With
`--popup-color`, SIGUSR1 shows the application's own pop-up (an override-redirect window, as a
menu or a tooltip is) over its top-left part, and SIGUSR2 hides it. SIGHUP minimises it (as
its own minimise button would: a Wayland client can ask for it, but no other program can);
with `--retitle`, SIGALRM gives it that title (as a web page or a document would).
"""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SampleWindow:
    """How to open one sample window in another process (no Qt in the caller)."""

    wm_class: str
    title: str
    color: tuple[int, int, int]  # R, G, B
    geometry: tuple[int, int, int, int]  # x, y, w, h of the client area
    typing: bool = False
    popup_color: tuple[int, int, int] | None = None
    still: bool = False  # draws once (and when exposed), never again: a form nobody touches
    retitle: str | None = None  # the title SIGALRM gives it

    def spawn(self, env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
        """Start it; returns the process and its X window id once it is shown."""
        argv = [sys.executable, "-m", "agentapp.demo.sample_window", "--wm-class", self.wm_class,
                "--title", self.title, "--color", ",".join(map(str, self.color)),
                "--geometry", ",".join(map(str, self.geometry))]  # fmt: skip
        if self.typing:
            argv.append("--typing")
        if self.still:
            argv.append("--still")
        if self.retitle:
            argv += ["--retitle", self.retitle]
        if self.popup_color:
            argv += ["--popup-color", ",".join(map(str, self.popup_color))]
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            proc.kill()
            proc.wait()
            raise RuntimeError("the sample window did not start (is PySide6 installed?)")
        return proc, int(line)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--wm-class", required=True)
    p.add_argument("--title", required=True)
    p.add_argument("--color", required=True, help="R,G,B")
    p.add_argument("--geometry", required=True, help="X,Y,W,H of the client area")
    p.add_argument("--typing", action="store_true", help="type text continuously (benchmarks)")
    p.add_argument("--still", action="store_true", help="no clock: draws once, never again")
    p.add_argument("--retitle", help="the title SIGALRM gives it")
    p.add_argument("--popup-color", help="R,G,B of its own pop-up (SIGUSR1 shows, SIGUSR2 hides)")
    a = p.parse_args(argv)
    r, g, b = (int(v) for v in a.color.split(","))
    x, y, w, h = (int(v) for v in a.geometry.split(","))

    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
    from PySide6.QtWidgets import QApplication, QWidget

    # WM_CLASS comes from the application name (class) and argv[0] (instance) on xcb; the
    # Wayland app id from the desktop file name.
    app = QApplication([a.wm_class])
    app.setApplicationName(a.wm_class)
    app.setDesktopFileName(a.wm_class)
    signal.signal(signal.SIGTERM, lambda *_: app.quit())

    class Sample(QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.setWindowTitle(a.title)
            self.ticks = 0
            self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

        def paintEvent(self, event: QPaintEvent) -> None:
            painter = QPainter(self)
            painter.fillRect(self.rect(), QColor(r, g, b))
            painter.setPen(QColor(255, 255, 255))
            painter.setFont(QFont("Sans", 18))
            painter.drawText(40, 60, a.title)
            if not a.still:
                painter.drawText(40, 110, dt.datetime.now().strftime("%H:%M:%S.%f")[:-4])
            if a.typing:
                painter.drawText(
                    40, 160, ("customer notes: " + "lorem ipsum " * 9)[: self.ticks % 120]
                )
            painter.end()

        def tick(self) -> None:
            self.ticks += 1
            if not a.still:
                self.update()

    win = Sample()
    win.setGeometry(x, y, w, h)
    popup: QWidget | None = None
    wanted: list[bool] = []
    if a.popup_color:
        pr, pg, pb = (int(v) for v in a.popup_color.split(","))
        popup = QWidget(None, Qt.WindowType.ToolTip)  # override-redirect on X11
        popup.setAutoFillBackground(True)
        pal = popup.palette()
        pal.setColor(popup.backgroundRole(), QColor(pr, pg, pb))
        popup.setPalette(pal)
        popup.setGeometry(x + 200, y + 150, 300, 200)
        signal.signal(signal.SIGUSR1, lambda *_: wanted.append(True))
        signal.signal(signal.SIGUSR2, lambda *_: wanted.append(False))

    minimise: list[bool] = []
    signal.signal(signal.SIGHUP, lambda *_: minimise.append(True))
    retitle: list[bool] = []
    if a.retitle:
        signal.signal(signal.SIGALRM, lambda *_: retitle.append(True))

    def tick() -> None:
        win.tick()
        if retitle:
            retitle.clear()
            win.setWindowTitle(a.retitle)
        if minimise:
            minimise.clear()
            win.showMinimized()
        if popup is not None and wanted:
            popup.setVisible(wanted.pop())
            wanted.clear()

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(100)
    win.show()
    QTimer.singleShot(0, lambda: print(int(win.winId()), flush=True))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
