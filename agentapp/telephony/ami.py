"""Asterisk Manager Interface (TCP, `Key: Value` blocks ended by an empty line).

The agent's channel is the configured endpoint (e.g. `PJSIP/1001`): a channel named
`PJSIP/1001-0000002a` going `Up` (Newstate) or entering a bridge is off-hook, its `Hangup` is
on-hook, keyed by the channel's Uniqueid. After (re)connecting, `CoreShowChannels` lists the
calls in progress. The secret comes from the OS key store, never from a file.
"""

from __future__ import annotations

from agentapp.core.events import CallFact, EventKind
from agentapp.telephony.base import (
    MAX_FRAME,
    Connection,
    PeerMatcher,
    ProtocolError,
    SourceProtocol,
)

Block = dict[str, str]


class BlockDecoder:
    """Frames = the banner line, then blocks of CRLF lines ended by an empty line."""

    def __init__(self, banner: bool = True, limit: int = MAX_FRAME) -> None:
        self._buf = b""
        self._banner = banner
        self._limit = limit

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        if self._banner:
            nl = self._buf.find(b"\r\n")
            if nl < 0:
                if len(self._buf) > 256:
                    raise ProtocolError("no banner line")
                return out
            out.append(self._buf[:nl])
            self._buf = self._buf[nl + 2 :]
            self._banner = False
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > self._limit:
                    raise ProtocolError("block over the size limit")
                return out
            if end > self._limit:
                raise ProtocolError("block over the size limit")
            out.append(self._buf[:end])
            self._buf = self._buf[end + 4 :]


def parse_block(frame: bytes) -> Block:
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("block is not UTF-8") from None
    block: Block = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip():
            block[key.strip().lower()] = value.strip()
    return block


def action(name: str, action_id: str, **fields: str) -> bytes:
    lines = [f"Action: {name}", f"ActionID: {action_id}"]
    for key, value in fields.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"{key} must be one line")
        lines.append(f"{key}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class AmiProtocol(SourceProtocol):
    name = "ami"

    def __init__(
        self, username: str, secret: str, endpoint: str, internal: PeerMatcher | None = None
    ) -> None:
        self.username, self.secret, self.endpoint = username, secret, endpoint
        self.internal = internal
        self._decoder = BlockDecoder()

    def decode(self, data: bytes) -> list[bytes]:
        return self._decoder.feed(data)

    def _ours(self, channel: str) -> bool:
        return channel.lower().startswith(self.endpoint.lower() + "-")

    def _is_internal(self, b: Block) -> bool:
        return bool(self.internal and self.internal.search(b.get("connectedlinenum", "")))

    def handshake(self, conn: Connection) -> tuple[list[CallFact], list[bytes]]:
        banner = conn.next_frame(timeout=5.0)
        if not banner.startswith(b"Asterisk Call Manager"):
            raise ProtocolError("not an Asterisk manager interface")
        conn.send(action("Login", "agentapp-login", Username=self.username, Secret=self.secret,
                         Events="call"))  # fmt: skip
        early: list[bytes] = []
        while True:
            frame = conn.next_frame(timeout=5.0)
            b = parse_block(frame)
            if b.get("actionid") == "agentapp-login":
                if b.get("response", "").lower() != "success":
                    raise ProtocolError(f"login refused: {b.get('message', 'no reason')}")
                break
        conn.send(action("CoreShowChannels", "agentapp-resync"))
        active: list[CallFact] = []
        while True:
            frame = conn.next_frame(timeout=5.0)
            b = parse_block(frame)
            if b.get("actionid") != "agentapp-resync":
                early.append(frame)
                continue
            event = b.get("event", "").lower()
            if event == "coreshowchannel" and self._ours(b.get("channel", "")):
                if b.get("channelstatedesc", "").lower() == "up" and b.get("uniqueid"):
                    active.append(CallFact(EventKind.OFF_HOOK, b["uniqueid"][:128],
                                           self._is_internal(b)))  # fmt: skip
            elif event == "coreshowchannelscomplete":
                return active, early
            elif b.get("response", "").lower() == "error":
                raise ProtocolError(f"CoreShowChannels refused: {b.get('message', '')}")

    def interpret(self, frame: bytes) -> list[CallFact]:
        try:
            b = parse_block(frame)
        except ProtocolError:
            return []
        event = b.get("event", "").lower()
        uid = b.get("uniqueid", "")[:128]
        if not uid or not self._ours(b.get("channel", "")):
            return []
        if (event == "newstate" and b.get("channelstatedesc", "").lower() == "up") or (
            event == "bridgeenter"
        ):
            return [CallFact(EventKind.OFF_HOOK, uid, self._is_internal(b))]
        if event == "hangup":
            return [CallFact(EventKind.ON_HOOK, uid)]
        return []
