"""Is the keyboard held by another program? Lockers such as xtrlock show nothing and tell no
one: they only grab the keyboard and the pointer, and the business window stays on the screen.

X has no request that says who holds a grab. But a grab request is refused as "already
grabbed" when another client holds one, and that is checked before its time stamp is: a
keyboard grab stamped an hour ahead of the server's clock is refused as "invalid time"
whenever the keyboard is free, so asking never takes it. It is asked ten times a second
while recording, through libxcb (platform/xcb.py: 3 µs a question here, 15 µs through
python-xlib, which stays the fallback).
The server's clock is read once, from the time stamp of a property change on a window of
our own. Should the server ever grant the grab (a clock read wrong), it is released at once
and the question is not asked again.

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
        """Raises Xlib's connection errors (the caller then goes without this check)."""
        self._d = display.Display(display_name)
        self._root = self._d.screen().root
        self._usable = True
        self._clock = self._server_clock()
        try:
            self._xcb: Connection | None = Connection(display_name)
        except XcbUnavailable:
            self._xcb = None

    def _server_clock(self) -> tuple[int, float] | None:
        """(server time in ms, our monotonic time) at the same moment."""
        w = self._root.create_window(-10, -10, 1, 1, 0, X.CopyFromParent, X.InputOnly,
                                     X.CopyFromParent, event_mask=X.PropertyChangeMask)  # fmt: skip
        w.change_property(self._d.intern_atom("_AGENTAPP_CLOCK"), Xatom.STRING, 8, b"")
        self._d.sync()  # the PropertyNotify is queued before the sync's reply
        now = time.monotonic()
        clock = None
        for _i in range(self._d.pending_events()):
            ev = self._d.next_event()
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
                status = self._root.grab_keyboard(False, X.GrabModeAsync, X.GrabModeAsync, ahead)
            except error.ConnectionClosedError:
                raise
            except error.XError:
                return False
        if status == X.GrabSuccess:  # the clock was read wrong: give it back, ask no more
            if self._xcb is not None:
                self._xcb.ungrab_keyboard()
            else:
                self._d.ungrab_keyboard(X.CurrentTime)
                self._d.sync()
            self._usable = False
            log.warning("keyboard grab check turned off: the X server granted the probe")
            return False
        return status in (X.AlreadyGrabbed, X.GrabFrozen)

    def popup_shown(self) -> bool:
        """Is a pop-up (a menu, the window manager's switcher) on the screen?"""
        try:
            for child in self._root.query_tree().children:
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
            self._d.close()
        except Exception:  # closing a dead connection is not an error worth reporting
            pass


def _area(w: Any) -> int:
    g = w.get_geometry()
    return int(g.width) * int(g.height)
