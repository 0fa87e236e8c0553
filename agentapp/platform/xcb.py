"""The few libxcb calls made every frame, through ctypes (one signature table, as python-mss
does): a connection, its root window, the server's clock, and the keyboard-grab question of
platform/x11_grab.py.
capture/xshm.py adds MIT-SHM on the same footing.

python-xlib answers the rest (window lists, properties, events): it is asked about once a
tick and costs tens of µs a request, where libxcb costs a few (platform/x11_grab.py measures
both). Nothing here reads a pixel.

Threading: one connection per thread (the thread that made it uses it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any


class XcbUnavailable(RuntimeError):
    """libxcb is missing, or the display cannot be opened through it."""


class Cookie(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint)]


class Error(ctypes.Structure):
    _fields_ = [
        ("response_type", ctypes.c_uint8),
        ("error_code", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("resource_id", ctypes.c_uint32),
        ("minor_code", ctypes.c_uint16),
        ("major_code", ctypes.c_uint8),
        ("pad0", ctypes.c_uint8),
        ("pad", ctypes.c_uint32 * 5),
        ("full_sequence", ctypes.c_uint32),
    ]


class ExtensionReply(ctypes.Structure):
    _fields_ = [
        ("response_type", ctypes.c_uint8),
        ("pad0", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("length", ctypes.c_uint32),
        ("present", ctypes.c_uint8),
        ("major_opcode", ctypes.c_uint8),
        ("first_event", ctypes.c_uint8),
        ("first_error", ctypes.c_uint8),
    ]


class _GrabReply(ctypes.Structure):
    _fields_ = [
        ("response_type", ctypes.c_uint8),
        ("status", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("length", ctypes.c_uint32),
    ]


class _PropertyNotify(ctypes.Structure):
    _fields_ = [
        ("response_type", ctypes.c_uint8),
        ("pad0", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("window", ctypes.c_uint32),
        ("atom", ctypes.c_uint32),
        ("time", ctypes.c_uint32),
        ("state", ctypes.c_uint8),
    ]


class _Screen(ctypes.Structure):
    _fields_ = [("root", ctypes.c_uint32)]  # the first field is all that is read


class _ScreenIterator(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(_Screen)), ("rem", ctypes.c_int), ("index", ctypes.c_int)]


ERROR_P = ctypes.POINTER(ctypes.POINTER(Error))
_GRAB_MODE_ASYNC = 1
_CURRENT_TIME = 0
_INPUT_ONLY, _CW_EVENT_MASK, _PROPERTY_CHANGE_MASK = 2, 0x800, 0x400000
_PROPERTY_NOTIFY, _WM_NAME, _STRING, _PROP_MODE_REPLACE = 28, 39, 31, 0

_loaded: tuple[Any, Any] | None = None


def libs() -> tuple[Any, Any]:
    """(libxcb, libc) with the signatures used here; loaded once."""
    global _loaded
    if _loaded is not None:
        return _loaded
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError as exc:
        raise XcbUnavailable(f"libxcb is not installed ({exc})") from None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    vp, u8, u32 = ctypes.c_void_p, ctypes.c_uint8, ctypes.c_uint32
    i16, u16 = ctypes.c_int16, ctypes.c_uint16
    # connection, depth, id, parent, x, y, width, height, border, class, visual, mask, values
    window = [vp, u8, u32, u32, i16, i16, u16, u16, u16, u16, u32, u32, ctypes.POINTER(u32)]
    table: list[tuple[Any, str, Any, list[Any]]] = [
        (xcb, "xcb_connect", vp, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
        (xcb, "xcb_connection_has_error", ctypes.c_int, [vp]),
        (xcb, "xcb_disconnect", None, [vp]),
        (xcb, "xcb_generate_id", u32, [vp]),
        (xcb, "xcb_flush", ctypes.c_int, [vp]),
        (xcb, "xcb_request_check", ctypes.POINTER(Error), [vp, Cookie]),
        (xcb, "xcb_get_extension_data", ctypes.POINTER(ExtensionReply), [vp, vp]),
        (xcb, "xcb_get_setup", vp, [vp]),
        (xcb, "xcb_setup_roots_iterator", _ScreenIterator, [vp]),
        (xcb, "xcb_grab_keyboard", Cookie, [vp, u8, u32, u32, u8, u8]),
        (xcb, "xcb_grab_keyboard_reply", ctypes.POINTER(_GrabReply), [vp, Cookie, ERROR_P]),
        (xcb, "xcb_ungrab_keyboard", Cookie, [vp, u32]),
        (xcb, "xcb_create_window", Cookie, window),
        (xcb, "xcb_change_property", Cookie, [vp, u8, u32, u32, u32, u8, u32, vp]),
        (xcb, "xcb_destroy_window", Cookie, [vp, u32]),
        (xcb, "xcb_wait_for_event", ctypes.POINTER(_PropertyNotify), [vp]),
        (libc, "free", None, [vp]),
    ]
    for lib, name, restype, argtypes in table:
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    _loaded = xcb, libc
    return _loaded


class Connection:
    """One libxcb connection to the display (`DISPLAY` when no name is given)."""

    def __init__(self, display_name: str | None = None) -> None:
        self.xcb, self.libc = libs()
        name = (display_name or os.environ.get("DISPLAY", "")).encode()
        self.conn = self.xcb.xcb_connect(name or None, None)
        if not self.conn or self.xcb.xcb_connection_has_error(self.conn):
            self.close()
            raise XcbUnavailable("cannot open the X display")
        roots = self.xcb.xcb_setup_roots_iterator(self.xcb.xcb_get_setup(self.conn))
        self.root = int(roots.data.contents.root)

    @property
    def broken(self) -> bool:
        return bool(self.xcb.xcb_connection_has_error(self.conn))

    def free(self, ptr: Any) -> None:
        """Release a reply or an error libxcb allocated."""
        if ptr:
            self.libc.free(ctypes.cast(ptr, ctypes.c_void_p))

    def grab_keyboard(self, time_ms: int) -> int | None:
        """Ask for the keyboard (asynchronous modes, on the root window) stamped `time_ms`:
        the server's status (X's GrabSuccess, AlreadyGrabbed, InvalidTime…), or None when
        the connection broke. A granted grab is the caller's to release."""
        err = ctypes.POINTER(Error)()
        cookie = self.xcb.xcb_grab_keyboard(
            self.conn, 0, self.root, time_ms, _GRAB_MODE_ASYNC, _GRAB_MODE_ASYNC
        )
        reply = self.xcb.xcb_grab_keyboard_reply(self.conn, cookie, ctypes.byref(err))
        if not reply:
            self.free(err)
            return None
        status = int(reply.contents.status)
        self.free(reply)
        return status

    def server_time(self) -> int | None:
        """The server's clock in ms (X time stamps), read from the property change of a
        window of our own made for it and destroyed after; None if the server said no (or
        the connection broke). The connection must have no other event coming (it selects
        none but this window's)."""
        x = self.xcb
        wid = x.xcb_generate_id(self.conn)
        mask = (ctypes.c_uint32 * 1)(_PROPERTY_CHANGE_MASK)
        x.xcb_create_window(self.conn, 0, wid, self.root, -10, -10, 1, 1, 0, _INPUT_ONLY, 0,
                            _CW_EVENT_MASK, mask)  # fmt: skip
        x.xcb_change_property(self.conn, _PROP_MODE_REPLACE, wid, _WM_NAME, _STRING, 8, 0, None)
        x.xcb_flush(self.conn)
        stamp = None
        while stamp is None:
            event = x.xcb_wait_for_event(self.conn)  # an error comes as an event too
            if not event:
                return None  # the connection broke
            e = event.contents
            kind, window, at = e.response_type & 0x7F, e.window, e.time
            self.free(event)
            if kind == 0:
                break  # an X error: no time stamp to be had
            if kind == _PROPERTY_NOTIFY and window == wid:
                stamp = int(at)
        x.xcb_destroy_window(self.conn, wid)
        x.xcb_flush(self.conn)
        return stamp

    def ungrab_keyboard(self) -> None:
        self.xcb.xcb_ungrab_keyboard(self.conn, _CURRENT_TIME)
        self.xcb.xcb_flush(self.conn)

    def close(self) -> None:
        if self.conn:
            self.xcb.xcb_disconnect(self.conn)
            self.conn = None
