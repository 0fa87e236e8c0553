"""The hook socket, with real Unix sockets."""

from __future__ import annotations

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
