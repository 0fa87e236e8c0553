"""The local call hook: `agentapp hook off-hook|on-hook` → the running agent.

Softphones with command hooks (MicroSIP's cmdCallStart / cmdCallEnd, …) run the hook command;
it sends one JSON line over a Unix socket that only this user can open (folder 0700, socket
0600, and the peer's uid is checked with SO_PEERCRED). The agent answers one line: `ok …` or
`error: …`. Garbage, oversize or slow messages are refused and logged; the server goes on.

No client can hold up another: every connection is read as its bytes arrive (one selector
loop), the whole message must arrive within MESSAGE_DEADLINE_S of the connection (not per
read: a client trickling a byte a second is cut at the deadline), and at most MAX_CLIENTS
connections are kept, the one idle longest being dropped first. An event is handled the moment
its line is complete, so an on-hook never waits behind a slow or silent client, and the answer
a hook command gets is what happened.

Threading: HookServer runs its selector loop on its own daemon thread and calls `on_event` on
that thread; `on_event` must be quick and thread-safe (the engine queues the event).
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from agentapp.core.clock import Clock
from agentapp.core.errors import Refusal
from agentapp.core.events import MAX_EVENT_BYTES, EventError, Message, parse_wire
from agentapp.files import layout
from agentapp.i18n import _

log = logging.getLogger(__name__)
MESSAGE_DEADLINE_S = 2.0  # from connect to the end of the line
MAX_CLIENTS = 64  # connections kept open at once; beyond, the longest idle one is dropped
BACKLOG = 128


class HookError(Refusal):
    """The hook socket cannot be served (another agent holds it, an unsafe folder)."""


def socket_path(data_dir: Path) -> Path:
    return layout.hook_socket(data_dir)


@dataclass(slots=True)
class _Client:
    conn: socket.socket
    deadline: float  # monotonic
    last_read: float  # monotonic
    data: bytearray = field(default_factory=bytearray)


class HookServer:
    def __init__(self, path: Path, on_event: Callable[[Message], str], clock: Clock) -> None:
        self.path = path
        self._on_event = on_event
        self._clock = clock
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()  # stop() wakes the loop
        self._clients: dict[socket.socket, _Client] = {}
        self.rejected = 0

    def start(self) -> None:
        """Claim the socket and serve it."""
        self.claim()
        self.serve()

    def claim(self) -> None:
        """Bind the socket (single instance per user) without answering yet: clients that
        connect wait in the backlog until `serve()`, so no event reaches a half-started agent."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path.parent.chmod(0o700)
        if self.path.exists() or self.path.is_socket():
            if agent_listening(self.path):
                raise HookError(
                    _("another agentapp is already running for this user ({path})").format(
                        path=self.path
                    )
                )
            self.path.unlink()
        if len(str(self.path).encode()) > 100:
            raise HookError(_("socket path too long for this OS: {path}").format(path=self.path))
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        sock.listen(BACKLOG)
        sock.setblocking(False)
        self._sock = sock

    def serve(self) -> None:
        """Answer clients on the hook-server thread."""
        if self._sock is None:
            raise HookError(_("hook socket not claimed"))
        self._thread = threading.Thread(target=self._serve, name="hook-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        if self._thread is not None:
            self._thread.join(timeout=3)
        if self._sock is not None:
            self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self._thread is None or not self._thread.is_alive():
            self._wake_r.close()
            self._wake_w.close()

    # ------------------------------------------------------------------ the loop
    def _serve(self) -> None:
        assert self._sock is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._sock, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)  # `stop`: no wake-up otherwise
            while not self._stop.is_set():
                now = time.monotonic()
                soonest = min((c.deadline for c in self._clients.values()), default=None)
                wait = None if soonest is None else max(0.0, soonest - now)
                for key, _ in sel.select(timeout=wait):
                    if key.fileobj is self._wake_r:
                        continue
                    if key.fileobj is self._sock:
                        self._accept(sel)
                    else:
                        self._read(sel, self._clients[key.fileobj])  # type: ignore[index]
                now = time.monotonic()
                for c in [c for c in self._clients.values() if c.deadline <= now]:
                    self.rejected += 1
                    log.warning("hook: refused a message: incomplete after %.0f s",
                                MESSAGE_DEADLINE_S)  # fmt: skip
                    self._finish(sel, c, "error: message incomplete")
            for c in list(self._clients.values()):
                self._finish(sel, c, "error: the agent is stopping")

    def _accept(self, sel: selectors.BaseSelector) -> None:
        assert self._sock is not None
        while True:  # everything waiting in the backlog
            try:
                conn, _x = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                if self._stop.is_set():
                    return
                log.exception("hook: accept failed")
                return
            conn.setblocking(False)
            uid = _peer_uid(conn)
            if uid is not None and uid != os.getuid():
                self.rejected += 1
                log.warning("hook: refused a connection from uid %s", uid)
                _answer(conn, "error: not your agent")
                continue
            if len(self._clients) >= MAX_CLIENTS:
                idle = min(self._clients.values(), key=lambda c: c.last_read)
                self.rejected += 1
                log.warning("hook: %d connections open: dropped the one idle longest", MAX_CLIENTS)
                self._finish(sel, idle, "error: too many connections")
            now = time.monotonic()
            self._clients[conn] = _Client(conn, now + MESSAGE_DEADLINE_S, now)
            sel.register(conn, selectors.EVENT_READ)

    def _read(self, sel: selectors.BaseSelector, c: _Client) -> None:
        try:
            chunk = c.conn.recv(MAX_EVENT_BYTES + 2 - len(c.data))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        c.last_read = time.monotonic()
        c.data += chunk
        if chunk and b"\n" not in c.data and len(c.data) <= MAX_EVENT_BYTES:
            return  # more to come
        try:
            reply = self._handle(bytes(c.data))
        except Exception:  # one bad client must not stop the server
            log.exception("hook: unexpected error while handling a message")
            reply = "error: internal error"
        self._finish(sel, c, reply)

    def _finish(self, sel: selectors.BaseSelector, c: _Client, reply: str) -> None:
        sel.unregister(c.conn)
        del self._clients[c.conn]
        _answer(c.conn, reply)

    def _handle(self, data: bytes) -> str:
        line = data.split(b"\n", 1)[0]
        if len(data) > MAX_EVENT_BYTES:
            line = data  # let the parser refuse it as oversize
        try:
            event = parse_wire(line, at=self._clock.now())
        except EventError as exc:
            self.rejected += 1
            log.warning("hook: refused a message: %s %s", exc, exc.details)
            return f"error: {exc}"
        return self._on_event(event)


def _answer(conn: socket.socket, reply: str) -> None:
    """One line back, without waiting on the client (a reply fits in the socket's buffer)."""
    with contextlib.suppress(OSError), conn:
        conn.send(reply.encode() + b"\n")


def _peer_uid(conn: socket.socket) -> int | None:
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def agent_listening(path: Path) -> bool:
    """Is an agent serving this hook socket (a stale socket file says no)?"""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def send_event(path: Path, event: Message, timeout: float = 2.0) -> str:
    """Deliver one event to the running agent; returns its reply. Raises HookError."""
    from agentapp.telephony.hookcli import DeliveryError, exchange

    try:
        return exchange(str(path), event.to_wire(), timeout)
    except DeliveryError as exc:
        raise HookError(str(exc)) from None


def agent_status(data_dir: Path) -> dict[str, object]:
    """The running agent's status, asked over its socket (from its memory, so a full disk or an
    unwritable status file cannot leave an old "recording"); else what it last wrote, said as
    such ("state": "stopped")."""
    import json
    import time

    from agentapp.core.events import ControlCommand, ControlKind

    try:
        reply = send_event(socket_path(data_dir), ControlCommand(ControlKind.STATUS, time.time()))
        status = json.loads(reply.removeprefix("ok: "))
        if isinstance(status, dict):
            return status
    except (HookError, ValueError):
        pass
    try:
        last = json.loads(layout.status_file(data_dir).read_text())
        said = f"{last.get('state')} — {last.get('detail')}"
    except (OSError, ValueError, AttributeError):
        said = "nothing"
    return {"state": "stopped", "detail": f"the agent is not running (it last said: {said})"}
