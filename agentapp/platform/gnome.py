"""The window source of a GNOME Shell session (Wayland, or Xorg), from the agent's own Shell
extension (gnome_desk.py): which window is the business one, its identity, where it is, and
whether the session is locked. Its pixels come from Mutter's ScreenCast of that window alone
(capture/screencast.py): per-window capture, so nothing of another window is ever read, and
there is no masked fallback here (no program may read the screen under Wayland).

Identity: the window's class and app id (both chosen by the application) and the executable
of its pid, which the compositor gives and no client can choose; the title; and the
extension's count of identity changes, which moves at every change even when a title
changes and changes back between two looks.

Threading: one thread (the capture thread makes its own locator).
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading
from collections.abc import Callable, Iterator

import numpy as np

from agentapp.core.geometry import Rect
from agentapp.core.policy import WindowRule
from agentapp.platform.base import (
    CaptureMode,
    Indicator,
    LocatorError,
    PauseHotkey,
    ReaderUnavailable,
    WindowInfo,
    WindowLocator,
    WindowView,
)
from agentapp.platform.gnome_desk import DeskClient, DeskState, DeskUnavailable, ShellWindow
from agentapp.platform.process import executable

log = logging.getLogger(__name__)

LOCKED = "the session is locked"
MINIMISED = "the window is minimised"
ELSEWHERE = "the window is not on this workspace"
CLOSED = "the window is closed"
UNREADABLE = "the desk extension no longer answers"
RETRY_S = 2.0


class GnomeLocator(WindowLocator):
    def __init__(self) -> None:
        try:
            self._desk = DeskClient()
        except DeskUnavailable as exc:
            raise LocatorError(str(exc)) from None
        self._state: DeskState | None = None
        self._held = 0  # inside one_look: the answers come from self._state
        self._no_pixels = ""  # why per-window pixels cannot be read (then nothing is)
        self._broken = ""

    # -- looks

    def _look(self) -> DeskState | None:
        if self._held and self._state is not None:
            return self._state
        try:
            self._desk.pending()  # what it signalled is in the answer that follows
            self._state = self._desk.state()
        except DeskUnavailable as exc:
            self._broken, self._state = str(exc), None
        return self._state

    @contextlib.contextmanager
    def _one(self, fresh: bool) -> Iterator[None]:
        if fresh or self._state is None:
            self._held = 0
            self._look()
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1

    def one_look(self, fresh: bool = True) -> contextlib.AbstractContextManager[None]:
        return self._one(fresh)

    def quiet(self) -> bool:
        """Never: the window's new pixels come through its PipeWire stream, not as an event
        here, so every tick takes a look (one call to the extension, about 1 ms)."""
        return False

    def fileno(self) -> int | None:
        return self._desk.fileno()

    # -- windows

    def _info(self, w: ShellWindow) -> WindowInfo:
        classes = tuple(dict.fromkeys(c for c in (w.wm_instance, w.wm_class, w.app_id) if c))
        return WindowInfo(w.id, classes, executable(w.pid), w.title or None, w.pid)

    def _window(self, handle: int) -> ShellWindow | None:
        state = self._look()
        if state is None:
            return None
        return next((w for w in state.windows if w.id == handle), None)

    def windows(self) -> list[WindowInfo]:
        state = self._look()
        return [self._info(w) for w in state.windows if w.normal] if state else []

    def find(self, rules: tuple[WindowRule, ...]) -> tuple[WindowInfo, WindowRule] | None:
        for info in reversed(self.windows()):  # topmost first
            for rule in rules:
                if rule.matches(info.wm_class, info.executable, info.title):
                    return info, rule
        return None

    def describe(self, window: WindowInfo) -> WindowInfo | None:
        w = self._window(window.handle)
        return None if w is None else self._info(w)

    def is_visible(self, window: WindowInfo) -> bool:
        w = self._window(window.handle)
        return w is not None and w.shown and not w.minimized

    def identity_serial(self, window: WindowInfo) -> int:
        w = self._window(window.handle)
        return -1 if w is None else w.identity

    def locked(self, window: WindowInfo) -> str | None:
        state = self._look()
        if state is None:
            return self._broken or UNREADABLE
        return LOCKED if state.locked else None

    # -- pixels

    @property
    def mode(self) -> CaptureMode:
        return CaptureMode.COMPOSITE

    @property
    def mode_reason(self) -> str:
        return self._no_pixels

    def use_masked(self, reason: str) -> None:
        self._no_pixels = reason  # no masked capture here: nothing is read

    def view(self, window: WindowInfo) -> WindowView:
        if self._no_pixels:
            return WindowView(False, self._no_pixels)
        state = self._look()
        if state is None:
            return WindowView(False, self._broken or UNREADABLE)
        w = self._window(window.handle)
        if w is None:
            return WindowView(False, CLOSED)
        if w.minimized:
            return WindowView(False, MINIMISED)
        if not w.shown:
            return WindowView(False, ELSEWHERE)
        f, b = w.frame, w.buffer
        if f.w <= 0 or f.h <= 0:
            return WindowView(False, MINIMISED)
        return WindowView(
            True,
            rect=f,
            origin=(f.x, f.y),
            pixmap=w.id,
            inset=(max(0, f.x - b.x), max(0, f.y - b.y)),
            serial=state.serial,
        )

    def close(self) -> None:
        self._desk.close()


class NoScreen:
    """The masked fallback, which does not exist under Wayland: the locator shows the window
    as not visible once per-window pixels fail (`use_masked`), so this is never asked."""

    def grab(self, rect: Rect) -> np.ndarray:
        raise ReaderUnavailable("no program may read the screen under Wayland")

    def close(self) -> None:
        pass


def shell_accelerator(combo: str) -> str:
    """'<ctrl>+<alt>+p' (the policy's form) → '<Control><Alt>p' (the shell's)."""
    names = {"ctrl": "Control", "alt": "Alt", "shift": "Shift", "cmd": "Super", "super": "Super"}
    *mods, key = (p.strip() for p in combo.split("+"))
    return "".join(f"<{names.get(m.strip('<>').lower(), m.strip('<>'))}>" for m in mods) + key


class ShellPauseKey(PauseHotkey):
    """The secure-pause key, bound by the desk extension (no program can grab a key under
    Wayland). Threading: listens on a thread of its own; `callback` runs there."""

    def __init__(self, combo: str, callback: Callable[[], object]) -> None:
        self.combo = combo
        self._callback = callback
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> str | None:
        try:
            desk = DeskClient()
        except DeskUnavailable as exc:
            return f"secure-pause key unavailable ({exc})"
        try:
            if not desk.set_pause_key(shell_accelerator(self.combo)):
                desk.close()
                return f"secure-pause key {self.combo} refused by the desktop"
        except DeskUnavailable as exc:
            desk.close()
            return f"secure-pause key unavailable ({exc})"
        self._thread = threading.Thread(target=self._listen, args=(desk,), name="pause-key",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        return None

    def _listen(self, desk: DeskClient) -> None:
        try:
            while not self._stop.is_set():
                ready, _w, _x = select.select([desk.fileno()], [], [], 0.5)
                if ready and "PauseRequested" in desk.pending():
                    try:
                        log.info("secure-pause key: %s", self._callback())
                    except Exception:
                        log.exception("secure-pause key failed")
        except DeskUnavailable as exc:
            log.warning("secure-pause key no longer heard: %s", exc)
        finally:
            desk.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None


class ShellIndicator(Indicator):
    """The recording indicator in GNOME Shell's top bar, drawn by the shell (the desk
    extension), so no window can cover it. Threading: `show` and `hide` from any thread never
    wait: a thread of its own tells the extension the latest words, and tells it again
    after the extension comes back (a shell restart)."""

    def __init__(self) -> None:
        self._want = ""
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="shell-indicator", daemon=True)
        self._thread.start()

    def show(self, text: str) -> None:
        self._set(text)

    def hide(self) -> None:
        self._set("")

    def _set(self, text: str) -> None:
        with self._cond:
            self._want = text
            self._cond.notify()

    def _run(self) -> None:
        desk: DeskClient | None = None
        told: str | None = None
        while True:
            with self._cond:
                if self._want == told and not self._stopped:
                    self._cond.wait(RETRY_S)
                if self._stopped:
                    break
                want = self._want
            if want == told and not want:
                continue
            try:  # (shown: said again at every interval, for a shell that restarted)
                desk = desk or DeskClient()
                desk.indicate(want)
                told = want
            except DeskUnavailable as exc:
                log.warning("the top bar's indicator cannot be set: %s", exc)
                if desk is not None:
                    desk.close()
                desk, told = None, None
                with self._cond:
                    if not self._stopped:
                        self._cond.wait(RETRY_S)
        if desk is not None:
            with contextlib.suppress(DeskUnavailable):
                desk.indicate("")
            desk.close()

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=3)
