"""The X11 desktop's window source (python-xlib, EWMH), with per-window capture state
(Composite, DAMAGE) and the locks X shows.

Its rooms: the connection and window identities (x11_conn.py), the managed windows and their
stacking (x11_windows.py), the tracked business window's pixmap, damage and view
(x11_views.py), and the locks (x11_locks.py). This module keeps their answers in step with
the server.

Cost: computing a view takes ~2 ms of CPU (two round trips per window above the business
window). The locator therefore listens to structure and property events on the root and on
every client window it has listed, and recomputes views, the window list and visibility only
when the server reports a change (or every few seconds as a safety net). Each public call
starts with a round trip, so any change the server made before that point — e.g. a pop-up
mapped or a payment page titled while a frame was being grabbed — is seen.

Threading: one instance per thread (an X connection is not shared).
"""

from __future__ import annotations

import contextlib
import select
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from Xlib import display, error

from agentapp.core.policy import WindowRule
from agentapp.i18n import _
from agentapp.platform.base import (
    CaptureMode,
    Changes,
    LocatorError,
    WindowInfo,
    WindowLocator,
    WindowView,
)
from agentapp.platform.x11_conn import XConn
from agentapp.platform.x11_locks import X11Locks
from agentapp.platform.x11_views import X11Views
from agentapp.platform.x11_windows import X11Windows

# Every change the cached answers depend on comes with an event (the root's substructure and
# properties, the tracked windows', the screen saver's notifications); this refresh is only a
# safety net for one the server did not send. At 1 s it cost about 0.14 s of CPU per minute
# of recording (30-odd round trips at each refresh, 720p, a 2-core Debian 12 machine).
_REFRESH_S = 5.0
T = TypeVar("T")


class X11Locator(WindowLocator):
    def __init__(self, display_name: str | None = None, per_window: bool = True) -> None:
        """`per_window` False forces the masked fallback (benchmarks compare both modes)."""
        self._c = XConn(display_name)
        self._windows = X11Windows(self._c)
        mode, self._mode_reason = self._probe_mode(per_window)
        self._views = X11Views(self._c, self._windows, mode)
        self._locks = X11Locks(self._c, self._windows)
        self._cache_time = 0.0
        self._looking = 0  # inside `one_look`: the look taken at its start answers ...
        self._relook = False  # ... unless a window was just tracked

    def _probe_mode(self, per_window: bool) -> tuple[CaptureMode, str]:
        d = self._c.d
        if not per_window:
            return CaptureMode.MASKED, "per-window capture turned off"
        missing = [n for n in ("Composite", "DAMAGE") if not d.has_extension(n)]
        if not d.query_extension("MIT-SHM").present:
            missing.append("MIT-SHM")
        if missing:
            return CaptureMode.MASKED, f"the X server has no {' or '.join(missing)}"
        v = d.composite_query_version()
        if (v.major_version, v.minor_version) < (0, 2):
            return CaptureMode.MASKED, "the X server's Composite is older than 0.2"
        return CaptureMode.COMPOSITE, ""

    @property
    def mode(self) -> CaptureMode:
        return self._views.mode

    @property
    def mode_reason(self) -> str:
        return self._mode_reason

    def use_masked(self, reason: str) -> None:
        """The pixel reader cannot read pixmaps here: fall back for good."""
        self._mode_reason = reason
        self._views.use_masked()

    def close(self) -> None:
        self._locks.close()
        self._c.close()

    # ------------------------------------------------------------ keeping in step
    @contextlib.contextmanager
    def one_look(self, fresh: bool = True) -> Iterator[None]:
        if fresh:
            self._poll()
        self._looking += 1
        try:
            yield
        finally:
            self._looking -= 1

    def _answer(self, ask: Callable[[], T]) -> T:
        """`ask` after one round trip (see `_poll`); a lost display is said once."""
        try:
            self._poll()
            return ask()
        except error.ConnectionClosedError as exc:
            raise LocatorError(_("lost the X display: {exc}").format(exc=exc)) from None

    def _poll(self) -> None:
        """One round trip; handle every event the server generated until now. Damage and
        exposures update the tracked windows; any other event drops every cached answer.
        Inside `one_look`, the look taken at its start stands."""
        if self._looking and not self._relook:
            return
        self._relook = False
        try:
            self._c.d.sync()  # every event the server generated until now is queued
            changed = self._take_events()
        except error.ConnectionClosedError as exc:
            raise LocatorError(_("lost the X display: {exc}").format(exc=exc)) from None
        if not changed and time.monotonic() - self._cache_time > _REFRESH_S:
            self._forget()

    def _take_events(self) -> bool:
        """Apply the events received so far (no round trip); True if one changed a cached
        answer, which are all dropped then."""
        changed = False
        d = self._c.d
        for _i in range(d.pending_events()):
            ev = d.next_event()
            self._windows.event(ev)
            if not self._views.event(ev):
                changed = True
        if changed:
            self._c.serial += 1
            self._forget()
        return changed

    def _received(self) -> bool:
        """Anything from the server not applied yet (a look at the socket: a few µs, where
        asking python-xlib costs tens)."""
        d = self._c.d
        if d.display.event_queue:
            return True
        try:
            return bool(select.select([d.fileno()], [], [], 0)[0])
        except (OSError, ValueError):
            return True  # the connection broke: python-xlib's own read says how

    def _forget(self) -> None:
        self._views.forget()
        self._windows.forget()
        self._c.owners.clear()
        self._locks.forget()
        self._cache_time = time.monotonic()

    def fileno(self) -> int | None:
        return int(self._c.d.fileno())

    def quiet(self) -> bool:
        if not self._c.has_damage or self._looking or self._locks.grab_since is not None:
            return False  # (a keyboard seen held: asked every interval until it is a lock)
        try:
            if self._received() and self._take_events():
                return False
        except error.ConnectionClosedError as exc:
            raise LocatorError(_("lost the X display: {exc}").format(exc=exc)) from None
        if time.monotonic() - self._cache_time > _REFRESH_S:
            return False  # the lock's look (the screen saver, a full-screen window) is due
        return self._views.quiet()

    # ------------------------------------------------------------ interface
    def windows(self) -> list[WindowInfo]:
        return self._answer(self._windows.listed)

    def is_visible(self, window: WindowInfo) -> bool:
        return self._windows.is_visible(window)

    def find(self, rules: tuple[WindowRule, ...]) -> tuple[WindowInfo, WindowRule] | None:
        return self._answer(lambda: self._windows.find(rules))

    def track(self, window: WindowInfo, popups: bool) -> None:
        if self._views.track(window, popups):
            self._relook = True  # within a look, what the server says of it now is wanted

    def take_changes(self, window: WindowInfo) -> Changes:
        return self._answer(lambda: self._views.take_changes(window))

    def identity_serial(self, window: WindowInfo) -> int:
        return self._answer(lambda: self._views.identity_serial(window))

    def view(self, window: WindowInfo) -> WindowView:
        def ask() -> WindowView:
            with contextlib.suppress(error.XError):  # gone: its view says so
                self._c.watch(window.handle)
            self._poll()
            return self._views.view(window)

        try:
            return ask()
        except error.ConnectionClosedError as exc:
            raise LocatorError(_("lost the X display: {exc}").format(exc=exc)) from None

    def locked(self, window: WindowInfo) -> str | None:
        return self._answer(lambda: self._locks.locked(window))

    def pick(self, timeout: float = 30.0) -> WindowInfo | None:
        return self._windows.pick(timeout)


def system_tray_present(display_name: str | None = None) -> bool:
    """Whether a system tray host owns `_NET_SYSTEM_TRAY_S<screen>` (freedesktop tray spec)."""
    try:
        d = display.Display(display_name)
    except Exception:  # no display at all: no tray either
        return False
    try:
        atom = d.intern_atom(f"_NET_SYSTEM_TRAY_S{d.get_default_screen()}")
        return bool(d.get_selection_owner(atom))
    finally:
        d.close()
