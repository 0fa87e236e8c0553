"""What every socket event source shares: connect, handshake and re-sync, read, reconnect.

A protocol (baresip ctrl_tcp, Asterisk AMI, FreeSWITCH ESL) only frames bytes, logs in, lists
the calls in progress and interprets event frames. `SourceRunner` does the rest: its own
thread, bounded time-outs on every wait, reconnection with back-off, and telling the sink when
the source goes down (the engine then stops recording: no event source, no recording) and
when it is back with the calls in progress (re-sync).

Threading: SourceRunner owns one thread and one socket. It calls the sink on that thread; the
sink (the engine) must be thread-safe.
"""

from __future__ import annotations

import abc
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

from agentapp.core.clock import Clock
from agentapp.core.events import CallEvent, CallFact

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024
CONNECT_TIMEOUT_S = 3.0
HANDSHAKE_TIMEOUT_S = 5.0
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0, 10.0)
_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only; re-armed per read


class PeerMatcher(Protocol):
    """Tells whether the other party's number makes a call internal (core/internal.py, or a
    compiled internal_numbers pattern)."""

    def search(self, number: str) -> object: ...


class ProtocolError(ValueError):
    """The peer broke the protocol: the connection is closed and opened again."""


class SourceSink(Protocol):
    def handle_event(self, event: CallEvent) -> str: ...

    def source_up(self, source: str, active: list[CallFact], at: float) -> None: ...

    def source_down(self, source: str, reason: str, at: float) -> None: ...


class Connection:
    """A socket with a receive buffer and deadlines; frames come from the protocol's decoder."""

    def __init__(self, sock: socket.socket, decode: Callable[[bytes], list[bytes]]) -> None:
        self.sock = sock
        self._decode = decode
        self._frames: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_frame(self, timeout: float) -> bytes:
        """The next complete frame; raises TimeoutError or ConnectionError (peer closed)."""
        deadline = time.monotonic() + timeout
        while not self._frames:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer in time")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed by the peer")
            if _QUICKACK is not None:
                # Acknowledge at once: a PBX whose socket uses Nagle holds its next small event
                # until our ACK, which Linux otherwise delays up to 40 ms (measured in bench/).
                self.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            self._frames.extend(self._decode(data))
        return self._frames.pop(0)


class SourceProtocol(abc.ABC):
    """One wire protocol. Instances are per connection (decoders keep state)."""

    name: str

    @abc.abstractmethod
    def decode(self, data: bytes) -> list[bytes]:
        """Feed received bytes; return the complete frames. Raises ProtocolError."""

    @abc.abstractmethod
    def handshake(self, conn: Connection) -> tuple[list[CallFact], list[bytes]]:
        """Log in and list the agent's calls in progress. Returns them and any event frames
        that arrived meanwhile (to interpret after the re-sync). Bounded by time-outs."""

    @abc.abstractmethod
    def interpret(self, frame: bytes) -> list[CallFact]:
        """Call facts in one frame; [] for frames that are not about this agent's calls."""


class SourceRunner:
    def __init__(
        self,
        describe: str,
        address: tuple[str, int],
        protocol_factory: Callable[[], SourceProtocol],
        sink: SourceSink,
        clock: Clock,
    ) -> None:
        self.describe = describe
        self.address = address
        self._factory = protocol_factory
        self._sink = sink
        self._clock = clock
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name=f"source-{describe}", daemon=True)
        self.connected = threading.Event()
        self.connections = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.drop()
        self._thread.join(timeout=5)

    def drop(self) -> None:
        """Close the current connection (tests, shutdown); the runner reconnects."""
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            reason = self._session()
            self.connected.clear()
            if self._stop.is_set():
                return
            self._sink.source_down(self.describe, reason, self._clock.now())
            delay = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
            failures = 0 if reason.startswith("connection lost") else failures + 1
            log.warning("event source %s: %s; retrying in %.1f s", self.describe, reason, delay)
            self._stop.wait(delay)

    def _session(self) -> str:
        """One connection, from connect to loss. Returns why it ended."""
        try:
            sock = socket.create_connection(self.address, timeout=CONNECT_TIMEOUT_S)
        except OSError as exc:
            return f"unreachable ({exc.strerror or exc})"
        self._sock = sock
        protocol = self._factory()
        conn = Connection(sock, protocol.decode)
        try:
            try:
                active, early = protocol.handshake(conn)
            except TimeoutError:
                return "no answer to login or re-sync in time"
            except ProtocolError as exc:
                return f"refused or garbled handshake ({exc})"
            self.connections += 1
            self._sink.source_up(self.describe, active, self._clock.now())
            self.connected.set()
            log.warning("event source %s connected; %d call(s) in progress", self.describe,
                        len(active))  # fmt: skip
            for frame in early:
                self._deliver(protocol, frame)
            while not self._stop.is_set():
                try:
                    frame = conn.next_frame(timeout=1.0)
                except TimeoutError:
                    continue
                self._deliver(protocol, frame)
            return "stopped"
        except ProtocolError as exc:
            return f"connection lost: protocol error ({exc})"
        except (ConnectionError, OSError) as exc:
            return f"connection lost ({exc})"
        finally:
            self._sock = None
            sock.close()

    def _deliver(self, protocol: SourceProtocol, frame: bytes) -> None:
        for fact in protocol.interpret(frame):
            event = CallEvent(fact.kind, fact.call_id, self._clock.now(), fact.internal,
                              source=self.describe)  # fmt: skip
            self._sink.handle_event(event)
