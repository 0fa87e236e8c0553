"""Read one X drawable (a window's own pixmap) through MIT-SHM, with libxcb through ctypes.

This is the per-frame read of per-window capture: the server copies the pixmap into a memory
segment shared with this process (one request, no pixel data on the socket), and nothing but
that drawable is read. python-xlib stays off this path (its GetImage costs 3–9 ms a frame
at 720p–1080p here, 10–59 ms elsewhere; this costs what a root grab costs, ~0.3 ms:
bench/bench_capture_modes.py).

The drawable is named elsewhere (platform/x11.py names the window's pixmap on its own
connection); X resources are server-wide, so this connection can read it. A read of a
drawable that is gone or has another size returns None: the caller drops that frame.

Threading: one instance per thread (an xcb connection is used by the thread that made it).
"""

from __future__ import annotations

import ctypes
import mmap
import os
from typing import Any

import numpy as np

from agentapp.platform.base import ReaderUnavailable
from agentapp.platform.xcb import ERROR_P, Connection, Cookie, Error, XcbUnavailable

_Z_PIXMAP = 2
_ALL_PLANES = 0xFFFFFFFF


class ShmUnavailable(ReaderUnavailable):
    """MIT-SHM cannot be used on this display (missing, too old, or a remote connection)."""


class _VersionReply(ctypes.Structure):
    _fields_ = [
        ("response_type", ctypes.c_uint8),
        ("shared_pixmaps", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("length", ctypes.c_uint32),
        ("major_version", ctypes.c_uint16),
        ("minor_version", ctypes.c_uint16),
    ]


class _ImageReply(ctypes.Structure):
    _fields_ = [
        ("response_type", ctypes.c_uint8),
        ("depth", ctypes.c_uint8),
        ("sequence", ctypes.c_uint16),
        ("length", ctypes.c_uint32),
        ("visual", ctypes.c_uint32),
        ("size", ctypes.c_uint32),
    ]


def _shm_lib() -> Any:
    """libxcb-shm with the signatures used here (one table, as mss does)."""
    try:
        shm = ctypes.CDLL("libxcb-shm.so.0")
    except OSError as exc:
        raise ShmUnavailable(f"libxcb-shm is not installed ({exc})") from None
    table: list[tuple[str, Any, list[Any]]] = [
        ("xcb_shm_query_version", Cookie, [ctypes.c_void_p]),
        ("xcb_shm_query_version_reply", ctypes.POINTER(_VersionReply),
         [ctypes.c_void_p, Cookie, ERROR_P]),
        ("xcb_shm_attach_fd_checked", Cookie,
         [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint8]),
        ("xcb_shm_detach", Cookie, [ctypes.c_void_p, ctypes.c_uint32]),
        ("xcb_shm_get_image", Cookie,
         [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int16, ctypes.c_int16, ctypes.c_uint16,
          ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint8, ctypes.c_uint32, ctypes.c_uint32]),
        ("xcb_shm_get_image_reply", ctypes.POINTER(_ImageReply),
         [ctypes.c_void_p, Cookie, ERROR_P]),
    ]  # fmt: skip
    for name, restype, argtypes in table:
        fn = getattr(shm, name)
        fn.restype, fn.argtypes = restype, argtypes
    return shm


class ShmReader:
    """Reads drawables of one X display into numpy arrays through one shared segment."""

    def __init__(self, display_name: str | None = None) -> None:
        self._shm = _shm_lib()
        try:
            self._c = Connection(display_name)  # its libxcb and libc, one connection
        except XcbUnavailable as exc:
            why = f"cannot open the X display for shared-memory reads: {exc}"
            raise ShmUnavailable(why) from None
        self._xcb, self._conn = self._c.xcb, self._c.conn
        self._buf: mmap.mmap | None = None
        self._seg = 0
        self._size = 0
        try:
            ext = self._xcb.xcb_get_extension_data(
                self._conn, ctypes.addressof(ctypes.c_char.in_dll(self._shm, "xcb_shm_id"))
            )
            if not ext or not ext.contents.present:
                raise ShmUnavailable("the X server has no MIT-SHM extension")
            err = ctypes.POINTER(Error)()
            reply = self._shm.xcb_shm_query_version_reply(
                self._conn, self._shm.xcb_shm_query_version(self._conn), ctypes.byref(err)
            )
            if not reply:
                self._c.free(err)
                raise ShmUnavailable("MIT-SHM did not answer its version query")
            version = (reply.contents.major_version, reply.contents.minor_version)
            self._c.free(reply)
            if version < (1, 2):
                raise ShmUnavailable(f"MIT-SHM {version[0]}.{version[1]} is too old (1.2 needed)")
        except Exception:
            self.close()
            raise

    def _ensure(self, size: int) -> None:
        """A shared segment of at least `size` bytes (memfd: never a file on disk)."""
        if self._buf is not None and size <= self._size:
            return
        self._release()
        fd = os.memfd_create("agentapp-frame", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            buf = mmap.mmap(fd, size, prot=mmap.PROT_READ)
        except OSError:
            os.close(fd)
            raise
        seg = self._xcb.xcb_generate_id(self._conn)
        # read_only=0: the server writes into it. xcb closes the fd once it is sent.
        err = self._xcb.xcb_request_check(
            self._conn, self._shm.xcb_shm_attach_fd_checked(self._conn, seg, fd, 0)
        )
        if err:
            self._c.free(err)
            buf.close()
            raise ShmUnavailable("cannot share memory with the X server (remote display?)")
        self._buf, self._seg, self._size = buf, seg, size

    def read(self, drawable: int, width: int, height: int, copy: bool = True) -> np.ndarray | None:
        """BGRX pixels (h, w, 4) of the drawable's top-left `width`×`height`, or None when
        the server refused (drawable gone, smaller than asked, not readable). `copy` False:
        a read-only view of the shared segment, valid until the next read."""
        self._ensure(width * height * 4)
        assert self._buf is not None
        err = ctypes.POINTER(Error)()
        cookie = self._shm.xcb_shm_get_image(
            self._conn, drawable, 0, 0, width, height, _ALL_PLANES, _Z_PIXMAP, self._seg, 0
        )
        reply = self._shm.xcb_shm_get_image_reply(self._conn, cookie, ctypes.byref(err))
        if not reply:
            self._c.free(err)
            if self._c.broken:
                raise ShmUnavailable("lost the X display")
            return None
        depth = reply.contents.depth
        self._c.free(reply)
        if depth not in (24, 32):
            return None  # not a true-colour window: never guess at its pixels
        n = width * height * 4
        view = np.frombuffer(self._buf, np.uint8, n).reshape(height, width, 4)
        return view.copy() if copy else view

    def _release(self) -> None:
        if self._buf is not None:
            self._shm.xcb_shm_detach(self._conn, self._seg)
            self._xcb.xcb_flush(self._conn)
            _unmap(self._buf)
            self._buf = None
            self._size = 0

    def close(self) -> None:
        if self._conn and not self._c.broken:
            self._release()
        elif self._buf is not None:
            _unmap(self._buf)
            self._buf = None
        self._c.close()
        self._conn = None


def _unmap(buf: mmap.mmap) -> None:
    """Unmap a segment; while a view of it is still alive (a frame not yet dropped), the
    mapping goes with the last view instead (mmap refuses to close under it)."""
    try:
        buf.close()
    except BufferError:
        pass
