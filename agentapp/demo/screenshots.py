"""Screenshots of the agent's face, taken for real on a private X desktop (Xvfb + openbox +
trayer): the notice (FR/EN), the desktop while recording (badge + tray), the tray menu, the
paused badge and the no-tray status window. Used for docs/ and checked by a test.

    python -m agentapp.demo.screenshots docs/screenshots
"""

from __future__ import annotations

import getpass
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey


def main(argv: list[str] | None = None) -> int:
    out = Path((argv or sys.argv[1:] or ["docs/screenshots"])[0])
    out.mkdir(parents=True, exist_ok=True)
    from agentapp.demo.run import BUSINESS, sample_policy
    from agentapp.demo.virtual_display import VirtualDesktop

    with VirtualDesktop() as desk, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(DISPLAY=desk.display, QT_QPA_PLATFORM="xcb")
        business, _x = BUSINESS.spawn(desk.env)
        try:
            data = Path(tmp)
            agent = getpass.getuser()
            (data / "policy.toml").write_text(sample_policy(agent, BUSINESS.wm_class))
            return _shoot(out, data, agent, desk.display)
        finally:
            business.terminate()
            business.wait(timeout=10)


def _shoot(out: Path, data: Path, agent: str, display: str) -> int:
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication, QWidget

    from agentapp.agent.engine import Engine
    from agentapp.capture.grabber import Grabber
    from agentapp.capture.xshm import ShmReader
    from agentapp.core.events import CallEvent, EventKind
    from agentapp.core.policy import DEFAULT_HOTKEY
    from agentapp.i18n import current
    from agentapp.platform.x11 import X11Locator
    from agentapp.ui.tray import StatusWindow, TrayController
    from agentapp.vault.keys import public_key_path, write_public_key

    write_public_key(X25519PrivateKey.generate().public_key(), public_key_path(data))
    app = QApplication.instance() or QApplication(["agentapp"])
    engine = Engine(
        agent=agent, data_dir=data, policy_path=data / "policy.toml",
        locator_factory=lambda: X11Locator(display), grabber_factory=Grabber,
        reader_factory=lambda: ShmReader(display),
    )  # fmt: skip
    engine.start()

    def pump(ok: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not ok():
            if time.monotonic() > deadline:
                raise RuntimeError("the screen did not reach the expected state")
            app.processEvents()
            time.sleep(0.02)
        for _i in range(20):  # let the window manager and Qt finish painting
            app.processEvents()
            time.sleep(0.02)

    def shot(name: str, rect: QRect | Callable[[], QRect]) -> None:
        """`rect` of the screen into `name`; a callable is asked again at each try: under load
        the window manager may still be placing the window (a 1x1 picture was seen)."""
        for _try in range(50):
            r = rect() if callable(rect) else rect
            pm = QGuiApplication.primaryScreen().grabWindow(0, r.x(), r.y(), r.width(), r.height())
            if pm.width() >= min(r.width(), 100) > 1 and pm.height() > 1:
                break
            pump(lambda: True)
        else:
            raise RuntimeError(f"{name}: the screen gave no picture of {r}")
        pm.save(str(out / name))
        print(f"wrote {out / name} ({r.width()}x{r.height()})")

    def around(w: QWidget, margin: int = 0) -> QRect:
        return w.frameGeometry().adjusted(-margin, -margin, margin, margin)

    language = current()  # AGENTAPP_LANG or the locale: the shots are in that language
    other = "en" if language == "fr" else "fr"
    c = TrayController(engine, language, DEFAULT_HOTKEY)
    pump(lambda: c.tray is not None and c.notice is not None and c.notice.isVisible())
    assert c.notice is not None
    c.notice.move(300, 120)
    pump(lambda: c.notice is not None and c.notice.pos().x() > 0)
    shot(f"notice-{language}.png", around(c.notice))
    c.notice.switch.click()
    pump(lambda: True)
    shot(f"notice-{other}.png", around(c.notice))
    assert c.notice.ack is not None
    c.notice.ack.click()
    engine.handle_event(CallEvent(EventKind.OFF_HOOK, "shot", time.time()))
    pump(lambda: c.indicator.isVisible() and "●" in c.indicator.text())
    time.sleep(1.0)
    screen = QGuiApplication.primaryScreen().geometry()
    shot("desktop-recording.png", screen)
    c.menu.popup(QPoint(screen.width() - 420, screen.height() - 240))
    pump(c.menu.isVisible)
    shot("tray-menu.png", around(c.menu, 6))
    c.menu.hide()
    engine.toggle_pause()
    pump(lambda: "❚❚" in c.indicator.text())
    shot("indicator-paused.png", around(c.indicator, 8))
    window = StatusWindow(c)
    window.show_status(engine.status, DEFAULT_HOTKEY)
    window.move(600, 400)
    window.show()
    # (under load the window manager may not have placed and sized it yet when it shows)
    pump(lambda: window.isVisible() and around(window).width() > 100)
    shot("status-window.png", lambda: around(window))
    window.hide()
    engine.handle_event(CallEvent(EventKind.ON_HOOK, "shot", time.time()))
    engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
