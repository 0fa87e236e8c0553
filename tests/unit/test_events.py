import pytest

from agentapp.core.events import CallEvent, EventError, EventKind, parse_wire


def test_round_trip() -> None:
    e = CallEvent(EventKind.OFF_HOOK, "abc-1", 0.0, internal=True)
    back = parse_wire(e.to_wire(), at=5.0)
    assert back.kind is EventKind.OFF_HOOK and back.call_id == "abc-1" and back.internal
    assert back.at == 5.0


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
    ],
)
def test_malformed_messages_are_refused(payload: bytes) -> None:
    with pytest.raises(EventError):
        parse_wire(payload, at=0.0)
