"""Is the keyboard held by another program? Lockers such as xtrlock show nothing and tell no
one: they only grab the keyboard and the pointer, and the business window stays on the screen.

X has no request that says who holds a grab. But a grab request is refused as "already
grabbed" when another client holds one, and that is checked before its time stamp is: a
keyboard grab stamped an hour ahead of the server's clock is refused as "invalid time"
whenever the keyboard is free, so asking never takes it. It is asked ten times a second
while recording, through libxcb (platform/xcb.py: 3 µs a question here, 15 µs through
python-xlib, which stays the fallback).
The server's clock is read once, from the time stamp of a property change on a window of
our own (through libxcb: python-xlib's connection, which costs about 10 ms to open, is
opened only to look for a pop-up once a grab is seen, or when libxcb is missing). Should
the server ever grant the grab (a clock read wrong), it is released at once and the question
is not asked again.

A menu held open also holds the keyboard; it shows a window while it does (an
override-redirect pop-up), a locker of that kind does not: `popup_shown` tells them apart.

Threading: one thread (the capture thread), on a connection of its own.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from Xlib import X, Xatom, display, error

from agentapp.platform.xcb import Connection, XcbUnavailable

log = logging.getLogger(__name__)
_AHEAD_MS = 3_600_000  # far from the server's clock, well inside its half-month window


class KeyboardGrabs:
    def __init__(self, display_name: str | None = None) -> None:
        """Raises Xlib's connection errors (the caller then goes without this check).
        Through libxcb, one connection answers the clock and the grabs, and python-xlib's
        (10 ms to open) is opened only if a grab is seen (`popup_shown`)."""
        self._name = display_name
        self._d: Any = None
        self._usable = True
        self._xcb: Connection | None
        try:
            self._xcb = Connection(display_name)
        except XcbUnavailable:
            self._xcb = None
        if self._xcb is not None:
            server_ms = self._xcb.server_time()
            if server_ms is None and self._xcb.broken:
                self._xcb.close()
                raise error.ConnectionClosedError("server")
            self._clock = None if server_ms is None else (server_ms, time.monotonic())
        else:
            self._clock = self._server_clock()

    def _xlib(self) -> Any:
        """python-xlib's connection, opened on first use."""
        if self._d is None:
            self._d = display.Display(self._name)
        return self._d

    def _server_clock(self) -> tuple[int, float] | None:
        """(server time in ms, our monotonic time) at the same moment (python-xlib)."""
        d = self._xlib()
        root = d.screen().root
        w = root.create_window(-10, -10, 1, 1, 0, X.CopyFromParent, X.InputOnly,
                               X.CopyFromParent, event_mask=X.PropertyChangeMask)  # fmt: skip
        w.change_property(d.intern_atom("_AGENTAPP_CLOCK"), Xatom.STRING, 8, b"")
        d.sync()  # the PropertyNotify is queued before the sync's reply
        now = time.monotonic()
        clock = None
        for _i in range(d.pending_events()):
            ev = d.next_event()
            if ev.type == X.PropertyNotify and ev.window.id == w.id:
                clock = (int(ev.time), now)
        w.destroy()
        return clock

    def held(self) -> bool:
        """Does another client hold an active keyboard grab right now?"""
        if not self._usable or self._clock is None:
            return False
        server_ms, at = self._clock
        ahead = (server_ms + int((time.monotonic() - at) * 1000) + _AHEAD_MS) & 0xFFFFFFFF
        if self._xcb is not None:
            status = self._xcb.grab_keyboard(ahead)
            if status is None:
                if self._xcb.broken:
                    raise error.ConnectionClosedError("server")
                return False
        else:
            try:
                root = self._xlib().screen().root
                status = root.grab_keyboard(False, X.GrabModeAsync, X.GrabModeAsync, ahead)
            except error.ConnectionClosedError:
                raise
            except error.XError:
                return False
        if status == X.GrabSuccess:  # the clock was read wrong: give it back, ask no more
            if self._xcb is not None:
                self._xcb.ungrab_keyboard()
            else:
                self._xlib().ungrab_keyboard(X.CurrentTime)
                self._xlib().sync()
            self._usable = False
            log.warning("keyboard grab check turned off: the X server granted the probe")
            return False
        return status in (X.AlreadyGrabbed, X.GrabFrozen)

    def popup_shown(self) -> bool:
        """Is a pop-up (a menu, the window manager's switcher) on the screen? When it cannot
        be asked, no: a held keyboard is then taken for a lock (the safe side)."""
        try:
            self._xlib()
        except Exception as exc:  # a second connection refused
            log.warning("cannot look for pop-ups: %s", exc)
            return False
        try:
            for child in self._xlib().screen().root.query_tree().children:
                a = child.get_attributes()
                if not (a.override_redirect and a.map_state == X.IsViewable):
                    continue
                if a.win_class != X.InputOnly and _area(child) > 4:
                    return True
        except error.XError:
            return True  # a window went while we looked (a menu closing): ask again next time
        return False

    def close(self) -> None:
        if self._xcb is not None:
            self._xcb.close()
        try:
            if self._d is not None:
                self._d.close()
        except Exception:  # closing a dead connection is not an error worth reporting
            pass


def _area(w: Any) -> int:
    g = w.get_geometry()
    return int(g.width) * int(g.height)
