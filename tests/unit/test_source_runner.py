"""Event sources end to end on loopback: transcript servers for Asterisk AMI and FreeSWITCH ESL
(no Debian package of either), the real SourceRunner, the real engine with a fake window."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.agent.engine import Engine
from agentapp.core.clock import SystemClock
from agentapp.telephony.ami import AmiProtocol
from agentapp.telephony.base import SourceProtocol, SourceRunner
from agentapp.telephony.esl import EslProtocol
from agentapp.vault.audit import AuditLog
from agentapp.vault.keys import public_key_path, write_public_key
from tests.fakes import FakeGrabber, FakeLocator, MemoryAuditKeys
from tests.policies import CAPACITY, policy_text
from tests.transcripts import ScriptedServer, Step


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    (tmp_path / "policy.toml").write_text(
        policy_text("alice", quota=50, lookbehind_ms=0, extra=CAPACITY)
    )
    write_public_key(X25519PrivateKey.generate().public_key(), public_key_path(tmp_path))
    e = Engine(
        agent="alice",
        data_dir=tmp_path,
        policy_path=tmp_path / "policy.toml",
        locator_factory=FakeLocator,
        grabber_factory=FakeGrabber,
        rng=random.Random(1),
        audit=AuditLog.in_dir(tmp_path, MemoryAuditKeys()),
    )
    e.start()
    e.notices.acknowledge("en")
    yield e
    e.stop()


def run(
    engine: Engine,
    scripts: list[list[Step]],
    protocol: Callable[[], SourceProtocol],
    until: Callable[[], bool],
    timeout: float = 20,
) -> tuple[ScriptedServer, SourceRunner]:
    server = ScriptedServer(scripts)
    runner = SourceRunner("pbx", ("127.0.0.1", server.port), protocol, engine, SystemClock())
    engine.desk.expect_source("pbx")
    runner.start()
    deadline = time.monotonic() + timeout
    try:
        while not until():
            assert time.monotonic() < deadline, f"timed out; server failures: {server.failures}"
            time.sleep(0.05)
    finally:
        runner.stop()
        server.stop()
    return server, runner


def ami_block(**kv: str) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in kv.items()) + b"\r\n"


def ami_event(event: str, channel: str, uid: str, state: str = "Up") -> bytes:
    return ami_block(
        Event=event,
        Privilege="call,all",
        Channel=channel,
        ChannelState="6",
        ChannelStateDesc=state,
        CallerIDNum="1001",
        ConnectedLineNum="0612345678",
        Uniqueid=uid,
        Linkedid=uid,
    )


BANNER = b"Asterisk Call Manager/7.0.3\r\n"
LOGIN_OK = ami_block(
    Response="Success", ActionID="agentapp-login", Message="Authentication accepted"
)


def resync(*channels: tuple[str, str]) -> bytes:
    out = ami_block(
        Response="Success",
        ActionID="agentapp-resync",
        EventList="start",
        Message="Channels will follow",
    )
    for channel, uid in channels:
        out += ami_block(
            Event="CoreShowChannel",
            ActionID="agentapp-resync",
            Channel=channel,
            ChannelStateDesc="Up",
            Uniqueid=uid,
        )
    return out + ami_block(
        Event="CoreShowChannelsComplete",
        ActionID="agentapp-resync",
        EventList="Complete",
        ListItems=str(len(channels)),
    )


def ami_login_steps(*active: tuple[str, str]) -> list[Step]:
    return [
        ("send", BANNER),
        ("expect", b"Action: Login"),
        ("expect", b"Secret: s3cret"),
        ("send", LOGIN_OK),
        ("expect", b"Action: CoreShowChannels"),
        ("send", resync(*active)),
    ]


def recordings(engine: Engine) -> list[str]:
    return [m.end_reason for m in engine.vault.recordings() if m.status == "complete"]


def test_ami_calls_drop_and_resync(engine: Engine) -> None:
    first = [
        *ami_login_steps(),
        ("send", ami_event("Newstate", "PJSIP/1002-00000007", "1700000000.7")),  # not ours
        ("send", ami_event("Newstate", "PJSIP/1001-00000001", "1700000000.1")),
        ("sleep", 0.6),
        ("send", ami_event("Hangup", "PJSIP/1001-00000001", "1700000000.1")),
        ("sleep", 0.3),
        ("send", ami_event("Newstate", "PJSIP/1001-00000005", "1700000000.5")),
        ("sleep", 0.6),
        ("close",),  # the PBX connection drops in the middle of call .5
    ]
    second = [
        # .5 is still up on the PBX, but it was cut when the source was lost: never reopened.
        # .9 started while the agent was disconnected: picked up.
        *ami_login_steps(
            ("PJSIP/1001-00000005", "1700000000.5"), ("PJSIP/1001-00000009", "1700000000.9")
        ),
        ("sleep", 0.8),
        ("send", ami_event("Hangup", "PJSIP/1001-00000009", "1700000000.9")),
        ("hold",),
    ]
    seen: list[str] = []
    engine.add_status_listener(lambda s: seen.append(f"{s.state}: {s.detail}"))
    run(
        engine,
        [first, second],
        lambda: AmiProtocol("agentapp", "s3cret", "PJSIP/1001"),
        until=lambda: len(recordings(engine)) == 3 and engine.session.state.value == "idle",
    )
    reasons = recordings(engine)
    assert reasons[0] == "on-hook" and reasons[2] == "on-hook"
    assert reasons[1].startswith("event source lost (connection lost")
    assert any(s.startswith("cannot_record: event source pbx down") for s in seen)
    assert engine.status.state == "waiting"  # re-synced and connected again


def esl_msg(content_type: str, body: bytes = b"", **headers: str) -> bytes:
    head = f"Content-Type: {content_type}\n" + "".join(f"{k}: {v}\n" for k, v in headers.items())
    if body:
        head = f"Content-Length: {len(body)}\n" + head
    return head.encode() + b"\n" + body


def esl_event(name: str, uid: str, ext: str = "1001") -> bytes:
    body = (
        f"Event-Name: {name}\nCore-UUID: 1c2d\nUnique-ID: {uid}\n"
        f"Channel-Name: sofia/internal/{ext}%40127.0.0.1\n"
        f"Caller-Caller-ID-Number: 0612345678\nCaller-Destination-Number: {ext}\n\n"
    ).encode()
    return esl_msg("text/event-plain", body)


def esl_login(rows: bytes = b'{"row_count":0}') -> list[Step]:
    ok = esl_msg("command/reply", **{"Reply-Text": "+OK accepted"})
    return [
        ("send", esl_msg("auth/request")),
        ("expect", b"auth ClueCon\n\n"),
        ("send", ok),
        ("expect", b"event plain CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE\n\n"),
        ("send", esl_msg("command/reply", **{"Reply-Text": "+OK event listener enabled plain"})),
        ("expect", b"api show channels as json\n\n"),
        ("send", esl_msg("api/response", rows)),
    ]


def test_esl_calls_and_disconnect(engine: Engine) -> None:
    script = [
        *esl_login(),
        ("send", esl_event("CHANNEL_ANSWER", "aaaa-1002", ext="1002")),  # another agent
        ("send", esl_event("CHANNEL_ANSWER", "bbbb-1001")),
        ("sleep", 0.6),
        ("send", esl_event("CHANNEL_HANGUP_COMPLETE", "bbbb-1001")),
        ("sleep", 0.3),
        ("send", esl_event("CHANNEL_ANSWER", "cccc-1001")),
        ("sleep", 0.5),
        ("close",),
    ]
    run(
        engine,
        [script, [*esl_login(), ("hold",)]],
        lambda: EslProtocol("ClueCon", "1001"),
        until=lambda: len(recordings(engine)) == 2 and engine.session.state.value == "idle",
    )
    first, second = recordings(engine)
    assert first == "on-hook" and second.startswith("event source lost")


def test_esl_wrong_password_is_reported_and_retried(engine: Engine) -> None:
    refused = [
        ("send", esl_msg("auth/request")),
        ("expect", b"auth "),
        ("send", esl_msg("command/reply", **{"Reply-Text": "-ERR invalid"})),
    ]
    run(
        engine,
        [refused, refused, refused],
        lambda: EslProtocol("wrong", "1001"),
        until=lambda: "refused" in engine.status.detail,
    )
    assert engine.status.state == "cannot_record"
    assert "'auth' refused" in engine.status.detail


@pytest.mark.parametrize(
    "garbage",
    [
        b"Asterisk Call Manager/7.0.3\r\n\xff\xfe\x00garbage",  # then silence: never logs in
        b"HTTP/1.1 400 Bad Request\r\n\r\n",  # not a manager interface
    ],
)
def test_ami_bad_peer_never_opens_a_recording(engine: Engine, garbage: bytes) -> None:
    script: list[Step] = [("send", garbage), ("hold",)]
    run(
        engine,
        [script],
        lambda: AmiProtocol("agentapp", "s3cret", "PJSIP/1001"),
        until=lambda: "down" in engine.status.detail,
        timeout=15,
    )
    assert engine.vault.recordings() == [] and engine.session.state.value == "idle"


def test_ami_flood_of_other_events_then_a_call(engine: Engine) -> None:
    noise = b"".join(ami_event("Newstate", f"PJSIP/2{i:03d}-0000", f"9.{i}") for i in range(3000))
    script = [
        *ami_login_steps(),
        ("send", noise),
        ("send", ami_block(Event="UnknownThing", Foo="bar")),
        ("send", ami_event("Newstate", "PJSIP/1001-00000001", "1.1")),
        ("sleep", 0.5),
        ("send", ami_event("Hangup", "PJSIP/1001-00000001", "1.1")),
        ("hold",),
    ]
    run(
        engine,
        [script],
        lambda: AmiProtocol("agentapp", "s3cret", "PJSIP/1001"),
        until=lambda: len(recordings(engine)) == 1,
    )
    assert recordings(engine) == ["on-hook"]


def test_oversize_frame_closes_the_connection_and_recovers(engine: Engine) -> None:
    big = [*ami_login_steps(), ("send", b"Event: X\r\n" + b"A" * 70000), ("hold",)]
    good = [
        *ami_login_steps(),
        ("send", ami_event("Newstate", "PJSIP/1001-1", "2.2")),
        ("sleep", 0.4),
        ("send", ami_event("Hangup", "PJSIP/1001-1", "2.2")),
        ("hold",),
    ]
    server, runner = run(
        engine,
        [big, good],
        lambda: AmiProtocol("agentapp", "s3cret", "PJSIP/1001"),
        until=lambda: len(recordings(engine)) == 1,
    )
    assert server.connections == 2 and runner.connections == 2


def test_a_call_with_a_colleague_is_internal_without_any_setting(engine: Engine) -> None:
    """Seen: internal calls were off by default only when classified internal, which needed
    internal_numbers or a softphone passing --internal. Now a call whose other party is the
    extension of an enrolled agent (from their enrolment, or the source's per-agent settings)
    is internal: not recorded by default. A customer's call on the same line is."""
    from agentapp.core.config import parse_config
    from agentapp.core.internal import InternalPeers

    text = (engine.policy_path).read_text() + (
        '\n[[enrolment]]\nagent = "bob"\ntraining = "Billing"\nweekly_quota = 5\n'
        f"start = {dt.date.today().isoformat()}\nend = {dt.date.today().isoformat()}\n"
        'extension = "1007"\n'
    )
    engine.policy_path.write_text(text)
    cfg = parse_config('[source]\nkind = "ami"\nendpoint = "PJSIP/{user}"\nusername = "x"\n')
    source = cfg.for_agent("alice").source
    assert source.number_of("carol") == "carol" and source.endpoint == "PJSIP/alice"
    peers = InternalPeers(source.internal_numbers, source.number_of)
    engine.on_policy(peers.update)
    assert peers.search("1007") and peers.search("alice") and not peers.search("0612345678")

    def call_with(peer: str, uid: str) -> list[Step]:
        up = ami_event("Newstate", "PJSIP/1001-00000001", uid).replace(
            b"ConnectedLineNum: 0612345678", f"ConnectedLineNum: {peer}".encode()
        )
        down = ami_event("Hangup", "PJSIP/1001-00000001", uid)
        return [("send", up), ("sleep", 0.6), ("send", down), ("sleep", 0.3)]

    script = [*ami_login_steps(), *call_with("1007", "1.1"), *call_with("0612345678", "1.2"),
              ("hold",)]  # fmt: skip
    run(engine, [script], lambda: AmiProtocol("agentapp", "s3cret", "PJSIP/1001", peers),
        until=lambda: len(recordings(engine)) == 1 and engine.session.state.value == "idle",
    )  # fmt: skip
    assert len(engine.vault.recordings()) == 1  # the colleague's call: internal, not recorded
