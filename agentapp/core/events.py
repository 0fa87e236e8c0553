"""Call events: the one vocabulary every telephony source is translated into."""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass

MAX_EVENT_BYTES = 1024
# A client's own timestamp is trusted only this far in the past (same machine, same clock).
MAX_CLIENT_LAG_S = 5.0
_CALL_ID = re.compile(r"^[A-Za-z0-9._:@+=-]{1,128}$")


class EventKind(enum.Enum):
    OFF_HOOK = "off-hook"
    ON_HOOK = "on-hook"
    HOLD = "hold"
    RESUME = "resume"


class EventError(ValueError):
    """A malformed event. `details` says what was wrong, without echoing the payload."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One telephony fact about one call, as seen by this agent's workstation.

    `at` is the wall-clock time the agent received the event; `internal` marks an
    agent-to-agent call (not recorded unless the policy says so).
    """

    kind: EventKind
    call_id: str
    at: float
    internal: bool = False
    source: str = "hook"

    def to_wire(self) -> bytes:
        body: dict[str, object] = {
            "v": 1,
            "event": self.kind.value,
            "call_id": self.call_id,
            "t": round(self.at, 3),
        }
        if self.internal:
            body["internal"] = True
        return (json.dumps(body, separators=(",", ":")) + "\n").encode()


@dataclass(frozen=True, slots=True)
class CallFact:
    """What an event source says about a call, before it is stamped as a CallEvent."""

    kind: EventKind
    call_id: str
    internal: bool = False


class ControlKind(enum.Enum):
    PAUSE = "pause"
    RESUME = "resume"
    CALLER_OBJECTS = "caller-objects"
    STATUS = "status"  # what the agent is doing, answered from memory (`agentapp status`)


@dataclass(frozen=True, slots=True)
class ControlCommand:
    """An instruction from the agent's side (secure pause, caller objects), not a call fact."""

    kind: ControlKind
    at: float

    def to_wire(self) -> bytes:
        body = {"v": 1, "command": self.kind.value, "t": round(self.at, 3)}
        return (json.dumps(body, separators=(",", ":")) + "\n").encode()


Message = CallEvent | ControlCommand


def short_id(call_id: str) -> str:
    """A call id as it may appear in logs: a short hash, enough to follow one call through the
    log without writing the PBX's own identifier (which a PBX can tie to the caller)."""
    import hashlib

    return "call#" + hashlib.sha256(call_id.encode()).hexdigest()[:8]


def validate_call_id(call_id: str) -> str:
    if not isinstance(call_id, str) or not _CALL_ID.match(call_id):
        raise EventError(
            "invalid call id: use 1 to 128 characters among letters, digits and . _ : @ + = -"
        )
    return call_id


def _when(body: dict[str, object], arrived: float) -> float:
    """The client's timestamp (when the softphone ran the hook) if it is plausible: not in the
    future and at most MAX_CLIENT_LAG_S old; otherwise the arrival time."""
    t = body.get("t")
    if t is None:
        return arrived
    if isinstance(t, bool) or not isinstance(t, int | float):
        raise EventError("'t' must be a timestamp")
    return float(t) if arrived - MAX_CLIENT_LAG_S <= t <= arrived else arrived


def parse_wire(data: bytes, *, at: float, source: str = "hook") -> Message:
    """Parse one hook message (a JSON object on one line). `at` is the arrival time.
    Raises EventError."""
    if len(data) > MAX_EVENT_BYTES:
        raise EventError("message too large", details=f"{len(data)} bytes")
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventError("message is not JSON text", details=type(exc).__name__) from None
    if not isinstance(body, dict):
        raise EventError("message is not a JSON object")
    if body.get("v") != 1:
        raise EventError("unsupported message version")
    if "command" in body:
        if not set(body) <= {"v", "command", "t"}:
            raise EventError("a command message has only 'v', 'command' and 't'")
        try:
            return ControlCommand(ControlKind(body["command"]), _when(body, at))
        except ValueError:
            raise EventError("unknown command") from None
    try:
        kind = EventKind(body.get("event"))
    except ValueError:
        raise EventError("unknown event kind") from None
    call_id = validate_call_id(body.get("call_id"))  # type: ignore[arg-type]
    internal = body.get("internal", False)
    if not isinstance(internal, bool):
        raise EventError("'internal' must be true or false")
    unknown = set(body) - {"v", "event", "call_id", "internal", "t"}
    if unknown:
        raise EventError("unknown fields in message", details=", ".join(sorted(unknown))[:80])
    return CallEvent(kind, call_id, _when(body, at), internal=internal, source=source)
