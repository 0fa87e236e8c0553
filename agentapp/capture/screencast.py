"""Per-window pixels under GNOME: Mutter's ScreenCast of ONE window (its `RecordWindow`, always
given the window's id), its PipeWire stream read through GStreamer. Only that window's own
buffer is in the stream: covered, partly off-screen or beside other windows, no pixel of
another window is ever read.

What it relies on (measured on Debian 12: mutter 43.8, pipewire 0.3.65, GStreamer 1.22):
* frames are monitor-sized, the window's buffer drawn at (0, 0) (its shadow first: the
  locator's `inset`), transparent elsewhere; the reader gives the top-left part asked for;
* frames come only when the window draws: the last one stands until the next;
* `pipewiresrc` with no caps filter after it never prerolls;
* without `window-id`, RecordWindow records the focused window: the id is always given;
* a closed window ends the ScreenCast session (`Closed`) while GStreamer sees no end of
  stream: `Closed` is watched, and after it nothing is given;
* `is-recording` shows the shell's own red dot while the stream runs.

Threading: made, used and closed on the capture thread. GStreamer's streaming thread hands
frames over through its appsink, which `read` empties without waiting.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from jeepney import DBusAddress, HeaderFields, MatchRule, MessageType, message_bus, new_method_call
from jeepney.io.blocking import DBusConnection, Proxy, open_dbus_connection

from agentapp.platform.base import ReaderUnavailable

log = logging.getLogger(__name__)

MUTTER = "org.gnome.Mutter.ScreenCast"
CAST_PATH = "/org/gnome/Mutter/ScreenCast"
SESSION = "org.gnome.Mutter.ScreenCast.Session"
STREAM = "org.gnome.Mutter.ScreenCast.Stream"
CALL_TIMEOUT_S = 2.0
RETRY_S = 1.0  # a window whose cast failed is not asked again sooner
MAX_FPS = 15  # frames come on damage only; the capture's ticks take what is there


def _system_gi() -> None:
    """The packaged agent (a frozen bundle) uses Debian's PyGObject, python3-gi, built for the
    same Python: the package links its folder alone into the bundle (scripts/build-deb.sh)."""
    if getattr(sys, "frozen", False):
        folder = Path(sys.executable).resolve().parent / "system-gi"
        if (folder / "gi").is_dir() and str(folder) not in sys.path:
            sys.path.append(str(folder))


def _gst() -> Any:
    _system_gi()
    try:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import Gst
    except (ImportError, ValueError) as exc:
        raise ReaderUnavailable(
            f"GStreamer is not usable from Python here (python3-gi, gir1.2-gstreamer-1.0: {exc})"
        ) from None
    if not Gst.is_initialized():
        Gst.init(None)
    if Gst.ElementFactory.find("pipewiresrc") is None:
        raise ReaderUnavailable("GStreamer's PipeWire source is missing (gstreamer1.0-pipewire)")
    return Gst


class _Cast:
    """One window's ScreenCast session and the GStreamer pipeline that reads it."""

    def __init__(self, conn: DBusConnection, gst: Any, window: int) -> None:
        self.window = window
        self.closed = False
        self._conn, self._gst = conn, gst
        self._pipeline: Any = None
        self._last: np.ndarray | None = None
        (self.session,) = self._call(CAST_PATH, MUTTER, "CreateSession", "a{sv}", {})
        # The bus daemon is told Mutter's well-known name; the messages carry its unique one,
        # so the filters here match on the interface and path only.
        wanted = [(SESSION, self.session), (STREAM, None)]
        bus = Proxy(message_bus, conn, timeout=CALL_TIMEOUT_S)
        for iface, path in wanted:
            bus.AddMatch(MatchRule(type="signal", sender=MUTTER, interface=iface, path=path))
        self._filters = [conn.filter(MatchRule(type="signal", interface=i, path=p), bufsize=64)
                         for i, p in wanted]  # fmt: skip
        self._queues = [f.__enter__() for f in self._filters]
        options = {"window-id": ("t", window), "cursor-mode": ("u", 0),
                   "is-recording": ("b", True)}  # fmt: skip
        (stream,) = self._call(self.session, SESSION, "RecordWindow", "a{sv}", options)
        self._call(self.session, SESSION, "Start")
        node = self._node(stream)
        self._pipeline = gst.parse_launch(
            f"pipewiresrc path={node} always-copy=true ! video/x-raw,max-framerate={MAX_FPS}/1"
            " ! videoconvert ! video/x-raw,format=BGRA"
            " ! appsink name=sink max-buffers=1 drop=true sync=false"
        )
        self._sink = self._pipeline.get_by_name("sink")
        if self._pipeline.set_state(gst.State.PLAYING) == gst.StateChangeReturn.FAILURE:
            raise ReaderUnavailable("the window's PipeWire stream could not be read")

    def _call(self, path: str, iface: str, method: str, sig: str | None = None,
              *args: Any) -> tuple[Any, ...]:  # fmt: skip
        msg = new_method_call(DBusAddress(path, bus_name=MUTTER, interface=iface), method, sig,
                              args)  # fmt: skip
        try:
            reply = self._conn.send_and_get_reply(msg, timeout=CALL_TIMEOUT_S)
        except (TimeoutError, OSError) as exc:
            raise ReaderUnavailable(f"Mutter's ScreenCast did not answer ({exc})") from None
        if reply.header.message_type is MessageType.error:
            why = reply.header.fields.get(HeaderFields.error_name, "")
            raise ReaderUnavailable(f"Mutter's ScreenCast refused ({why}: {reply.body})")
        return tuple(reply.body)

    def _node(self, stream: str) -> int:
        """The PipeWire node of the stream, once Mutter says it is there."""
        queue = self._queues[1]
        for _ in range(200):
            while queue:
                m = queue.popleft()
                fields = m.header.fields
                if (fields.get(HeaderFields.path) == stream
                        and fields.get(HeaderFields.member) == "PipeWireStreamAdded"):  # fmt: skip
                    (node,) = m.body
                    return int(node)
            try:
                self._conn.recv_messages(timeout=CALL_TIMEOUT_S / 200)
            except TimeoutError:
                pass
        raise ReaderUnavailable("Mutter's ScreenCast gave no stream for the window")

    def poll(self) -> None:
        """Take in what Mutter said (never waits): `Closed` ends what this cast gives."""
        while True:
            try:
                self._conn.recv_messages(timeout=0)
            except TimeoutError:
                break
        for m in self._queues[0]:
            if m.header.fields.get(HeaderFields.member) == "Closed":
                self.closed = True
        self._queues[0].clear()
        self._queues[1].clear()
        if self.closed:
            self._last = None

    def latest(self) -> np.ndarray | None:
        """The window's latest frame (what it last drew), or None before its first one."""
        if self.closed:
            return None
        sample = self._sink.emit("try-pull-sample", 0)
        if sample is not None:
            caps = sample.get_caps().get_structure(0)
            w, h = caps.get_value("width"), caps.get_value("height")
            buf = sample.get_buffer()
            ok, info = buf.map(self._gst.MapFlags.READ)
            if ok:
                try:
                    stride = len(info.data) // h if h else 0
                    rows = np.frombuffer(info.data, np.uint8).reshape(h, stride)
                    self._last = rows[:, : w * 4].reshape(h, w, 4).copy()
                finally:
                    buf.unmap(info)
        return self._last

    def stop(self) -> None:
        if self._pipeline is not None:
            self._pipeline.set_state(self._gst.State.NULL)
            self._pipeline = None
        self._last = None
        if not self.closed:
            try:
                self._call(self.session, SESSION, "Stop")
            except ReaderUnavailable:
                pass  # (the session goes with our connection anyway)
        for f in self._filters:
            f.__exit__(None, None, None)


class ScreenCastReader:
    """A FrameReader (platform/base.py) on Mutter's ScreenCast: `drawable` is the window's id
    as the desk extension gives it."""

    def __init__(self) -> None:
        self._gst = _gst()
        try:
            self._conn = open_dbus_connection("SESSION")
        except (OSError, KeyError, ValueError) as exc:
            raise ReaderUnavailable(f"no session bus ({exc})") from None
        self._cast: _Cast | None = None
        self._failed = (0, 0.0)  # the window whose cast failed last, and when
        self.problem = ""

    def read(self, drawable: int, width: int, height: int, copy: bool = True) -> np.ndarray | None:
        if self._cast is None or self._cast.window != drawable:
            self._stop()
            now = time.monotonic()
            if drawable == self._failed[0] and now - self._failed[1] < RETRY_S:
                return None
            try:
                self._cast = _Cast(self._conn, self._gst, drawable)
            except ReaderUnavailable as exc:
                self.problem, self._failed = str(exc), (drawable, now)
                log.warning("window %s cannot be cast: %s", drawable, exc)
                return None
        self._cast.poll()
        frame = self._cast.latest()
        if frame is None:
            return None
        fh, fw = frame.shape[:2]
        if width > fw or height > fh:
            return None  # larger than what it drew: a resize under way
        out = frame[:height, :width]
        return out.copy() if copy else out

    @property
    def closed(self) -> bool:
        """The window's cast ended (the window closed)."""
        return self._cast is not None and self._cast.closed

    def _stop(self) -> None:
        cast, self._cast = self._cast, None
        if cast is not None:
            cast.stop()

    def close(self) -> None:
        try:
            self._stop()
        finally:
            self._conn.close()
