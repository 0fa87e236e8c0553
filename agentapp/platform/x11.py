"""X11 window locator (python-xlib, EWMH) and per-window capture state (Composite, DAMAGE).

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

Per-window capture (composite mode, when the server has Composite, DAMAGE, MIT-SHM): a tracked
window is redirected (CompositeRedirectAutomatic: the server keeps its content off screen and
still shows it as before), its pixmap is named, and capture/xshm.py reads that pixmap, so no
other window's pixel is ever read. The client window is redirected, not the WM frame (the
title bar can hold customer data). Facts measured on Xvfb (TESTING.md): an old pixmap still
reads after an unmap or a resize, with stale content and no error, so the pixmap is named
again after every map and size change, and marked not ready until the window's next damage
(first reads after naming can be black). Child windows of another X client inside the
business window (X-Resource tells the owner, not `_NET_WM_PID`, which any client can set)
are listed for blackout.

Masked mode (fallback): the capture reads the window's rectangle on the screen and blacks out
everything above it. Exposures on the business window are followed: a region another window
just left may still hold that window's pixels until the application repaints it (seen with a
fast drag), so it is reported `stale` until DAMAGE shows a repaint over it.

Locks (`locked`): what X shows (the server's screen saver, xscreensaver's root property, a
full-screen window of another client above the business window), and the keyboard held by
another client with no pop-up shown (xtrlock), asked on a second connection without ever
taking the keyboard (platform/x11_grab.py).

Threading: one instance per thread (an X connection is not shared).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from Xlib import X, display, error
from Xlib.ext import composite, damage, res, screensaver

from agentapp.core.geometry import Rect
from agentapp.core.policy import WindowRule
from agentapp.i18n import _
from agentapp.platform.base import (
    CaptureMode,
    Changes,
    Layer,
    LocatorError,
    WindowInfo,
    WindowLocator,
    WindowView,
)
from agentapp.platform.x11_grab import KeyboardGrabs

log = logging.getLogger(__name__)
_ALL_DESKTOPS = 0xFFFFFFFF
# Every change the cached answers depend on comes with an event (the root's substructure and
# properties, the tracked windows', the screen saver's notifications); this refresh is only a
# safety net for one the server did not send. At 1 s it cost about 0.14 s of CPU per minute
# of recording (30-odd round trips at each refresh, 720p, a 2-core Debian 12 machine).
_REFRESH_S = 5.0
_FORGET_ATTRS = (X.MapNotify, X.UnmapNotify, X.ReparentNotify, X.DestroyNotify, X.CreateNotify)
LOCKED = "the screen is locked or covered by another program"
LOCKED_SAVER = "the screen saver is on"
LOCKED_GRAB = "the screen is locked (another program holds the keyboard)"
GRAB_PROBE_S = 0.1  # how often the keyboard is asked about (a question costs 0.03 ms)
GRAB_LOCK_S = 0.2  # held this long with no menu shown: a lock (seen within 0.2 s of a
# quiet interval, then asked every 0.1 s: a lock is known 0.4 s after it began at most, inside
# the default look-behind)
XSS_LOCKED = ("LOCK", "BLANK")  # xscreensaver's _SCREENSAVER_STATUS first atom when active
_MAX_STALE = 32  # more stale rectangles than this are merged into their bounding box
_CLIENT_MASK = X.StructureNotifyMask | X.PropertyChangeMask | X.SubstructureNotifyMask


@dataclass
class _Tracked:
    """Capture state of one tracked window (see the module docstring)."""

    wid: int
    popups: bool
    damage: int = 0
    pixmap: Any = None  # the named pixmap (python-xlib resource) or None
    size: tuple[int, int] = (0, 0)  # the size it was named at
    ready: bool = False  # it drew since its off-screen pixmap was (re)allocated
    identity: int = 0  # title / class / pid property changes seen (see identity_serial)
    rename: bool = True
    damaged: bool = True  # the first read is always taken
    stale: list[Rect] = field(default_factory=list)
    layers: dict[int, Any] = field(default_factory=dict)  # pop-up window id -> its pixmap
    redirected: set[int] = field(default_factory=set)


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
    def __init__(self, display_name: str | None = None, per_window: bool = True) -> None:
        """`per_window` False forces the masked fallback (benchmarks compare both modes)."""
        try:
            self._d = display.Display(display_name)
        except Exception as exc:  # DisplayNameError, DisplayConnectionError, OSError …
            raise LocatorError(_("cannot open the X display: {exc}").format(exc=exc)) from None
        self._root = self._d.screen().root
        self._atoms: dict[str, int] = {}
        self._root.change_attributes(event_mask=X.SubstructureNotifyMask | X.PropertyChangeMask)
        self._watched: set[int] = set()
        self._cache_time = 0.0
        self._views: dict[int, WindowView] = {}
        self._windows: list[WindowInfo] | None = None
        self._visible: dict[int, bool] = {}
        self._owners: dict[int, int | None] = {}
        # Attributes of root children, kept across refreshes: whether one is viewable changes
        # only with the map, unmap, reparent and destroy events the root reports (each forgets
        # it). Its class never changes; override-redirect only ever lets a pop-up through
        # together with its owner (the X client), which is asked afresh.
        self._root_attrs: dict[int, Any] = {}
        self._tracked: dict[int, _Tracked] = {}
        self._serial = 0
        self._looking = 0  # inside `one_look`: the look taken at its start answers ...
        self._relook = False  # ... unless a window was just tracked
        self._has_damage = self._d.has_extension("DAMAGE")
        self._has_res = self._d.has_extension("X-Resource")
        self._damage_event = -1
        if self._has_damage:
            self._d.damage_query_version()
            self._damage_event = (
                self._d.query_extension("DAMAGE").first_event + damage.DamageNotifyCode
            )
        if self._has_res:
            self._d.res_query_version()
        self._has_saver = self._d.has_extension("MIT-SCREEN-SAVER")
        if self._has_saver:  # its on/off notifications drop the cached answers (see _poll)
            screensaver.select_input(self._root, screensaver.NotifyMask)
        self._lock_why: str | bool | None = False  # False: not looked at since the last change
        self._grabs: KeyboardGrabs | bool | None = False  # False: not opened yet
        self._grab_asked = float("-inf")
        self._grab_since: float | None = None  # when the keyboard was first seen held
        self._display_name = display_name
        self._mode, self._mode_reason = self._probe_mode(per_window)
        self._identity_atoms = {
            self._atom(n) for n in ("WM_NAME", "_NET_WM_NAME", "WM_CLASS", "_NET_WM_PID")
        }

    def _probe_mode(self, per_window: bool) -> tuple[CaptureMode, str]:
        if not per_window:
            return CaptureMode.MASKED, "per-window capture turned off"
        missing = [n for n in ("Composite", "DAMAGE") if not self._d.has_extension(n)]
        if not self._d.query_extension("MIT-SHM").present:
            missing.append("MIT-SHM")
        if missing:
            return CaptureMode.MASKED, f"the X server has no {' or '.join(missing)}"
        v = self._d.composite_query_version()
        if (v.major_version, v.minor_version) < (0, 2):
            return CaptureMode.MASKED, "the X server's Composite is older than 0.2"
        return CaptureMode.COMPOSITE, ""

    @property
    def mode(self) -> CaptureMode:
        return self._mode

    @property
    def mode_reason(self) -> str:
        return self._mode_reason

    def use_masked(self, reason: str) -> None:
        """The pixel reader cannot read pixmaps here: fall back for good."""
        self._mode, self._mode_reason = CaptureMode.MASKED, reason
        for t in self._tracked.values():
            self._free_pixmaps(t)
        self._views.clear()

    def close(self) -> None:
        if isinstance(self._grabs, KeyboardGrabs):
            self._grabs.close()
        try:
            self._d.close()  # the server frees pixmaps, damages and redirections with it
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

    def _owner(self, wid: int) -> int | None:
        """The X client connection that created a window (its XID base), None if unknown."""
        if wid not in self._owners:
            owner = None
            if self._has_res:
                try:
                    spec = {"client": wid, "mask": res.ClientXIDMask}
                    reply = self._d.res_query_client_ids([spec])
                    owner = next((int(v.spec.client) for v in reply.ids), None)
                except error.XError:
                    owner = None
            self._owners[wid] = owner
        return self._owners[wid]

    # ------------------------------------------------------------ events
    def _watch(self, wid: int, mask: int = X.StructureNotifyMask | X.PropertyChangeMask) -> None:
        if wid not in self._watched:
            w = self._d.create_resource_object("window", wid)
            w.change_attributes(event_mask=mask)
            self._watched.add(wid)

    @contextlib.contextmanager
    def one_look(self, fresh: bool = True) -> Iterator[None]:
        if fresh:
            self._poll()
        self._looking += 1
        try:
            yield
        finally:
            self._looking -= 1

    def _poll(self) -> None:
        """One round trip; handle every event the server generated until now. Damage and
        exposures update the tracked windows; any other event drops every cached answer.
        Inside `one_look`, the look taken at its start stands."""
        if self._looking and not self._relook:
            return
        self._relook = False
        try:
            self._d.sync()  # every event the server generated until now is queued
            changed = self._take_events()
        except error.ConnectionClosedError as exc:
            raise LocatorError(_("lost the X display: {exc}").format(exc=exc)) from None
        if not changed and time.monotonic() - self._cache_time > _REFRESH_S:
            self._forget()

    def _take_events(self) -> bool:
        """Apply the events received so far (no round trip); True if one changed a cached
        answer, which are all dropped then."""
        changed = False
        for _i in range(self._d.pending_events()):
            if not self._event(self._d.next_event()):
                changed = True
        if changed:
            self._serial += 1
            self._forget()
        return changed

    def _received(self) -> bool:
        """Anything from the server not applied yet (a look at the socket: a few µs, where
        asking python-xlib costs tens)."""
        if self._d.display.event_queue:
            return True
        try:
            return bool(select.select([self._d.fileno()], [], [], 0)[0])
        except (OSError, ValueError):
            return True  # the connection broke: python-xlib's own read says how

    def _forget(self) -> None:
        self._views.clear()
        self._visible.clear()
        self._owners.clear()
        self._windows = None
        self._lock_why = False
        self._cache_time = time.monotonic()

    def fileno(self) -> int | None:
        return int(self._d.fileno())

    def quiet(self) -> bool:
        if not self._has_damage or self._looking or self._grab_since is not None:
            return False  # (a keyboard seen held: asked every interval until it is a lock)
        try:
            if self._received() and self._take_events():
                return False
        except error.ConnectionClosedError as exc:
            raise LocatorError(_("lost the X display: {exc}").format(exc=exc)) from None
        if time.monotonic() - self._cache_time > _REFRESH_S:
            return False  # the lock's look (the screen saver, a full-screen window) is due
        return not any(
            t.damaged or t.stale or t.rename or not t.ready for t in self._tracked.values()
        )

    def _event(self, ev: Any) -> bool:
        """Apply one event to the tracked windows; True if it changes no cached answer."""
        if ev.type == self._damage_event:
            t = self._tracked.get(ev.drawable.id)
            if t is not None:
                # Events arrive in order: damage after the (re)allocation below means the
                # window drew into its current pixmap.
                t.damaged = t.ready = True
                a = ev.area
                repaint = Rect(a.x, a.y, a.width, a.height)
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
        if window is not None and ev.type in _FORGET_ATTRS:
            self._root_attrs.pop(window.id, None)
        t = self._tracked.get(window.id) if window is not None else None
        if t is not None and ev.type == X.PropertyNotify and ev.atom in self._identity_atoms:
            t.identity += 1
        realloc = ev.type in (X.MapNotify, X.UnmapNotify) or (
            t is not None and ev.type == X.ConfigureNotify and (ev.width, ev.height) != t.size
        )
        if t is not None and realloc:
            t.rename, t.ready = True, False  # a new off-screen pixmap, not drawn yet
            if self._mode is CaptureMode.MASKED and ev.type != X.UnmapNotify:
                # masked: what the screen shows there is not the app's until it repaints
                w, h = (ev.width, ev.height) if ev.type == X.ConfigureNotify else t.size
                t.stale = [Rect(0, 0, max(w, 1), max(h, 1))]
            if t.damage:  # an old region would swallow the next damage (delta reports)
                self._d.damage_subtract(t.damage)
        return False

    # ------------------------------------------------------------ interface
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
            raise LocatorError(_("the window manager does not publish _NET_CLIENT_LIST (no EWMH)"))
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

    def track(self, window: WindowInfo, popups: bool) -> None:
        old = self._tracked.get(window.handle)
        if old is not None:
            old.popups = popups
            return
        t = _Tracked(window.handle, popups)
        w = self._d.create_resource_object("window", window.handle)
        mask = _CLIENT_MASK
        if self._mode is CaptureMode.MASKED:
            mask |= X.ExposureMask
        w.change_attributes(event_mask=mask)
        self._watched.add(window.handle)
        if self._mode is CaptureMode.COMPOSITE:
            w.composite_redirect_window(composite.RedirectAutomatic)
        if self._has_damage:
            t.damage = w.damage_create(damage.DamageReportDeltaRectangles)
        self._tracked[window.handle] = t
        self._views.pop(window.handle, None)
        self._relook = True  # within a look, what the server says of it now is wanted

    def take_changes(self, window: WindowInfo) -> Changes:
        self._poll()
        t = self._tracked.get(window.handle)
        if t is None or not self._has_damage:
            return Changes(None, tuple(t.stale) if t else ())
        damaged, t.damaged = t.damaged, False
        if damaged:
            self._d.damage_subtract(t.damage)  # reset before the read: later drawing shows
        return Changes(damaged, tuple(t.stale))

    def identity_serial(self, window: WindowInfo) -> int:
        self._poll()
        t = self._tracked.get(window.handle)
        return t.identity if t is not None else 0

    def view(self, window: WindowInfo) -> WindowView:
        try:
            self._watch(window.handle)
            self._poll()
            if window.handle not in self._views:
                if self._mode is CaptureMode.COMPOSITE and window.handle in self._tracked:
                    self._views[window.handle] = self._own_view(window)
                else:
                    self._views[window.handle] = self._view(window)
            v = self._views[window.handle]
            t = self._tracked.get(window.handle)
            if v.visible and v.pixmap and t is not None and v.ready != t.ready:
                v = self._views[window.handle] = replace(v, ready=t.ready)
            return v
        except error.ConnectionClosedError as exc:
            raise LocatorError(_("lost the X display: {exc}").format(exc=exc)) from None
        except error.XError:
            self._views.pop(window.handle, None)
            self._watched.discard(window.handle)
            t = self._tracked.pop(window.handle, None)
            if t is not None:
                self._free_pixmaps(t)
            return WindowView(False, "business window closed")

    def locked(self, window: WindowInfo) -> str | None:
        try:
            self._poll()
            if self._lock_why is False:
                self._lock_why = self._lock_reason(window)
        except error.ConnectionClosedError as exc:
            raise LocatorError(_("lost the X display: {exc}").format(exc=exc)) from None
        except error.XError:
            self._lock_why = None  # the window went: view() says so
        if isinstance(self._lock_why, str):
            return self._lock_why
        return LOCKED_GRAB if self._keyboard_held() else None

    def _keyboard_held(self) -> bool:
        """Held by another program for GRAB_LOCK_S with no pop-up shown (xtrlock and other
        lockers that only grab; a menu held open shows itself). See platform/x11_grab.py."""
        if self._grabs is False:
            try:
                self._grabs = KeyboardGrabs(self._display_name)
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
                self._grab_since = None
            elif self._grab_since is None:
                self._grab_since = now
        return self._grab_since is not None and now - self._grab_since >= GRAB_LOCK_S

    def _lock_reason(self, window: WindowInfo) -> str | None:
        """What X itself shows of a lock: the server's screen saver on, xscreensaver's root
        property, or a window of another client stacked above the business window and covering
        the whole screen (i3lock and most lockers; a full-screen window of another program is
        treated the same)."""
        if self._has_saver and screensaver.query_info(self._root).state == screensaver.StateOn:
            return LOCKED_SAVER
        xss = self._prop(self._root, "_SCREENSAVER_STATUS")
        says = xss is not None and len(xss) and xss[0] in (self._atom(n) for n in XSS_LOCKED)
        if says and self._xscreensaver_runs():
            return LOCKED
        w = self._d.create_resource_object("window", window.handle)
        owner = self._owner(window.handle)
        g = self._root.get_geometry()
        screen = Rect(0, 0, g.width, g.height)
        for child, _stack in self._above(w) or []:
            cg = child.get_geometry()
            if Rect(cg.x, cg.y, cg.width, cg.height).intersect(screen) != screen:
                continue
            if owner is None or self._owner(child.id) != owner:
                return LOCKED
        return None

    def _xscreensaver_runs(self) -> bool:
        """xscreensaver's daemon window (the root child with `_SCREENSAVER_VERSION`) is
        there. Its status property outlives a killed daemon: "LOCK" then means nothing, the
        lock's window having gone with it (and a window still covering the screen is caught
        by the full-screen check)."""
        version = self._atom("_SCREENSAVER_VERSION")
        for child in self._root.query_tree().children:
            try:
                if child.get_full_property(version, X.AnyPropertyType) is not None:
                    return True
            except error.XError:
                continue  # gone meanwhile
        return False

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

    # ------------------------------------------------------------ composite mode
    def _name(self, wid: int) -> Any:
        """Name the current off-screen pixmap of a redirected, mapped window (None: refused)."""
        catch = error.CatchError()
        w = self._d.create_resource_object("window", wid)
        pixmap = w.composite_name_window_pixmap(onerror=catch)
        self._d.sync()
        if catch.get_error() is not None:
            return None
        return pixmap

    def _free(self, pixmap: Any) -> None:
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
        w = self._d.create_resource_object("window", window.handle)
        hidden = self._hidden_reason(w)
        if hidden is not None:
            self._free_pixmaps(t)  # never read an old pixmap: it still holds stale content
            return WindowView(False, f"business window {hidden}")
        geo = w.get_geometry()
        origin = self._root.translate_coords(w, 0, 0)
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
        owner = self._owner(window.handle)
        blackout = self._foreign_children(w, owner, geo.border_width)
        layers = self._layers(t, w, owner, rect) if t.popups and owner is not None else ()
        return WindowView(True, rect=rect, pixmap=t.pixmap.id, ready=t.ready, blackout=blackout,
                          layers=layers, origin=(origin.x, origin.y),
                          serial=self._serial)  # fmt: skip

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
                if owner is None or self._owner(child.id) != owner:
                    out.append(r)
                    continue
                if child.id not in self._watched:
                    self._watch(child.id, _CLIENT_MASK)  # a plug-in window reparented in
                stack.append((child, r.x + b + border, r.y + b + border))
        return tuple(out)

    def _layers(self, t: _Tracked, w: Any, owner: int, rect: Rect) -> tuple[Layer, ...]:
        """The application's own windows above it (menus, tooltips, completion lists:
        override-redirect; dialogs: managed), each from its own pixmap, client area only."""
        above = self._above(w)
        if above is None:
            return ()
        candidates: list[Any] = []
        managed: dict[int, int] | None = None  # frame -> client, built only if a frame is above
        for child, attrs in above:
            if attrs.override_redirect:
                candidates.append(child)
                continue
            if managed is None:
                managed = {self._frame_of(self._d.create_resource_object("window", i.handle)).id:
                           i.handle for i in self.windows() if i.handle != t.wid}  # fmt: skip
            if child.id in managed:
                candidates.append(self._d.create_resource_object("window", managed[child.id]))
        old, t.layers = t.layers, {}
        out = []
        for c in candidates:
            if self._owner(c.id) != owner:
                continue
            try:
                if c.id not in t.redirected:
                    c.composite_redirect_window(composite.RedirectAutomatic)
                    t.redirected.add(c.id)
                pm = self._name(c.id)
                if pm is None:
                    continue
                g = c.get_geometry()
                o = self._root.translate_coords(c, 0, 0)
            except error.XError:
                continue
            t.layers[c.id] = pm
            out.append(Layer(pm.id, Rect(o.x - rect.x, o.y - rect.y, g.width, g.height)))
        for pm in old.values():
            self._free(pm)
        return tuple(out)

    # ------------------------------------------------------------ masked mode
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

        t = self._tracked.get(window.handle)
        if t is not None:
            t.size = (geo.width, geo.height)
        owner = self._owner(window.handle) if t is not None and t.popups else None
        above = self._above(w)
        if above is None:
            return WindowView(False, "business window vanished from the stacking order")
        occluders = []
        for child, a in above:
            if a.override_redirect and owner is not None and self._owner(child.id) == owner:
                continue  # the application's own pop-up, allowed by its rule
            try:
                g = child.get_geometry()
            except error.XError:
                continue  # vanished between the two requests: nothing to hide any more
            b = g.border_width
            occluders.append(Rect(g.x, g.y, g.width + 2 * b, g.height + 2 * b))
        # another client's windows inside it (plug-in hosts) are hidden as well
        inside = self._foreign_children(w, self._owner(window.handle), geo.border_width)
        occluders += [Rect(origin.x + r.x, origin.y + r.y, r.w, r.h) for r in inside]
        return WindowView(True, rect=rect, occluders=tuple(occluders), origin=(origin.x, origin.y),
                          serial=self._serial)  # fmt: skip

    def _above(self, w: Any) -> list[tuple[Any, Any]] | None:
        """The mapped, drawable root children stacked above the window's frame, bottom to top,
        with their attributes (frames with title bars, override-redirect pop-ups); None when
        the frame is no longer a root child."""
        top = self._frame_of(w)
        children = self._root.query_tree().children  # bottom-to-top
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
            raise LocatorError(_("cannot take the pointer to pick a window (another grab?)"))
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


def _bounding(rects: list[Rect]) -> Rect:
    x0, y0 = min(r.x for r in rects), min(r.y for r in rects)
    x1, y1 = max(r.x + r.w for r in rects), max(r.y + r.h for r in rects)
    return Rect(x0, y0, x1 - x0, y1 - y0)


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
