import pytest

from agentapp.core.events import (
    CallEvent,
    ControlCommand,
    ControlKind,
    EventError,
    EventKind,
    parse_wire,
)


def test_round_trip_keeps_the_client_time_when_plausible() -> None:
    e = CallEvent(EventKind.OFF_HOOK, "abc-1", 1000.0, internal=True)
    back = parse_wire(e.to_wire(), at=1000.2)
    assert isinstance(back, CallEvent)
    assert back.kind is EventKind.OFF_HOOK and back.call_id == "abc-1" and back.internal
    assert back.at == 1000.0  # when the softphone ran the hook, not when it arrived
    assert parse_wire(e.to_wire(), at=1010.0).at == 1010.0  # too old: arrival time
    assert parse_wire(e.to_wire(), at=999.0).at == 999.0  # in the future: arrival time


def test_commands() -> None:
    cmd = parse_wire(ControlCommand(ControlKind.CALLER_OBJECTS, 5.0).to_wire(), at=5.1)
    assert isinstance(cmd, ControlCommand) and cmd.kind is ControlKind.CALLER_OBJECTS
    with pytest.raises(EventError):
        parse_wire(b'{"v":1,"command":"format-disk"}', at=0.0)
    with pytest.raises(EventError):
        parse_wire(b'{"v":1,"command":"pause","call_id":"x"}', at=0.0)


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe garbage",
        b"not json",
        b"[1,2]",
        b'{"v":2,"event":"off-hook","call_id":"a"}',
        b'{"v":1,"event":"explode","call_id":"a"}',
        b'{"v":1,"event":"off-hook","call_id":""}',
        b'{"v":1,"event":"off-hook","call_id":"a b"}',
        b'{"v":1,"event":"off-hook","call_id":"' + b"x" * 200 + b'"}',
        b'{"v":1,"event":"off-hook","call_id":"a","internal":"yes"}',
        b'{"v":1,"event":"off-hook","call_id":"a","caller":"+33123456789"}',
        b"{" + b" " * 2000 + b"}",
        b'{"v":1,"event":"off-hook","call_id":"a","t":"yesterday"}',
    ],
)
def test_malformed_messages_are_refused(payload: bytes) -> None:
    with pytest.raises(EventError):
        parse_wire(payload, at=0.0)


def test_invocation_time_is_this_process_start() -> None:
    import subprocess
    import sys
    import time

    before = time.time()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(0.3); from agentapp.telephony.hookcli import "
            "invocation_time; print(invocation_time(), time.time())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    started, now = float(out[0]), float(out[1])
    assert before - 0.05 <= started <= before + 0.25  # the spawn, not the call
    assert now - started >= 0.3


def test_fast_hook_client_speaks_the_core_wire_format() -> None:
    from agentapp.telephony.hookcli import message

    raw, folder = message(["hook", "off-hook", "--call-id", "c-1", "--internal", "0612"], 100.0)
    assert raw == CallEvent(EventKind.OFF_HOOK, "c-1", 100.0, internal=True).to_wire()
    assert b"0612" not in raw and folder is None
    raw, folder = message(["control", "caller-objects", "--data-dir", "/d"], 5.0)
    assert raw == ControlCommand(ControlKind.CALLER_OBJECTS, 5.0).to_wire()
    assert folder == "/d"
    for bad in (
        ["hook", "off-hook"],
        ["hook", "dance", "--call-id", "x"],
        ["hook", "on-hook", "--call-id", "a b"],
        ["hook", "on-hook", "--call-id", "x", "--zz"],
        ["control", "explode"],
        ["control", "pause", "extra"],
    ):
        with pytest.raises(ValueError):
            message(bad, 0.0)


def test_fast_hook_client_accepts_exactly_the_core_call_ids() -> None:
    import string

    from agentapp.core.events import validate_call_id
    from agentapp.telephony.hookcli import _ID_CHARS

    for ch in string.printable + "éß€":
        try:
            validate_call_id(ch)
            core_ok = True
        except EventError:
            core_ok = False
        assert core_ok == (ch in _ID_CHARS), repr(ch)
