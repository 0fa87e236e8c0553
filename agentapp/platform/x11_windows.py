"""The managed windows of an X desktop (EWMH): the list, whether one is visible, the stacking
above one, and the window a click picks.

Facts this relies on (measured under openbox, see docs/design.md):
* `_NET_CLIENT_LIST` lists managed client windows; a reparenting WM puts each inside a frame
  that is a child of the root. The frame is what covers other windows (title bar included).
* `XQueryTree(root)` gives every root child bottom-to-top: frames AND override-redirect
  windows (menus, tooltips, notifications) that the EWMH lists omit. Occluders are taken from
  there, never from the client list.
* Geometry comes from `TranslateCoords`; xdotool/wmctrl positions are wrong under openbox.

Threading: the thread that owns the connection (x11_conn.py).
"""

from __future__ import annotations

import time
from typing import Any

from Xlib import X, error

from agentapp.core.policy import WindowRule
from agentapp.i18n import _
from agentapp.platform.base import LocatorError, WindowInfo
from agentapp.platform.x11_conn import XConn

_ALL_DESKTOPS = 0xFFFFFFFF
FORGET_ATTRS = (X.MapNotify, X.UnmapNotify, X.ReparentNotify, X.DestroyNotify, X.CreateNotify)


class X11Windows:
    def __init__(self, conn: XConn) -> None:
        self._c = conn
        self._windows: list[WindowInfo] | None = None
        self._visible: dict[int, bool] = {}
        # Attributes of root children, kept across refreshes: whether one is viewable changes
        # only with the map, unmap, reparent and destroy events the root reports (each forgets
        # it). Its class never changes; override-redirect only ever lets a pop-up through
        # together with its owner (the X client), which is asked afresh.
        self._root_attrs: dict[int, Any] = {}

    def forget(self) -> None:
        """Drop the cached answers (an event changed one)."""
        self._windows = None
        self._visible.clear()

    def event(self, ev: Any) -> None:
        window = getattr(ev, "window", None)
        if window is not None and ev.type in FORGET_ATTRS:
            self._root_attrs.pop(window.id, None)

    def listed(self) -> list[WindowInfo]:
        """Every managed window, bottom to top (cached until the next change)."""
        if self._windows is None:
            self._windows = self._list()
        return self._windows

    def _list(self) -> list[WindowInfo]:
        c = self._c
        ids = c.prop(c.root, "_NET_CLIENT_LIST_STACKING")
        if ids is None:
            ids = c.prop(c.root, "_NET_CLIENT_LIST")
        if ids is None:
            raise LocatorError(_("the window manager does not publish _NET_CLIENT_LIST (no EWMH)"))
        out = []
        for wid in ids:
            try:
                c.watch(int(wid))  # title or state changes must wake the cache
                out.append(c.info(int(wid)))
            except error.XError:
                continue  # closed while we looked
        return out

    def find(self, rules: tuple[WindowRule, ...]) -> tuple[WindowInfo, WindowRule] | None:
        for info in reversed(self.listed()):  # stacking list is bottom-to-top
            for rule in rules:
                if rule.matches(info.wm_class, info.executable, info.title):
                    return info, rule
        return None

    def is_visible(self, window: WindowInfo) -> bool:
        if window.handle not in self._visible:
            try:
                self._visible[window.handle] = (
                    self.hidden_reason(self._c.window(window.handle)) is None
                )
            except error.XError:
                self._visible[window.handle] = False
        return self._visible[window.handle]

    def hidden_reason(self, w: Any) -> str | None:
        c = self._c
        if w.get_attributes().map_state != X.IsViewable:
            return "minimised or hidden"
        state = c.prop(w, "_NET_WM_STATE")
        if state is not None and c.atom("_NET_WM_STATE_HIDDEN") in list(state):
            return "minimised"
        desk = c.card(w, "_NET_WM_DESKTOP")
        current = c.card(c.root, "_NET_CURRENT_DESKTOP")
        if desk is not None and current is not None and desk not in (current, _ALL_DESKTOPS):
            return "on another desktop"
        return None

    def above(self, w: Any) -> list[tuple[Any, Any]] | None:
        """The mapped, drawable root children stacked above the window's frame, bottom to top,
        with their attributes (frames with title bars, override-redirect pop-ups); None when
        the frame is no longer a root child."""
        top = self.frame_of(w)
        children = self._c.root.query_tree().children  # bottom-to-top
        ids = [c.id for c in children]
        if top.id not in ids:
            return None
        out = []
        for child in children[ids.index(top.id) + 1 :]:
            a = self._root_attrs.get(child.id)
            if a is None:
                try:
                    a = self._root_attrs[child.id] = child.get_attributes()
                except error.XError:
                    continue  # vanished meanwhile: nothing of it to show or hide
            if a.map_state == X.IsViewable and a.win_class != X.InputOnly:
                out.append((child, a))
        return out

    def frame_of(self, w: Any) -> Any:
        """The root child that holds a client window (the WM frame, or the window itself)."""
        top = w
        while True:
            parent = top.query_tree().parent
            if parent is None or parent.id == self._c.root.id:
                return top
            top = parent

    def pick(self, timeout: float) -> WindowInfo | None:
        """Grab the pointer until the next click; the managed window under it. Escape-free:
        a click outside any managed window (or the timeout) returns None."""
        d, root = self._c.d, self._c.root
        mode = X.GrabModeAsync
        status = root.grab_pointer(False, X.ButtonPressMask, mode, mode, X.NONE, X.NONE,
                                   X.CurrentTime)  # fmt: skip
        if status != X.GrabSuccess:
            raise LocatorError(_("cannot take the pointer to pick a window (another grab?)"))
        clicked = None
        try:
            deadline = time.monotonic() + timeout
            while clicked is None and time.monotonic() < deadline:
                if not d.pending_events():
                    time.sleep(0.02)
                    continue
                event = d.next_event()
                if event.type == X.ButtonPress:
                    clicked = event.child
        finally:
            d.ungrab_pointer(X.CurrentTime)
            d.sync()
        if not clicked:
            return None
        for info in self._list():
            try:
                if self.frame_of(self._c.window(info.handle)).id == clicked.id:
                    return info
            except error.XError:
                continue
        return None
