"""Who is on a call? A state machine fed with CallEvents, robust to real-world event streams.

Real sources repeat events, lose them, deliver them late and overlap calls (consultation,
transfer). The tracker turns that stream into clean transitions:

* an off-hook for a call already active is a duplicate and ignored;
* an on-hook for a call never seen is ignored, and remembered, so that its late off-hook
  (out of order) does not open a call that already ended;
* the handset is off-hook while at least one call is active;
* hold/resume only flag the call: a held call is still a call.

Not thread-safe: one owner (the engine's control thread) feeds it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from agentapp.core.events import CallEvent, CallFact, EventKind

_REMEMBER_ENDED = 512


@dataclass(frozen=True, slots=True)
class CallStarted:
    call_id: str
    internal: bool
    at: float


@dataclass(frozen=True, slots=True)
class CallEnded:
    call_id: str
    at: float
    handset_idle: bool  # True when this was the last active call


@dataclass(frozen=True, slots=True)
class Ignored:
    call_id: str
    why: str


Transition = CallStarted | CallEnded | Ignored


@dataclass(slots=True)
class _Call:
    internal: bool
    started_at: float
    source: str
    held: bool = False


class CallTracker:
    def __init__(self) -> None:
        self._active: dict[str, _Call] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()

    @property
    def busy(self) -> bool:
        return bool(self._active)

    @property
    def active_calls(self) -> tuple[str, ...]:
        return tuple(self._active)

    def is_held(self, call_id: str) -> bool:
        call = self._active.get(call_id)
        return bool(call and call.held)

    def feed(self, event: CallEvent) -> Transition:
        cid = event.call_id
        if event.kind is EventKind.OFF_HOOK:
            if cid in self._active:
                return Ignored(cid, "duplicate off-hook")
            if cid in self._ended:
                return Ignored(cid, "off-hook after this call's on-hook (late event)")
            self._active[cid] = _Call(event.internal, event.at, event.source)
            return CallStarted(cid, event.internal, event.at)
        if event.kind is EventKind.ON_HOOK:
            if self._active.pop(cid, None) is None:
                self._remember_ended(cid)
                return Ignored(cid, "on-hook without off-hook")
            self._remember_ended(cid)
            return CallEnded(cid, event.at, handset_idle=not self._active)
        call = self._active.get(cid)
        if call is None:
            return Ignored(cid, f"{event.kind.value} for a call not in progress")
        call.held = event.kind is EventKind.HOLD
        return Ignored(cid, f"{event.kind.value} noted (a held call is still a call)")

    def active_from(self, source: str) -> list[str]:
        return [cid for cid, call in self._active.items() if call.source == source]

    def resync(self, source: str, active: list[CallFact], at: float) -> list[CallEvent]:
        """The events that bring this tracker in line with what a (re)connected source says
        is active: on-hooks for the calls that ended meanwhile, then off-hooks for those
        active (the tracker ignores the ones it knows, and those cut when it was lost)."""
        now_active = {f.call_id for f in active}
        gone = [CallEvent(EventKind.ON_HOOK, cid, at, source=source)
                for cid in self.active_from(source) if cid not in now_active]  # fmt: skip
        return gone + [CallEvent(EventKind.OFF_HOOK, f.call_id, at, f.internal, source)
                       for f in active]  # fmt: skip

    def end_all(self, at: float, source: str | None = None) -> list[CallEnded]:
        """Close every active call (of one source, when given): source lost, shutdown.
        The ids are remembered as ended, so a late off-hook cannot reopen them."""
        ids = list(self._active) if source is None else self.active_from(source)
        out = []
        for cid in ids:
            del self._active[cid]
            self._remember_ended(cid)
            out.append(CallEnded(cid, at, handset_idle=False))
        if out and not self._active:
            out[-1] = CallEnded(out[-1].call_id, at, handset_idle=True)
        return out

    def _remember_ended(self, cid: str) -> None:
        self._ended[cid] = None
        self._ended.move_to_end(cid)
        while len(self._ended) > _REMEMBER_ENDED:
            self._ended.popitem(last=False)
