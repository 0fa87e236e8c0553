"""FreeSWITCH event socket (inbound mode): `auth`, `event plain CHANNEL_ANSWER
CHANNEL_HANGUP_COMPLETE`, and `api show channels as json` to re-sync.

A message is a block of `Key: Value` lines ended by an empty line, followed by
`Content-Length` bytes of body when that header is present. Event bodies are themselves
header blocks with URL-encoded values. The agent's leg is the channel whose name holds
`/<extension>@` (e.g. `sofia/internal/1001@10.0.0.5`); it is keyed by its Unique-ID.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from agentapp.core.events import CallFact, EventKind
from agentapp.telephony.base import (
    MAX_FRAME,
    Connection,
    PeerMatcher,
    ProtocolError,
    SourceProtocol,
)


class MessageDecoder:
    """Frames = header block + body (Content-Length), as one bytes object `headers\\n\\nbody`."""

    def __init__(self, limit: int = MAX_FRAME) -> None:
        self._buf = b""
        self._limit = limit

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            end = self._buf.find(b"\n\n")
            if end < 0:
                if len(self._buf) > self._limit:
                    raise ProtocolError("headers over the size limit")
                return out
            headers = parse_headers(self._buf[:end])
            length_text = headers.get("content-length", "0")
            if not length_text.isdigit():
                raise ProtocolError("bad Content-Length")
            length = int(length_text)
            if length > self._limit:
                raise ProtocolError(f"body of {length} bytes is over the limit")
            total = end + 2 + length
            if len(self._buf) < total:
                return out
            out.append(self._buf[:total])
            self._buf = self._buf[total:]


def parse_headers(block: bytes, url_encoded: bool = False) -> dict[str, str]:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("headers are not UTF-8") from None
    out = {}
    for line in text.split("\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip():
            value = value.strip()
            out[key.strip().lower()] = unquote(value) if url_encoded else value
    return out


def split(frame: bytes) -> tuple[dict[str, str], bytes]:
    end = frame.find(b"\n\n")
    return parse_headers(frame[:end]), frame[end + 2 :]


class EslProtocol(SourceProtocol):
    name = "esl"

    def __init__(self, password: str, extension: str, internal: PeerMatcher | None = None) -> None:
        self.password, self.extension, self.internal = password, extension, internal
        self._decoder = MessageDecoder()

    def decode(self, data: bytes) -> list[bytes]:
        return self._decoder.feed(data)

    def _ours(self, channel_name: str) -> bool:
        return f"/{self.extension}@" in channel_name

    def _reply(
        self, conn: Connection, want: str, early: list[bytes]
    ) -> tuple[dict[str, str], bytes]:
        while True:
            frame = conn.next_frame(timeout=5.0)
            headers, body = split(frame)
            if headers.get("content-type") == want:
                return headers, body
            early.append(frame)

    def handshake(self, conn: Connection) -> tuple[list[CallFact], list[bytes]]:
        early: list[bytes] = []
        headers, _x = split(conn.next_frame(timeout=5.0))
        if headers.get("content-type") != "auth/request":
            raise ProtocolError("not a FreeSWITCH event socket")
        for command in (
            f"auth {self.password}",
            "event plain CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE",
        ):
            if "\n" in command:
                raise ProtocolError("bad command")
            conn.send(command.encode() + b"\n\n")
            reply, _x = self._reply(conn, "command/reply", early)
            if not reply.get("reply-text", "").startswith("+OK"):
                raise ProtocolError(
                    f"'{command.split()[0]}' refused: {reply.get('reply-text', '')}"
                )
        conn.send(b"api show channels as json\n\n")
        _headers, body = self._reply(conn, "api/response", early)
        try:
            rows = json.loads(body.decode("utf-8") or "{}").get("rows") or []
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            raise ProtocolError("unreadable 'show channels' answer") from None
        active = []
        for r in rows:
            if not isinstance(r, dict) or not r.get("uuid"):
                continue
            if self._ours(str(r.get("name", ""))) and str(r.get("callstate", "")) == "ACTIVE":
                internal = self._is_internal(str(r.get("cid_num", "")))
                active.append(CallFact(EventKind.OFF_HOOK, str(r["uuid"])[:128], internal))
        return active, early

    def _is_internal(self, number: str) -> bool:
        return bool(self.internal and self.internal.search(number))

    def interpret(self, frame: bytes) -> list[CallFact]:
        try:
            headers, body = split(frame)
            if headers.get("content-type") != "text/event-plain":
                return []
            ev = parse_headers(body.rstrip(b"\n"), url_encoded=True)
        except ProtocolError:
            return []
        uid = ev.get("unique-id", "")[:128]
        if not uid or not self._ours(ev.get("channel-name", "")):
            return []
        name = ev.get("event-name", "")
        if name == "CHANNEL_ANSWER":
            peer = ev.get("caller-caller-id-number", "")
            if peer == self.extension:
                peer = ev.get("caller-destination-number", "")
            return [CallFact(EventKind.OFF_HOOK, uid, self._is_internal(peer))]
        if name == "CHANNEL_HANGUP_COMPLETE":
            return [CallFact(EventKind.ON_HOOK, uid)]
        return []
