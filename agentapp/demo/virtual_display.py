"""A private X desktop (Xvfb + openbox + trayer) for the demo, the tests and the benchmarks.

Xvfb picks a free display number itself (-displayfd). Everything started here is stopped
here, by PID, and nothing else is touched.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import tempfile
import time
from typing import Any

from agentapp.core.errors import Refusal
from agentapp.i18n import _


class DesktopError(Refusal):
    """The virtual desktop cannot start (a program missing, a server that does not answer)."""


REQUIRED = ("Xvfb", "openbox")


def stop_process(proc: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """Ask a child to end (SIGTERM), kill it if it has not after `timeout` s, and reap it."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class VirtualDesktop:
    def __init__(
        self, width: int = 1920, height: int = 1080, tray: bool = True,
        xvfb_args: tuple[str, ...] = (),
    ) -> None:  # fmt: skip
        """`xvfb_args`: more Xvfb options, e.g. ("-extension", "Composite") for a server
        without per-window capture."""
        self.width, self.height, self.tray = width, height, tray
        self.xvfb_args = xvfb_args
        self.display = ""
        self._procs: list[subprocess.Popen[bytes]] = []

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ, DISPLAY=self.display, QT_QPA_PLATFORM="xcb")
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def start(self, timeout: float = 15.0) -> VirtualDesktop:
        missing = [t for t in REQUIRED if shutil.which(t) is None]
        if missing:
            raise DesktopError(
                _("missing {programs}: install the Debian packages xvfb and openbox").format(
                    programs=", ".join(missing)
                )
            )
        r, w = os.pipe()
        try:
            self._xvfb_log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as Xvfb
            xvfb = subprocess.Popen(
                ["Xvfb", "-displayfd", str(w), "-screen", "0", f"{self.width}x{self.height}x24",
                 "-nolisten", "tcp", "-noreset", *self.xvfb_args],
                pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=self._xvfb_log,
            )  # fmt: skip
            self._procs.append(xvfb)
            os.close(w)
            w = -1
            # Xvfb writes the number and the newline separately; closing the pipe early
            # makes its second write fail and Xvfb exit ("Cannot write display number").
            got = b""
            deadline = time.monotonic() + timeout
            while b"\n" not in got and time.monotonic() < deadline:
                ready, _w, _e = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(r, 16) if ready else b""
                if not chunk:
                    break
                got += chunk
            number = got.decode().strip()
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
        if not number.isdigit():
            self.stop()
            raise DesktopError(
                _("Xvfb did not start: {xvfb_said}").format(xvfb_said=self._xvfb_said())
            )
        self.display = f":{number}"
        self._spawn(["openbox", "--sm-disable"])
        self._wait_for_wm(timeout)
        if self.tray and shutil.which("trayer"):
            self._spawn(
                ["trayer", "--edge", "bottom", "--align", "right", "--widthtype", "request",
                 "--height", "24", "--SetDockType", "true", "--transparent", "false"]
            )  # fmt: skip
        return self

    def _xvfb_said(self) -> str:
        self._xvfb_log.seek(0)
        lines = [ln for ln in self._xvfb_log.read().decode(errors="replace").splitlines() if ln]
        return " / ".join(lines[-3:]) or "no message"

    def _spawn(self, argv: list[str]) -> None:
        self._procs.append(
            subprocess.Popen(
                argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def _wait_for_wm(self, timeout: float) -> None:
        from Xlib import X, display

        deadline = time.monotonic() + timeout
        while True:
            try:
                d = display.Display(self.display)
                break
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise DesktopError(
                        _("cannot connect to Xvfb on {display}: {xvfb_said}").format(
                            display=self.display, xvfb_said=self._xvfb_said()
                        )
                    ) from None
                time.sleep(0.05)
        try:
            atom = d.intern_atom("_NET_SUPPORTING_WM_CHECK")
            while time.monotonic() < deadline:
                if d.screen().root.get_full_property(atom, X.AnyPropertyType) is not None:
                    return
                time.sleep(0.05)
        finally:
            d.close()
        self.stop()
        raise DesktopError(_("the window manager (openbox) did not start"))

    def stop(self) -> None:
        for p in reversed(self._procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self._procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=5)
        self._procs.clear()

    def __enter__(self) -> VirtualDesktop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
