"""A loopback TCP server that plays protocol transcripts: one script per connection.

Steps: ("send", bytes) · ("expect", bytes) wait until the client has sent that (5 s at most) ·
("sleep", seconds) · ("close",) · ("hold",) keep the connection open until the test ends.
Bounded everywhere; `stop()` ends the thread. Loopback only.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

Step = tuple[Any, ...]


class ScriptedServer:
    def __init__(self, scripts: list[list[Step]]) -> None:
        self.scripts = scripts
        self.received: list[bytes] = []
        self.connections = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            script = self.scripts[min(self.connections, len(self.scripts) - 1)]
            self.connections += 1
            with conn:
                try:
                    self._play(conn, script)
                except (OSError, TimeoutError) as exc:
                    self.failures.append(repr(exc))

    def _play(self, conn: socket.socket, script: list[Step]) -> None:
        buf = b""
        for step in script:
            if self._stop.is_set():
                return
            if step[0] == "send":
                conn.sendall(step[1])
            elif step[0] == "sleep":
                self._stop.wait(step[1])
            elif step[0] == "close":
                return
            elif step[0] == "expect":
                deadline = time.monotonic() + 5
                while step[1] not in buf:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"client never sent {step[1]!r}")
                    conn.settimeout(0.2)
                    try:
                        data = conn.recv(65536)
                    except TimeoutError:
                        continue
                    if not data:
                        return
                    buf += data
                    self.received.append(data)
                buf = buf[buf.index(step[1]) + len(step[1]) :]
            elif step[0] == "hold":
                conn.settimeout(0.2)
                while not self._stop.is_set():
                    try:
                        if not conn.recv(65536):
                            return
                    except TimeoutError:
                        continue
