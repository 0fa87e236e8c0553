"""The hook socket, with real Unix sockets."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from pathlib import Path

import pytest

from agentapp.core.clock import SystemClock
from agentapp.core.events import CallEvent, EventKind
from agentapp.telephony.hook import HookError, HookServer, send_event
from tests.sockets import send_raw


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    got: list[CallEvent] = []

    def on_event(e: CallEvent) -> str:
        got.append(e)
        return "ok: noted"

    s = HookServer(tmp_path / "run" / "hook.sock", on_event, SystemClock())
    s.start()
    s.got = got  # type: ignore[attr-defined]
    yield s
    s.stop()


def test_event_delivered(server: HookServer) -> None:
    reply = send_event(server.path, CallEvent(EventKind.OFF_HOOK, "abc", 0.0))
    assert reply == "ok: noted"
    assert [e.call_id for e in server.got] == ["abc"]  # type: ignore[attr-defined]
    assert server.got[0].at > 1e9  # type: ignore[attr-defined]  # stamped on arrival


def test_socket_is_private(server: HookServer) -> None:
    assert stat.S_IMODE(os.stat(server.path).st_mode) & 0o077 == 0
    assert stat.S_IMODE(os.stat(server.path.parent).st_mode) == 0o700


@pytest.mark.parametrize(
    "payload",
    [b"\x00\xff\xfe\n", b"hello\n", b'{"v":1,"event":"off-hook"}\n', b"x" * 5000 + b"\n", b""],
)
def test_garbage_is_refused_and_server_survives(server: HookServer, payload: bytes) -> None:
    assert send_raw(server.path, payload).startswith("error:")
    assert server.rejected >= 1
    assert send_event(server.path, CallEvent(EventKind.ON_HOOK, "z", 0.0)) == "ok: noted"


def test_second_server_refused_single_instance(server: HookServer) -> None:
    other = HookServer(server.path, lambda e: "ok", SystemClock())
    with pytest.raises(HookError, match="already running"):
        other.start()


def test_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "run" / "hook.sock"
    path.parent.mkdir(mode=0o700)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()  # a crashed agent's leftover
    srv = HookServer(path, lambda e: "ok: fresh", SystemClock())
    srv.start()
    try:
        assert send_event(path, CallEvent(EventKind.OFF_HOOK, "a", 0.0)) == "ok: fresh"
    finally:
        srv.stop()


def test_client_says_when_agent_is_not_running(tmp_path: Path) -> None:
    with pytest.raises(HookError, match="not running"):
        send_event(tmp_path / "nope.sock", CallEvent(EventKind.OFF_HOOK, "a", 0.0))


def test_claimed_socket_answers_only_once_served(tmp_path: Path) -> None:
    """The agent claims the socket, starts the engine, then serves: an early hook waits."""
    import threading

    got: list[CallEvent] = []
    s = HookServer(tmp_path / "hook.sock", lambda e: got.append(e) or "ok: noted", SystemClock())
    s.claim()
    try:
        with pytest.raises(HookError, match="already running"):
            HookServer(s.path, lambda e: "ok", SystemClock()).claim()
        replies: list[str] = []
        t = threading.Thread(
            target=lambda: replies.append(send_event(s.path, CallEvent(EventKind.OFF_HOOK, "a", 0)))
        )
        t.start()
        t.join(0.3)
        assert got == [] and replies == []  # queued in the backlog, not handled
        s.serve()
        t.join(3)
        assert replies == ["ok: noted"] and [e.call_id for e in got] == ["a"]
    finally:
        s.stop()


# --------------------------------------------------------------------------- hostile clients


def _silent(path: Path) -> socket.socket:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(10)
    c.connect(str(path))
    return c


def test_slow_and_silent_clients_never_hold_up_an_on_hook(server: HookServer) -> None:
    """Three silent connections and one trickling a byte every 0.3 s (a process of the same
    user): an on-hook sent meanwhile is answered at once, not after their timeouts."""
    import threading
    import time

    silent = [_silent(server.path) for _ in range(3)]
    trickler = _silent(server.path)
    stop = threading.Event()

    def trickle() -> None:
        for b in b'{"event": "off-hook", "call_id": "slow"':
            if stop.wait(0.3):
                return
            with contextlib.suppress(OSError):
                trickler.send(bytes([b]))

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    reply = send_event(server.path, CallEvent(EventKind.ON_HOOK, "c1", 0.0))
    took = time.monotonic() - t0
    stop.set()
    t.join(5)
    assert reply == "ok: noted"
    assert took < 1.0, f"the on-hook waited {took:.2f} s behind other clients"
    for c in [*silent, trickler]:
        c.close()


def test_a_trickling_client_is_cut_at_the_whole_message_deadline(server: HookServer) -> None:
    import time

    from agentapp.telephony.hook import MESSAGE_DEADLINE_S

    c = _silent(server.path)
    t0 = time.monotonic()
    reply = b""
    with contextlib.suppress(OSError):
        for _ in range(20):  # a byte every 0.4 s: each read is quick, the message never ends
            c.send(b"{")
            time.sleep(0.4)
            c.settimeout(0.01)
            with contextlib.suppress(TimeoutError):
                reply = c.recv(4096)
            if reply:
                break
    took = time.monotonic() - t0
    c.close()
    assert reply.decode().strip() == "error: message incomplete"
    assert MESSAGE_DEADLINE_S <= took < MESSAGE_DEADLINE_S + 1.5
    assert server.got == []  # type: ignore[attr-defined]


def test_forty_parallel_clients_are_all_answered(server: HookServer) -> None:
    """40 clients at once, 25 events each: every one delivered and answered."""
    from concurrent.futures import ThreadPoolExecutor

    def client(n: int) -> list[str]:
        return [send_event(server.path, CallEvent(EventKind.OFF_HOOK, f"c{n}-{i}", 0.0),
                           timeout=10) for i in range(25)]  # fmt: skip

    with ThreadPoolExecutor(40) as pool:
        replies = [r for rs in pool.map(client, range(40)) for r in rs]
    assert replies == ["ok: noted"] * 1000
    assert len(server.got) == 1000  # type: ignore[attr-defined]


def test_too_many_connections_drop_the_one_idle_longest(server: HookServer) -> None:
    from agentapp.telephony.hook import MAX_CLIENTS

    first = _silent(server.path)
    import time

    time.sleep(0.05)
    others = [_silent(server.path) for _ in range(MAX_CLIENTS)]
    assert first.recv(4096).decode().strip() == "error: too many connections"
    assert send_event(server.path, CallEvent(EventKind.ON_HOOK, "c1", 0.0)) == "ok: noted"
    for c in [first, *others]:
        c.close()
