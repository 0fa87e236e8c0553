"""Per-frame cost of each way to read the business window, at 1280×720 and 1920×1080.

    .venv/bin/python -m bench.bench_capture_modes [--reads 100]

On a private Xvfb + openbox desktop with a real Qt window: per-window capture (the window's
own pixmap through MIT-SHM, capture/xshm.py), the masked fallback's screen grab (mss, XShm),
and python-xlib's GetImage of the same pixmap for reference (what "keep python-xlib off the
per-frame path" avoids). Median and p95 of wall time per read, in ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from Xlib.ext import composite

from agentapp.capture.grabber import Grabber
from agentapp.capture.xshm import ShmReader
from agentapp.core.geometry import Rect
from agentapp.demo.sample_window import SampleWindow
from agentapp.demo.virtual_display import VirtualDesktop


def timed(fn: object, n: int) -> tuple[float, float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return statistics.median(out), out[int(0.95 * (len(out) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=100)
    a = ap.parse_args()
    from Xlib import X, display

    with VirtualDesktop(tray=False) as desk:
        os.environ["DISPLAY"] = desk.display  # mss reads it
        for w, h in ((1280, 720), (1920, 1080)):
            win = SampleWindow("bench-modes", "CRM — bench", (40, 160, 60), (0, 0, w, h))
            proc, wid = win.spawn(desk.env)
            try:
                time.sleep(0.8)
                d = display.Display(desk.display)
                d.composite_query_version()
                xw = d.create_resource_object("window", wid)
                xw.composite_redirect_window(composite.RedirectAutomatic)
                pm = xw.composite_name_window_pixmap()
                d.sync()
                geo = xw.get_geometry()
                cw, ch = geo.width - geo.width % 2, geo.height - geo.height % 2
                origin = d.screen().root.translate_coords(xw, 0, 0)
                reader, grabber = ShmReader(desk.display), Grabber()
                rect = Rect(origin.x, origin.y, cw, ch)
                own = timed(lambda: reader.read(pm.id, cw, ch), a.reads)  # noqa: B023
                grab = timed(lambda: grabber.grab(rect), a.reads)  # noqa: B023
                xlib = timed(lambda: pm.get_image(0, 0, cw, ch, X.ZPixmap, 0xFFFFFFFF),  # noqa: B023
                             max(10, a.reads // 5))  # fmt: skip
                print(f"{cw}x{ch}: per-window (pixmap, MIT-SHM) {own[0]:.2f} ms "
                      f"(p95 {own[1]:.2f}); "
                      f"masked (screen grab, mss) {grab[0]:.2f} ms (p95 {grab[1]:.2f}) + mask; "
                      f"python-xlib GetImage {xlib[0]:.1f} ms (p95 {xlib[1]:.1f})")  # fmt: skip
                reader.close()
                grabber.close()
                d.close()
            finally:
                proc.terminate()
                proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
