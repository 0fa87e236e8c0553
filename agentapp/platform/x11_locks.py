"""A locked screen as X shows it: the server's screen saver, xscreensaver's root property, a
full-screen window of another client above the business window, and the keyboard held by
another client with no pop-up shown (xtrlock), asked on a second connection without ever
taking the keyboard (platform/x11_grab.py).

Threading: the thread that owns the connection (x11_conn.py).
"""

from __future__ import annotations

import logging
import time

from Xlib import X, error
from Xlib.ext import screensaver

from agentapp.core.geometry import Rect
from agentapp.i18n import _
from agentapp.platform.base import LocatorError, WindowInfo
from agentapp.platform.x11_conn import XConn
from agentapp.platform.x11_grab import KeyboardGrabs
from agentapp.platform.x11_windows import X11Windows

log = logging.getLogger(__name__)
LOCKED = "the screen is locked or covered by another program"
LOCKED_SAVER = "the screen saver is on"
LOCKED_GRAB = "the screen is locked (another program holds the keyboard)"
GRAB_PROBE_S = 0.1  # how often the keyboard is asked about (a question costs 0.03 ms)
GRAB_LOCK_S = 0.2  # held this long with no menu shown: a lock (seen within 0.2 s of a
# quiet interval, then asked every 0.1 s: a lock is known 0.4 s after it began at most, inside
# the default look-behind)
XSS_LOCKED = ("LOCK", "BLANK")  # xscreensaver's _SCREENSAVER_STATUS first atom when active


class X11Locks:
    def __init__(self, conn: XConn, windows: X11Windows) -> None:
        self._c, self._windows = conn, windows
        self._why: str | bool | None = False  # False: not looked at since the last change
        self._grabs: KeyboardGrabs | bool | None = False  # False: not opened yet
        self._grab_asked = float("-inf")
        self.grab_since: float | None = None  # when the keyboard was first seen held

    def forget(self) -> None:
        self._why = False

    def locked(self, window: WindowInfo) -> str | None:
        """Why the screen looks locked (see the module docstring), or None."""
        try:
            if self._why is False:
                self._why = self._reason(window)
        except error.ConnectionClosedError as exc:
            raise LocatorError(_("lost the X display: {exc}").format(exc=exc)) from None
        except error.XError:
            self._why = None  # the window went: view() says so
        if isinstance(self._why, str):
            return self._why
        return LOCKED_GRAB if self._keyboard_held() else None

    def _keyboard_held(self) -> bool:
        """Held by another program for GRAB_LOCK_S with no pop-up shown (xtrlock and other
        lockers that only grab; a menu held open shows itself). See platform/x11_grab.py."""
        if self._grabs is False:
            try:
                self._grabs = KeyboardGrabs(self._c.display_name)
            except Exception as exc:  # a second connection refused: go without this check
                log.warning("cannot watch keyboard grabs: %s", exc)
                self._grabs = None
        if not isinstance(self._grabs, KeyboardGrabs):
            return False
        now = time.monotonic()
        if now - self._grab_asked >= GRAB_PROBE_S:
            self._grab_asked = now
            try:
                held = self._grabs.held() and not self._grabs.popup_shown()
            except error.ConnectionClosedError as exc:
                raise LocatorError(_("lost the X display: {exc}").format(exc=exc)) from None
            if not held:
                self.grab_since = None
            elif self.grab_since is None:
                self.grab_since = now
        return self.grab_since is not None and now - self.grab_since >= GRAB_LOCK_S

    def _reason(self, window: WindowInfo) -> str | None:
        """What X itself shows of a lock: the server's screen saver on, xscreensaver's root
        property, or a window of another client stacked above the business window and covering
        the whole screen (i3lock and most lockers; a full-screen window of another program is
        treated the same)."""
        c = self._c
        if c.has_saver and screensaver.query_info(c.root).state == screensaver.StateOn:
            return LOCKED_SAVER
        xss = c.prop(c.root, "_SCREENSAVER_STATUS")
        says = xss is not None and len(xss) and xss[0] in (c.atom(n) for n in XSS_LOCKED)
        if says and self._xscreensaver_runs():
            return LOCKED
        owner = c.owner(window.handle)
        g = c.root.get_geometry()
        screen = Rect(0, 0, g.width, g.height)
        for child, _stack in self._windows.above(c.window(window.handle)) or []:
            cg = child.get_geometry()
            if Rect(cg.x, cg.y, cg.width, cg.height).intersect(screen) != screen:
                continue
            if owner is None or c.owner(child.id) != owner:
                return LOCKED
        return None

    def _xscreensaver_runs(self) -> bool:
        """xscreensaver's daemon window (the root child with `_SCREENSAVER_VERSION`) is
        there. Its status property outlives a killed daemon: "LOCK" then means nothing, the
        lock's window having gone with it (and a window still covering the screen is caught
        by the full-screen check)."""
        version = self._c.atom("_SCREENSAVER_VERSION")
        for child in self._c.root.query_tree().children:
            try:
                if child.get_full_property(version, X.AnyPropertyType) is not None:
                    return True
            except error.XError:
                continue  # gone meanwhile
        return False

    def close(self) -> None:
        if isinstance(self._grabs, KeyboardGrabs):
            self._grabs.close()
