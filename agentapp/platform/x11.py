"""X11 window locator (python-xlib, EWMH).

Facts this relies on (measured under openbox, see docs/design.md):
* `_NET_CLIENT_LIST` lists managed client windows; a reparenting WM puts each inside a frame
  that is a child of the root. The frame is what covers other windows (title bar included).
* `XQueryTree(root)` gives every root child bottom-to-top: frames AND override-redirect
  windows (menus, tooltips, notifications) that the EWMH lists omit. Occluders are taken from
  there, never from the client list.
* Geometry comes from `TranslateCoords`; xdotool/wmctrl positions are wrong under openbox.

Cost: computing a view takes ~2 ms of CPU (two round trips per window above the business
window). The locator therefore listens to structure and property events on the root and on
every client window it has listed, and recomputes views, the window list and visibility only
when the server reports a change (or every second as a safety net). Each public call starts
with a round trip, so any change the server made before that point — e.g. a pop-up mapped or a
payment page titled while a frame was being grabbed — is seen.

Threading: one instance per thread (an X connection is not shared).
"""

from __future__ import annotations

import os
import time
from typing import Any

from Xlib import X, display, error

from agentapp.core.geometry import Rect
from agentapp.core.policy import WindowRule
from agentapp.platform.base import LocatorError, WindowInfo, WindowLocator, WindowView

_ALL_DESKTOPS = 0xFFFFFFFF
_REFRESH_S = 1.0


def _executable(pid: int | None) -> str | None:
    if not pid:
        return None
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        try:
            with open(f"/proc/{pid}/comm") as f:
                return f.read().strip() or None
        except OSError:
            return None


class X11Locator(WindowLocator):
    def __init__(self, display_name: str | None = None) -> None:
        try:
            self._d = display.Display(display_name)
        except Exception as exc:  # DisplayNameError, DisplayConnectionError, OSError …
            raise LocatorError(f"cannot open the X display: {exc}") from None
        self._root = self._d.screen().root
        self._atoms: dict[str, int] = {}
        self._root.change_attributes(event_mask=X.SubstructureNotifyMask | X.PropertyChangeMask)
        self._watched: set[int] = set()
        self._cache_time = 0.0
        self._views: dict[int, WindowView] = {}
        self._windows: list[WindowInfo] | None = None
        self._visible: dict[int, bool] = {}

    def close(self) -> None:
        try:
            self._d.close()
        except Exception:  # closing a dead connection is not an error worth reporting
            pass

    # ------------------------------------------------------------ properties
    def _atom(self, name: str) -> int:
        if name not in self._atoms:
            self._atoms[name] = self._d.intern_atom(name)
        return self._atoms[name]

    def _prop(self, win: Any, name: str) -> Any:
        p = win.get_full_property(self._atom(name), X.AnyPropertyType)
        return None if p is None else p.value

    def _card(self, win: Any, name: str) -> int | None:
        v = self._prop(win, name)
        return int(v[0]) if v is not None and len(v) else None

    def _title(self, win: Any) -> str | None:
        v = self._prop(win, "_NET_WM_NAME")
        if v is None:
            v = self._prop(win, "WM_NAME")
        if v is None:
            return None
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)

    def _info(self, wid: int) -> WindowInfo:
        w = self._d.create_resource_object("window", wid)
        cls = w.get_wm_class() or ()
        pid = self._card(w, "_NET_WM_PID")
        return WindowInfo(wid, tuple(cls), _executable(pid), self._title(w), pid)

    # ------------------------------------------------------------ interface
    def _watch(self, wid: int) -> None:
        if wid not in self._watched:
            w = self._d.create_resource_object("window", wid)
            w.change_attributes(event_mask=X.StructureNotifyMask | X.PropertyChangeMask)
            self._watched.add(wid)

    def _poll(self) -> None:
        """One round trip; drop every cached answer if the server reported any change."""
        try:
            self._d.sync()  # every event the server generated until now is queued
        except error.ConnectionClosedError as exc:
            raise LocatorError(f"lost the X display: {exc}") from None
        changed = False
        for _ in range(self._d.pending_events()):
            self._d.next_event()
            changed = True
        now = time.monotonic()
        if changed or now - self._cache_time > _REFRESH_S:
            self._views.clear()
            self._visible.clear()
            self._windows = None
            self._cache_time = now

    def windows(self) -> list[WindowInfo]:
        self._poll()
        if self._windows is None:
            self._windows = self._list_windows()
        return self._windows

    def _list_windows(self) -> list[WindowInfo]:
        ids = self._prop(self._root, "_NET_CLIENT_LIST_STACKING")
        if ids is None:
            ids = self._prop(self._root, "_NET_CLIENT_LIST")
        if ids is None:
            raise LocatorError("the window manager does not publish _NET_CLIENT_LIST (no EWMH)")
        out = []
        for wid in ids:
            try:
                self._watch(int(wid))  # title or state changes must wake the cache
                out.append(self._info(int(wid)))
            except error.XError:
                continue  # closed while we looked
        return out

    def is_visible(self, window: WindowInfo) -> bool:
        if window.handle not in self._visible:
            try:
                w = self._d.create_resource_object("window", window.handle)
                self._visible[window.handle] = self._hidden_reason(w) is None
            except error.XError:
                self._visible[window.handle] = False
        return self._visible[window.handle]

    def find(self, rules: tuple[WindowRule, ...]) -> tuple[WindowInfo, WindowRule] | None:
        for info in reversed(self.windows()):  # stacking list is bottom-to-top
            for rule in rules:
                if rule.matches(info.wm_class, info.executable, info.title):
                    return info, rule
        return None

    def view(self, window: WindowInfo) -> WindowView:
        try:
            self._watch(window.handle)
            self._poll()
            if window.handle not in self._views:
                self._views[window.handle] = self._view(window)
            return self._views[window.handle]
        except error.ConnectionClosedError as exc:
            raise LocatorError(f"lost the X display: {exc}") from None
        except error.XError:
            self._views.pop(window.handle, None)
            self._watched.discard(window.handle)
            return WindowView(False, "business window closed")

    def _hidden_reason(self, w: Any) -> str | None:
        if w.get_attributes().map_state != X.IsViewable:
            return "minimised or hidden"
        state = self._prop(w, "_NET_WM_STATE")
        if state is not None and self._atom("_NET_WM_STATE_HIDDEN") in list(state):
            return "minimised"
        desk = self._card(w, "_NET_WM_DESKTOP")
        current = self._card(self._root, "_NET_CURRENT_DESKTOP")
        if desk is not None and current is not None and desk not in (current, _ALL_DESKTOPS):
            return "on another desktop"
        return None

    def _view(self, window: WindowInfo) -> WindowView:
        w = self._d.create_resource_object("window", window.handle)
        hidden = self._hidden_reason(w)
        if hidden is not None:
            return WindowView(False, f"business window {hidden}")

        geo = w.get_geometry()
        origin = self._root.translate_coords(w, 0, 0)
        sg = self._root.get_geometry()
        screen = Rect(0, 0, sg.width, sg.height)
        rect = Rect(origin.x, origin.y, geo.width, geo.height).intersect(screen).even()
        if rect.empty:
            return WindowView(False, "business window is off screen")

        top = self._frame_of(w)
        children = self._root.query_tree().children  # bottom-to-top
        ids = [c.id for c in children]
        if top.id not in ids:
            return WindowView(False, "business window vanished from the stacking order")
        occluders = []
        for child in children[ids.index(top.id) + 1 :]:
            try:
                a = child.get_attributes()
                if a.map_state != X.IsViewable or a.win_class == X.InputOnly:
                    continue
                if a.override_redirect and self._same_app_popup(child, window.pid):
                    continue
                g = child.get_geometry()
            except error.XError:
                continue  # vanished between the two requests: nothing to hide any more
            b = g.border_width
            occluders.append(Rect(g.x, g.y, g.width + 2 * b, g.height + 2 * b))
        return WindowView(True, rect=rect, occluders=tuple(occluders))

    def _frame_of(self, w: Any) -> Any:
        """The root child that holds a client window (the WM frame, or the window itself)."""
        top = w
        while True:
            parent = top.query_tree().parent
            if parent is None or parent.id == self._root.id:
                return top
            top = parent

    def pick(self, timeout: float = 30.0) -> WindowInfo | None:
        """Grab the pointer until the next click; the managed window under it. Escape-free:
        a click outside any managed window (or the timeout) returns None."""
        import time

        mode = X.GrabModeAsync
        status = self._root.grab_pointer(False, X.ButtonPressMask, mode, mode, X.NONE, X.NONE,
                                         X.CurrentTime)  # fmt: skip
        if status != X.GrabSuccess:
            raise LocatorError("cannot take the pointer to pick a window (another grab?)")
        clicked = None
        try:
            deadline = time.monotonic() + timeout
            while clicked is None and time.monotonic() < deadline:
                if not self._d.pending_events():
                    time.sleep(0.02)
                    continue
                event = self._d.next_event()
                if event.type == X.ButtonPress:
                    clicked = event.child
        finally:
            self._d.ungrab_pointer(X.CurrentTime)
            self._d.sync()
        if not clicked:
            return None
        for info in self._list_windows():
            w = self._d.create_resource_object("window", info.handle)
            try:
                if self._frame_of(w).id == clicked.id:
                    return info
            except error.XError:
                continue
        return None

    def _same_app_popup(self, child: Any, pid: int | None) -> bool:
        """A menu/tooltip of the business application itself may stay visible."""
        return pid is not None and self._card(child, "_NET_WM_PID") == pid


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
