"""What may be read of the business window on X, and when it changed: its tracked state
(Composite redirection, its named pixmap, DAMAGE, exposures) and its view.

Per-window capture (composite mode, when the server has Composite, DAMAGE, MIT-SHM): a tracked
window is redirected (CompositeRedirectAutomatic: the server keeps its content off screen and
still shows it as before), its pixmap is named, and capture/xshm.py reads that pixmap, so no
other window's pixel is ever read. The client window is redirected, not the WM frame (the
title bar can hold customer data). Facts measured on Xvfb (TESTING.md): an old pixmap still
reads after an unmap or a resize, with stale content and no error, so the pixmap is named
again after every map and size change, and marked not ready until the window's next damage
(first reads after naming can be black) — after a growth, its next damage in the new part:
the server copies the old content into the new pixmap and reports that copy as damage too,
and a read then showed the new part unpainted. Child windows of another X client inside the
business window (X-Resource tells the owner, not `_NET_WM_PID`, which any client can set)
are listed for blackout.

Masked mode (fallback): the capture reads the window's rectangle on the screen and blacks out
everything above it. Exposures on the business window are followed: a region another window
just left may still hold that window's pixels until the application repaints it (seen with a
fast drag), so it is reported `stale` until DAMAGE shows a repaint over it.

Threading: the thread that owns the connection (x11_conn.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from Xlib import X, error
from Xlib.ext import composite, damage

from agentapp.core.geometry import Rect
from agentapp.platform.base import CaptureMode, Changes, Layer, WindowInfo, WindowView
from agentapp.platform.x11_conn import CLIENT_MASK, XConn
from agentapp.platform.x11_windows import X11Windows

_MAX_STALE = 32  # more stale rectangles than this are merged into their bounding box


@dataclass
class _Tracked:
    """Capture state of one tracked window (see the module docstring)."""

    wid: int
    popups: bool
    damage: int = 0
    pixmap: Any = None  # the named pixmap (python-xlib resource) or None
    size: tuple[int, int] = (0, 0)  # the size it was named at
    ready: bool = False  # it drew since its off-screen pixmap was (re)allocated
    # after a resize that grew it: the new part, which only the application can fill (the
    # server copies the old content into the new pixmap and reports that as damage too)
    grown: list[Rect] = field(default_factory=list)
    identity: int = 0  # title / class / pid property changes seen (see identity_serial)
    rename: bool = True
    damaged: bool = True  # the first read is always taken
    stale: list[Rect] = field(default_factory=list)
    layers: dict[int, Any] = field(default_factory=dict)  # pop-up window id -> its pixmap
    redirected: set[int] = field(default_factory=set)


class X11Views:
    def __init__(self, conn: XConn, windows: X11Windows, mode: CaptureMode) -> None:
        self._c, self._windows, self.mode = conn, windows, mode
        self._tracked: dict[int, _Tracked] = {}
        self._views: dict[int, WindowView] = {}
        self._identity_atoms = {
            conn.atom(n) for n in ("WM_NAME", "_NET_WM_NAME", "WM_CLASS", "_NET_WM_PID")
        }

    def forget(self) -> None:
        self._views.clear()

    def use_masked(self) -> None:
        self.mode = CaptureMode.MASKED
        for t in self._tracked.values():
            self._free_pixmaps(t)
        self._views.clear()

    def quiet(self) -> bool:
        """No tracked window drew, was exposed, resized or left undrawn since the last look."""
        return not any(
            t.damaged or t.stale or t.rename or not t.ready for t in self._tracked.values()
        )

    # ------------------------------------------------------------ events
    def event(self, ev: Any) -> bool:
        """Apply one event to the tracked windows; True if it changes no cached answer."""
        if ev.type == self._c.damage_event:
            t = self._tracked.get(ev.drawable.id)
            if t is not None:
                # Events arrive in order: damage after the (re)allocation below means the
                # window drew into its current pixmap — after a growth, only damage in the
                # new part does (the rest may be the server's copy of the old content).
                a = ev.area
                repaint = Rect(a.x, a.y, a.width, a.height)
                if not t.grown or any(not r.intersect(repaint).empty for r in t.grown):
                    t.ready, t.grown = True, []
                t.damaged = True
                t.stale = [r for r in t.stale if r.intersect(repaint) != r]
            return True
        if ev.type == X.Expose:
            t = self._tracked.get(ev.window.id)
            if t is not None:
                t.stale.append(Rect(ev.x, ev.y, ev.width, ev.height))
                if len(t.stale) > _MAX_STALE:
                    t.stale = [_bounding(t.stale)]
            return True
        window = getattr(ev, "window", None)
        t = self._tracked.get(window.id) if window is not None else None
        if t is not None and ev.type == X.PropertyNotify and ev.atom in self._identity_atoms:
            t.identity += 1
        realloc = ev.type in (X.MapNotify, X.UnmapNotify) or (
            t is not None and ev.type == X.ConfigureNotify and (ev.width, ev.height) != t.size
        )
        if t is not None and realloc:
            t.rename, t.ready = True, False  # a new off-screen pixmap, not drawn yet
            t.grown = _grown(t.size, (ev.width, ev.height)) if ev.type == X.ConfigureNotify \
                else []  # fmt: skip
            if self.mode is CaptureMode.MASKED and ev.type != X.UnmapNotify:
                # masked: what the screen shows there is not the app's until it repaints
                w, h = (ev.width, ev.height) if ev.type == X.ConfigureNotify else t.size
                t.stale = [Rect(0, 0, max(w, 1), max(h, 1))]
            if t.damage:  # an old region would swallow the next damage (delta reports)
                self._c.d.damage_subtract(t.damage)
        return False

    # ------------------------------------------------------------ tracking
    def track(self, window: WindowInfo, popups: bool) -> bool:
        """Follow the window for capture; False if it was followed already."""
        old = self._tracked.get(window.handle)
        if old is not None:
            old.popups = popups
            return False
        t = _Tracked(window.handle, popups)
        w = self._c.window(window.handle)
        mask = CLIENT_MASK
        if self.mode is CaptureMode.MASKED:
            mask |= X.ExposureMask
        w.change_attributes(event_mask=mask)
        self._c.watched.add(window.handle)
        if self.mode is CaptureMode.COMPOSITE:
            w.composite_redirect_window(composite.RedirectAutomatic)
        if self._c.has_damage:
            t.damage = w.damage_create(damage.DamageReportDeltaRectangles)
        self._tracked[window.handle] = t
        self._views.pop(window.handle, None)
        return True

    def take_changes(self, window: WindowInfo) -> Changes:
        t = self._tracked.get(window.handle)
        if t is None or not self._c.has_damage:
            return Changes(None, tuple(t.stale) if t else ())
        damaged, t.damaged = t.damaged, False
        if damaged:
            self._c.d.damage_subtract(t.damage)  # reset before the read: later drawing shows
        return Changes(damaged, tuple(t.stale))

    def identity_serial(self, window: WindowInfo) -> int:
        t = self._tracked.get(window.handle)
        return t.identity if t is not None else 0

    # ------------------------------------------------------------ views
    def view(self, window: WindowInfo) -> WindowView:
        try:
            if window.handle not in self._views:
                if self.mode is CaptureMode.COMPOSITE and window.handle in self._tracked:
                    self._views[window.handle] = self._own_view(window)
                else:
                    self._views[window.handle] = self._masked_view(window)
            v = self._views[window.handle]
            t = self._tracked.get(window.handle)
            if v.visible and v.pixmap and t is not None and v.ready != t.ready:
                v = self._views[window.handle] = replace(v, ready=t.ready)
            return v
        except error.XError:
            self._views.pop(window.handle, None)
            self._c.watched.discard(window.handle)
            t = self._tracked.pop(window.handle, None)
            if t is not None:
                self._free_pixmaps(t)
            return WindowView(False, "business window closed")

    def _name(self, wid: int) -> Any:
        """Name the current off-screen pixmap of a redirected, mapped window (None: refused)."""
        catch = error.CatchError()
        pixmap = self._c.window(wid).composite_name_window_pixmap(onerror=catch)
        self._c.d.sync()
        if catch.get_error() is not None:
            return None
        return pixmap

    @staticmethod
    def _free(pixmap: Any) -> None:
        if pixmap is not None:
            pixmap.free(onerror=error.CatchError())

    def _free_pixmaps(self, t: _Tracked) -> None:
        self._free(t.pixmap)
        t.pixmap, t.rename = None, True
        for pm in t.layers.values():
            self._free(pm)
        t.layers.clear()

    def _own_view(self, window: WindowInfo) -> WindowView:
        t = self._tracked[window.handle]
        c = self._c
        w = c.window(window.handle)
        hidden = self._windows.hidden_reason(w)
        if hidden is not None:
            self._free_pixmaps(t)  # never read an old pixmap: it still holds stale content
            return WindowView(False, f"business window {hidden}")
        geo = w.get_geometry()
        origin = c.root.translate_coords(w, 0, 0)
        rect = Rect(origin.x, origin.y, geo.width, geo.height).even()
        if rect.empty:
            return WindowView(False, "business window has no size")
        if t.rename or t.pixmap is None or t.size != (geo.width, geo.height):
            self._free(t.pixmap)
            t.pixmap = self._name(window.handle)
            if t.pixmap is None:
                t.rename = True
                return WindowView(False, "business window is being redrawn")
            t.size, t.rename = (geo.width, geo.height), False
        owner = c.owner(window.handle)
        blackout = self._foreign_children(w, owner, geo.border_width)
        layers = self._layers(t, w, owner, rect) if t.popups and owner is not None else ()
        return WindowView(True, rect=rect, pixmap=t.pixmap.id, ready=t.ready, blackout=blackout,
                          layers=layers, origin=(origin.x, origin.y),
                          serial=c.serial)  # fmt: skip

    def _foreign_children(self, w: Any, owner: int | None, border: int) -> tuple[Rect, ...]:
        """Parts of the client area (relative) showing child windows of another client (or of
        an unknown one): those are blacked out, their own children with them."""
        out: list[Rect] = []
        stack = [(w, border, border)]
        while stack:
            win, ox, oy = stack.pop()
            for child in win.query_tree().children:
                try:
                    a = child.get_attributes()
                    if a.map_state != X.IsViewable or a.win_class == X.InputOnly:
                        continue
                    g = child.get_geometry()
                except error.XError:
                    continue  # gone: nothing of it to show
                b = g.border_width
                r = Rect(ox + g.x - border, oy + g.y - border, g.width + 2 * b, g.height + 2 * b)
                if owner is None or self._c.owner(child.id) != owner:
                    out.append(r)
                    continue
                if child.id not in self._c.watched:
                    self._c.watch(child.id, CLIENT_MASK)  # a plug-in window reparented in
                stack.append((child, r.x + b + border, r.y + b + border))
        return tuple(out)

    def _layers(self, t: _Tracked, w: Any, owner: int, rect: Rect) -> tuple[Layer, ...]:
        """The application's own windows above it (menus, tooltips, completion lists:
        override-redirect; dialogs: managed), each from its own pixmap, client area only."""
        c = self._c
        above = self._windows.above(w)
        if above is None:
            return ()
        candidates: list[Any] = []
        managed: dict[int, int] | None = None  # frame -> client, built only if a frame is above
        for child, attrs in above:
            if attrs.override_redirect:
                candidates.append(child)
                continue
            if managed is None:
                managed = {self._windows.frame_of(c.window(i.handle)).id: i.handle
                           for i in self._windows.listed() if i.handle != t.wid}  # fmt: skip
            if child.id in managed:
                candidates.append(c.window(managed[child.id]))
        old, t.layers = t.layers, {}
        out = []
        for cand in candidates:
            if c.owner(cand.id) != owner:
                continue
            try:
                if cand.id not in t.redirected:
                    cand.composite_redirect_window(composite.RedirectAutomatic)
                    t.redirected.add(cand.id)
                pm = self._name(cand.id)
                if pm is None:
                    continue
                g = cand.get_geometry()
                o = c.root.translate_coords(cand, 0, 0)
            except error.XError:
                continue
            t.layers[cand.id] = pm
            out.append(Layer(pm.id, Rect(o.x - rect.x, o.y - rect.y, g.width, g.height)))
        for pm in old.values():
            self._free(pm)
        return tuple(out)

    def _masked_view(self, window: WindowInfo) -> WindowView:
        c = self._c
        w = c.window(window.handle)
        hidden = self._windows.hidden_reason(w)
        if hidden is not None:
            return WindowView(False, f"business window {hidden}")

        geo = w.get_geometry()
        origin = c.root.translate_coords(w, 0, 0)
        sg = c.root.get_geometry()
        screen = Rect(0, 0, sg.width, sg.height)
        rect = Rect(origin.x, origin.y, geo.width, geo.height).intersect(screen).even()
        if rect.empty:
            return WindowView(False, "business window is off screen")

        t = self._tracked.get(window.handle)
        if t is not None:
            t.size = (geo.width, geo.height)
        owner = c.owner(window.handle) if t is not None and t.popups else None
        above = self._windows.above(w)
        if above is None:
            return WindowView(False, "business window vanished from the stacking order")
        occluders = []
        for child, a in above:
            if a.override_redirect and owner is not None and c.owner(child.id) == owner:
                continue  # the application's own pop-up, allowed by its rule
            try:
                g = child.get_geometry()
            except error.XError:
                continue  # vanished between the two requests: nothing to hide any more
            b = g.border_width
            occluders.append(Rect(g.x, g.y, g.width + 2 * b, g.height + 2 * b))
        # another client's windows inside it (plug-in hosts) are hidden as well
        inside = self._foreign_children(w, c.owner(window.handle), geo.border_width)
        occluders += [Rect(origin.x + r.x, origin.y + r.y, r.w, r.h) for r in inside]
        return WindowView(True, rect=rect, occluders=tuple(occluders), origin=(origin.x, origin.y),
                          serial=c.serial)  # fmt: skip


def _bounding(rects: list[Rect]) -> Rect:
    x0, y0 = min(r.x for r in rects), min(r.y for r in rects)
    x1, y1 = max(r.x + r.w for r in rects), max(r.y + r.h for r in rects)
    return Rect(x0, y0, x1 - x0, y1 - y0)


def _grown(old: tuple[int, int], new: tuple[int, int]) -> list[Rect]:
    """What a window resized from `old` to `new` gained: its new right and bottom bands."""
    (ow, oh), (nw, nh) = old, new
    out = []
    if nw > ow:
        out.append(Rect(ow, 0, nw - ow, nh))
    if nh > oh:
        out.append(Rect(0, oh, min(ow, nw), nh - oh))
    return out
