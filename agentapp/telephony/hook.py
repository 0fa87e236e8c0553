"""The local call hook: `agentapp hook off-hook|on-hook` → the running agent.

Softphones with command hooks (MicroSIP's cmdCallStart / cmdCallEnd, …) run the hook command;
it sends one JSON line over a Unix socket that only this user can open (folder 0700, socket
0600, and the peer's uid is checked with SO_PEERCRED). The agent answers one line: `ok …` or
`error: …`. Garbage, oversize or slow messages are refused and logged; the server goes on.

Threading: HookServer runs its accept loop on its own daemon thread and calls `on_event` on
that thread; `on_event` must be quick and thread-safe (the engine queues the event).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path

from agentapp.core.clock import Clock
from agentapp.core.events import MAX_EVENT_BYTES, EventError, Message, parse_wire

log = logging.getLogger(__name__)
_READ_TIMEOUT = 2.0


class HookError(RuntimeError):
    pass


def socket_path(data_dir: Path) -> Path:
    return data_dir / "run" / "hook.sock"


class HookServer:
    def __init__(self, path: Path, on_event: Callable[[Message], str], clock: Clock) -> None:
        self.path = path
        self._on_event = on_event
        self._clock = clock
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
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
                raise HookError(f"another agentapp is already running for this user ({self.path})")
            self.path.unlink()
        if len(str(self.path).encode()) > 100:
            raise HookError(f"socket path too long for this OS: {self.path}")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        sock.listen(16)
        sock.settimeout(0.5)
        self._sock = sock

    def serve(self) -> None:
        """Answer clients on the hook-server thread."""
        if self._sock is None:
            raise HookError("hook socket not claimed")
        self._thread = threading.Thread(target=self._serve, name="hook-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        if self._sock is not None:
            self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                raise
            with conn:
                try:
                    reply = self._handle(conn)
                except Exception:  # one bad client must not stop the server
                    log.exception("hook: unexpected error while handling a message")
                    reply = "error: internal error"
                with contextlib.suppress(OSError):
                    conn.sendall(reply.encode() + b"\n")

    def _handle(self, conn: socket.socket) -> str:
        uid = _peer_uid(conn)
        if uid is not None and uid != os.getuid():
            self.rejected += 1
            log.warning("hook: refused a connection from uid %s", uid)
            return "error: not your agent"
        conn.settimeout(_READ_TIMEOUT)
        data = b""
        try:
            while b"\n" not in data and len(data) <= MAX_EVENT_BYTES:
                chunk = conn.recv(MAX_EVENT_BYTES + 1 - len(data) + 1)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            self.rejected += 1
            log.warning("hook: refused a message: incomplete after %.0f s", _READ_TIMEOUT)
            return "error: message incomplete"
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
    from agentapp.hookcli import DeliveryError, exchange

    try:
        return exchange(str(path), event.to_wire(), timeout)
    except DeliveryError as exc:
        raise HookError(str(exc)) from None
