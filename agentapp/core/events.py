"""Call events: the one vocabulary every telephony source is translated into."""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass

MAX_EVENT_BYTES = 1024
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
        body = {"v": 1, "event": self.kind.value, "call_id": self.call_id}
        if self.internal:
            body["internal"] = True
        return (json.dumps(body, separators=(",", ":")) + "\n").encode()


def validate_call_id(call_id: str) -> str:
    if not isinstance(call_id, str) or not _CALL_ID.match(call_id):
        raise EventError(
            "invalid call id: use 1 to 128 characters among letters, digits and . _ : @ + = -"
        )
    return call_id


def parse_wire(data: bytes, *, at: float, source: str = "hook") -> CallEvent:
    """Parse one hook message (a JSON object on one line). Raises EventError."""
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
    try:
        kind = EventKind(body.get("event"))
    except ValueError:
        raise EventError("unknown event kind") from None
    call_id = validate_call_id(body.get("call_id"))  # type: ignore[arg-type]
    internal = body.get("internal", False)
    if not isinstance(internal, bool):
        raise EventError("'internal' must be true or false")
    unknown = set(body) - {"v", "event", "call_id", "internal"}
    if unknown:
        raise EventError("unknown fields in message", details=", ".join(sorted(unknown))[:80])
    return CallEvent(kind=kind, call_id=call_id, at=at, internal=internal, source=source)
