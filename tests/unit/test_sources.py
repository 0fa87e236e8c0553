"""The three wire protocols, frame by frame, and their fuzzing (hypothesis)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentapp.core.config import ConfigError, parse_config
from agentapp.core.events import EventKind
from agentapp.telephony.ami import AmiProtocol, BlockDecoder
from agentapp.telephony.baresip import BaresipProtocol, NetstringDecoder, netstring
from agentapp.telephony.base import ProtocolError
from agentapp.telephony.esl import EslProtocol, MessageDecoder

AOR = "sip:agent@127.0.0.1:5060"


def bs_event(kind: str, cid: str = "e21b", aor: str = AOR, cls: str = "call") -> bytes:
    return json.dumps({"event": True, "type": kind, "class": cls, "accountaor": aor,
                       "direction": "incoming", "peeruri": "sip:1002@127.0.0.1",
                       "id": cid}).encode()  # fmt: skip


def test_netstrings_split_and_join_across_reads() -> None:
    d = NetstringDecoder()
    data = netstring(b"hello") + netstring(b"") + netstring(b'{"a":1}')
    frames = [f for i in range(len(data)) for f in d.feed(data[i : i + 1])]
    assert frames == [b"hello", b"", b'{"a":1}']


@pytest.mark.parametrize("bad", [b"x:abc,", b"5:hello;", b"99999999:", b"012:", b"-1:a,"])
def test_bad_netstrings_are_protocol_errors(bad: bytes) -> None:
    with pytest.raises(ProtocolError):
        NetstringDecoder().feed(bad)


def test_baresip_events() -> None:
    p = BaresipProtocol(AOR, re.compile(r"^\d{4}$"))
    (f,) = p.interpret(bs_event("CALL_ESTABLISHED"))
    assert (f.kind, f.call_id, f.internal) == (EventKind.OFF_HOOK, "e21b", True)
    assert p.interpret(bs_event("CALL_CLOSED"))[0].kind is EventKind.ON_HOOK
    assert p.interpret(bs_event("CALL_ESTABLISHED", aor="sip:other@127.0.0.1")) == []
    assert p.interpret(bs_event("CALL_RTCP")) == []
    assert p.interpret(bs_event("CALL_LOCAL_SDP", cls="other")) == []
    assert p.interpret(b"\xff\xfe not json") == []
    assert p.interpret(b"[1,2]") == []


AMI_UP = (b"Event: Newstate\r\nChannel: PJSIP/1001-00000001\r\nChannelState: 6\r\n"
          b"ChannelStateDesc: Up\r\nUniqueid: 1700000000.1\r\nConnectedLineNum: 1002")  # fmt: skip


def test_ami_blocks_and_events() -> None:
    d = BlockDecoder()
    frames = d.feed(b"Asterisk Call Manager/7.0.3\r\n" + AMI_UP + b"\r\n\r\n")
    assert frames[0].startswith(b"Asterisk") and frames[1] == AMI_UP
    p = AmiProtocol("u", "s", "PJSIP/1001", re.compile(r"^\d{4}$"))
    (f,) = p.interpret(AMI_UP)
    assert (f.kind, f.call_id, f.internal) == (EventKind.OFF_HOOK, "1700000000.1", True)
    hang = b"Event: Hangup\r\nChannel: PJSIP/1001-00000001\r\nUniqueid: 1700000000.1"
    assert p.interpret(hang)[0].kind is EventKind.ON_HOOK
    assert p.interpret(AMI_UP.replace(b"1001-", b"10011-")) == []  # another endpoint
    assert p.interpret(AMI_UP.replace(b"Up", b"Ringing")) == []


ESL_BODY = (b"Event-Name: CHANNEL_ANSWER\nUnique-ID: 4f1c-uuid\n"
            b"Channel-Name: sofia/internal/1001%40127.0.0.1\nCaller-Caller-ID-Number: 0612345678\n"
            b"Caller-Destination-Number: 1001\n")  # fmt: skip


def esl_event(body: bytes) -> bytes:
    return (b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body)) + body


def test_esl_messages_and_events() -> None:
    d = MessageDecoder()
    msg = esl_event(ESL_BODY)
    frames = [f for i in range(0, len(msg), 7) for f in d.feed(msg[i : i + 7])]
    assert frames == [msg]
    p = EslProtocol("pw", "1001", re.compile(r"^\d{4}$"))
    (f,) = p.interpret(msg)
    assert (f.kind, f.call_id, f.internal) == (EventKind.OFF_HOOK, "4f1c-uuid", False)
    hang = ESL_BODY.replace(b"CHANNEL_ANSWER", b"CHANNEL_HANGUP_COMPLETE")
    assert p.interpret(esl_event(hang))[0].kind is EventKind.ON_HOOK
    assert p.interpret(esl_event(ESL_BODY.replace(b"/1001%40", b"/1002%40"))) == []
    with pytest.raises(ProtocolError):
        MessageDecoder().feed(b"Content-Length: 999999999\n\n")
    with pytest.raises(ProtocolError):
        MessageDecoder().feed(b"Content-Length: many\n\n")


def test_agent_config() -> None:
    cfg = parse_config('agent = "alice"\n[source]\nkind = "ami"\nendpoint = "PJSIP/1001"\n'
                       'username = "agentapp"\n')  # fmt: skip
    assert cfg.agent == "alice" and cfg.source.port == 5038
    assert cfg.source.secret_entry == "source-secret:ami:agentapp@127.0.0.1:5038"
    assert parse_config("").source.kind == "hook"
    esl = '[source]\nkind = "esl"\nextension = "1"\n'
    cases = [
        ('[source]\nkind = "sip"', "kind must be"),
        ('[source]\nkind = "baresip"', "needs 'account'"),
        (esl + "port = 0", "'port'"),
        (esl + 'secret = "x"', "unknown key"),  # secrets belong in the key store
    ]
    for bad, why in cases:
        with pytest.raises(ConfigError, match=why):
            parse_config(bad)


def test_hub_config() -> None:
    """[hub]: where the hub is and this desk's login; no password (the key store has it)."""
    hub = '[hub]\nurl = "postgresql://hub.example:5432/agentapp"\nuser = "desk-1"\n'
    cfg = parse_config(hub + 'ca = "/etc/agentapp/hub-ca.pem"\n').hub
    assert cfg is not None and cfg.user == "desk-1" and cfg.ship_seconds == 10
    assert cfg.secret_entry == "hub-password:desk-1@postgresql://hub.example:5432/agentapp"
    assert parse_config("").hub is None
    for bad, why in [
        (hub, "'ca'"),
        (hub + 'ca = "hub-ca.pem"', "absolute path"),
        (hub.replace("postgresql:", "http:") + 'ca = "/ca.pem"', "postgresql://"),
        (hub + 'ca = "/ca.pem"\nship_seconds = 0', "'ship_seconds'"),
        (hub + 'ca = "/ca.pem"\npassword = "x"', "unknown key"),
    ]:
        with pytest.raises(ConfigError, match=why):
            parse_config(bad)


# ---------------------------------------------------------------- fuzzing: thousands of inputs

FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
chunks = st.lists(st.binary(max_size=300), max_size=8)


def _feed(decoder: object, parts: list[bytes]) -> list[bytes]:
    frames: list[bytes] = []
    try:
        for part in parts:
            frames += decoder.feed(part)  # type: ignore[attr-defined]
    except ProtocolError:
        pass  # the only error a decoder may raise: the runner then reconnects
    return frames


@FUZZ
@given(chunks)
def test_fuzz_baresip(parts: list[bytes]) -> None:
    p = BaresipProtocol(AOR)
    for frame in _feed(NetstringDecoder(), parts) + parts:
        assert all(f.call_id for f in p.interpret(frame))


@FUZZ
@given(chunks)
def test_fuzz_ami(parts: list[bytes]) -> None:
    p = AmiProtocol("u", "s", "PJSIP/1001")
    for frame in _feed(BlockDecoder(), parts) + parts + [AMI_UP + parts[0] if parts else AMI_UP]:
        for f in p.interpret(frame):
            assert f.call_id and len(f.call_id) <= 128


@FUZZ
@given(chunks)
def test_fuzz_esl(parts: list[bytes]) -> None:
    p = EslProtocol("pw", "1001")
    for frame in [*_feed(MessageDecoder(), parts), esl_event(ESL_BODY + b"".join(parts))]:
        for f in p.interpret(frame):
            assert f.call_id and len(f.call_id) <= 128


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_hook_wire(data: bytes) -> None:
    from agentapp.core.events import EventError, parse_wire

    try:
        parse_wire(data, at=1000.0)
    except EventError:
        pass
