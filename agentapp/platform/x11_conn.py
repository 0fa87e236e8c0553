"""One X connection and what every part of the X11 adapter asks of it: atoms, properties,
window identities, the X client that made a window, and the windows whose events it follows.

Threading: one instance per thread (an X connection is not shared).
"""

from __future__ import annotations

from typing import Any

from Xlib import X, display, error
from Xlib.ext import damage, res, screensaver

from agentapp.i18n import _
from agentapp.platform.base import LocatorError, WindowInfo
from agentapp.platform.process import executable

CLIENT_MASK = X.StructureNotifyMask | X.PropertyChangeMask | X.SubstructureNotifyMask


class XConn:
    def __init__(self, display_name: str | None) -> None:
        try:
            self.d = display.Display(display_name)
        except Exception as exc:  # DisplayNameError, DisplayConnectionError, OSError …
            raise LocatorError(_("cannot open the X display: {exc}").format(exc=exc)) from None
        self.display_name = display_name
        self.root = self.d.screen().root
        self._atoms: dict[str, int] = {}
        self.root.change_attributes(event_mask=X.SubstructureNotifyMask | X.PropertyChangeMask)
        self.watched: set[int] = set()
        self.owners: dict[int, int | None] = {}  # dropped with every cached answer
        self.serial = 0  # structural changes seen (WindowView.serial)
        self.has_damage = self.d.has_extension("DAMAGE")
        self.has_res = self.d.has_extension("X-Resource")
        self.damage_event = -1
        if self.has_damage:
            self.d.damage_query_version()
            self.damage_event = self.d.query_extension("DAMAGE").first_event + (
                damage.DamageNotifyCode
            )
        if self.has_res:
            self.d.res_query_version()
        self.has_saver = self.d.has_extension("MIT-SCREEN-SAVER")
        if self.has_saver:  # its on/off notifications drop the cached answers
            screensaver.select_input(self.root, screensaver.NotifyMask)

    def window(self, wid: int) -> Any:
        return self.d.create_resource_object("window", wid)

    def atom(self, name: str) -> int:
        if name not in self._atoms:
            self._atoms[name] = self.d.intern_atom(name)
        return self._atoms[name]

    def prop(self, win: Any, name: str) -> Any:
        p = win.get_full_property(self.atom(name), X.AnyPropertyType)
        return None if p is None else p.value

    def card(self, win: Any, name: str) -> int | None:
        v = self.prop(win, name)
        return int(v[0]) if v is not None and len(v) else None

    def title(self, win: Any) -> str | None:
        v = self.prop(win, "_NET_WM_NAME")
        if v is None:
            v = self.prop(win, "WM_NAME")
        if v is None:
            return None
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)

    def info(self, wid: int) -> WindowInfo:
        w = self.window(wid)
        cls = w.get_wm_class() or ()
        pid = self.card(w, "_NET_WM_PID")
        return WindowInfo(wid, tuple(cls), executable(pid), self.title(w), pid)

    def owner(self, wid: int) -> int | None:
        """The X client connection that created a window (its XID base), None if unknown."""
        if wid not in self.owners:
            owner = None
            if self.has_res:
                try:
                    spec = {"client": wid, "mask": res.ClientXIDMask}
                    reply = self.d.res_query_client_ids([spec])
                    owner = next((int(v.spec.client) for v in reply.ids), None)
                except error.XError:
                    owner = None
            self.owners[wid] = owner
        return self.owners[wid]

    def watch(self, wid: int, mask: int = X.StructureNotifyMask | X.PropertyChangeMask) -> None:
        """Follow a window's structure and property events (they drop the cached answers)."""
        if wid not in self.watched:
            self.window(wid).change_attributes(event_mask=mask)
            self.watched.add(wid)

    def close(self) -> None:
        try:
            self.d.close()  # the server frees pixmaps, damages and redirections with it
        except Exception:  # closing a dead connection is not an error worth reporting
            pass
