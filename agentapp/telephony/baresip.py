"""baresip's ctrl_tcp module: netstrings carrying JSON (measured facts in docs/design.md).

CALL_ESTABLISHED is off-hook, CALL_CLOSED on-hook, keyed by baresip's call `id`; only calls
of the configured account (`accountaor`) count. baresip serves one control client at a time
and its `listcalls` shows no call id, so the re-sync asks `listcalls` for the count and, when
there is a call, `callstat` for the current call's id and account. Only these two commands
are ever sent: baresip 1.0 crashes on some unknown ones.
"""

from __future__ import annotations

import json
import re

from agentapp.core.events import CallFact, EventKind
from agentapp.telephony.base import (
    MAX_FRAME,
    Connection,
    PeerMatcher,
    ProtocolError,
    SourceProtocol,
)

_COUNT = re.compile(r"Active calls \((\d+)\)")
_CALL_ID = re.compile(r"\bid=([0-9A-Za-z._-]+)")
_LOCAL = re.compile(r"local_uri:\s*<([^>]+)>")
_STATE = re.compile(r"Call debug \((\w+)\)")


def netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


class NetstringDecoder:
    """Incremental netstring framing with a hard size limit."""

    def __init__(self, limit: int = MAX_FRAME) -> None:
        self._buf = b""
        self._limit = limit

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out = []
        while self._buf:
            colon = self._buf.find(b":", 0, 12)
            if colon < 0:
                if len(self._buf) >= 12 or not self._buf.isdigit():
                    raise ProtocolError("bad netstring length")
                break
            head = self._buf[:colon]
            if not head.isdigit() or (len(head) > 1 and head.startswith(b"0")):
                raise ProtocolError("bad netstring length")
            size = int(head)
            if size > self._limit:
                raise ProtocolError(f"netstring of {size} bytes is over the limit")
            end = colon + 1 + size
            if len(self._buf) < end + 1:
                break
            if self._buf[end : end + 1] != b",":
                raise ProtocolError("netstring not terminated by ','")
            out.append(self._buf[colon + 1 : end])
            self._buf = self._buf[end + 1 :]
        return out


def _peer_number(uri: str) -> str:
    m = re.match(r"<?sips?:([^@;>]+)", uri or "")
    return m.group(1) if m else ""


class BaresipProtocol(SourceProtocol):
    name = "baresip"

    def __init__(self, account: str, internal: PeerMatcher | None = None) -> None:
        self.account = account
        self.internal = internal
        self._decoder = NetstringDecoder()

    def decode(self, data: bytes) -> list[bytes]:
        return self._decoder.feed(data)

    def _command(self, conn: Connection, command: str, token: str, early: list[bytes]) -> str:
        conn.send(netstring(json.dumps({"command": command, "token": token}).encode()))
        while True:
            frame = conn.next_frame(timeout=5.0)
            msg = _json(frame)
            if msg is not None and msg.get("response") is True and msg.get("token") == token:
                data = msg.get("data")
                return data if isinstance(data, str) else ""
            early.append(frame)

    def handshake(self, conn: Connection) -> tuple[list[CallFact], list[bytes]]:
        early: list[bytes] = []
        listing = self._command(conn, "listcalls", "agentapp-resync-1", early)
        m = _COUNT.search(listing)
        if m is None:
            raise ProtocolError("unexpected listcalls answer")
        if int(m.group(1)) == 0:
            return [], early
        stat = self._command(conn, "callstat", "agentapp-resync-2", early)
        cid, local, state = _CALL_ID.search(stat), _LOCAL.search(stat), _STATE.search(stat)
        if (
            cid
            and local
            and state
            and state.group(1) == "ESTABLISHED"
            and self._ours(local.group(1))
        ):
            return [CallFact(EventKind.OFF_HOOK, cid.group(1))], early
        return [], early

    def _ours(self, aor: str) -> bool:
        return aor.strip("<>").lower() == self.account.strip("<>").lower()

    def interpret(self, frame: bytes) -> list[CallFact]:
        msg = _json(frame)
        if msg is None or msg.get("event") is not True or msg.get("class") != "call":
            return []
        if not self._ours(str(msg.get("accountaor", ""))):
            return []
        call_id = msg.get("id")
        if not isinstance(call_id, str) or not call_id:
            return []
        internal = bool(
            self.internal and self.internal.search(_peer_number(str(msg.get("peeruri", ""))))
        )
        kind = {"CALL_ESTABLISHED": EventKind.OFF_HOOK, "CALL_CLOSED": EventKind.ON_HOOK}.get(
            str(msg.get("type"))
        )
        return [] if kind is None else [CallFact(kind, call_id[:128], internal)]


def _json(frame: bytes) -> dict[str, object] | None:
    """A JSON object, or None for anything else (logged by nobody: baresip sends only JSON)."""
    try:
        msg = json.loads(frame.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return msg if isinstance(msg, dict) else None
