"""The recorder session state machine: idle → armed → recording ⇄ paused → sealing → idle.

* armed: the gate said "record" for a call; capture is starting, nothing written yet.
* recording: frames may be written.
* paused: secure pause; no frame is written, the span is kept in `paused_spans`.
* sealing: the call ended (or was cut); the last segment is being sealed.
* discard (caller objects) goes straight back to idle from any active state.

Every transition takes its time from the injected clock. Listeners are called synchronously
on the thread that made the transition and must not block. Thread-safe: one lock guards the
state, so the capture thread may ask `accepts_frames_at()` while the control thread
transitions.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from agentapp.core.clock import Clock


class State(enum.Enum):
    IDLE = "idle"
    ARMED = "armed"
    RECORDING = "recording"
    PAUSED = "paused"
    SEALING = "sealing"


class InvalidTransition(RuntimeError):
    pass


_ALLOWED: dict[State, set[State]] = {
    State.IDLE: {State.ARMED},
    # a pause may come before the capture thread started (the tray's menu, a sensitive page)
    State.ARMED: {State.RECORDING, State.PAUSED, State.SEALING, State.IDLE},
    State.RECORDING: {State.PAUSED, State.SEALING, State.IDLE},
    State.PAUSED: {State.RECORDING, State.SEALING, State.IDLE},
    State.SEALING: {State.IDLE},
}


@dataclass(slots=True)
class SessionInfo:
    """What the current (or last) session was about; no customer data."""

    armed_at: float = 0.0
    stop_at: float | None = None
    deadline: float | None = None
    paused_spans: list[tuple[float, float]] = field(default_factory=list)
    end_reason: str = ""


Listener = Callable[[State, State, SessionInfo], None]


class RecorderSession:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._state = State.IDLE
        self._info = SessionInfo()
        self._paused_since: float | None = None
        self._listeners: list[Listener] = []

    # -- observation
    @property
    def state(self) -> State:
        with self._lock:
            return self._state

    @property
    def info(self) -> SessionInfo:
        with self._lock:
            return self._info

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def accepts_frames_at(self, t: float, before: float = 0.0) -> bool:
        """May a frame grabbed at time `t` be written? Only while recording (or sealing what
        was read before the on-hook), and never a frame inside a pause or read within
        `before` seconds of its start: the look-behind's frames go with the pause even when
        the capture thread, held up, never saw it (a pause and its resume between two turns)."""
        with self._lock:
            if self._state is State.SEALING:
                stop = self._info.stop_at
                if stop is None or t > stop:
                    return False
            elif self._state is not State.RECORDING:
                return False
            return not any(a - before <= t < b for a, b in self._info.paused_spans)

    # -- transitions
    def arm(self, max_seconds: float) -> None:
        now = self._clock.now()
        self._go(State.ARMED, lambda: self._reset(now, max_seconds))

    def _reset(self, now: float, max_seconds: float) -> None:
        self._info = SessionInfo(armed_at=now, deadline=now + max_seconds)
        self._paused_since = None

    def start_recording(self) -> None:
        """The capture thread began (only from ARMED: it never lifts an early pause)."""
        self._go(State.RECORDING, require=State.ARMED)

    def pause(self) -> None:
        now = self._clock.now()

        def mark() -> None:
            self._paused_since = now

        self._go(State.PAUSED, mark)

    def resume(self) -> None:
        now = self._clock.now()
        self._go(State.RECORDING, lambda: self._close_pause(now))

    def _close_pause(self, now: float) -> None:
        if self._paused_since is not None:
            self._info.paused_spans.append((self._paused_since, now))
            self._paused_since = None

    def stop(self, reason: str, at: float | None = None) -> None:
        """The call ended (on-hook at `at`) or was cut: move to sealing."""
        stop_at = self._clock.now() if at is None else at

        def mark() -> None:
            self._close_pause(stop_at)
            self._info.stop_at = stop_at
            self._info.end_reason = reason

        self._go(State.SEALING, mark)

    def sealed(self) -> None:
        self._go(State.IDLE)

    def discard(self, reason: str) -> None:
        """Back to idle without sealing (caller objects, failure before the first frame)."""
        now = self._clock.now()

        def mark() -> None:
            self._info.stop_at = now
            self._info.end_reason = reason

        self._go(State.IDLE, mark)

    def overdue(self) -> bool:
        """True when an active session passed the policy's maximum call length."""
        with self._lock:
            d = self._info.deadline
            active = self._state in (State.ARMED, State.RECORDING, State.PAUSED)
        return active and d is not None and self._clock.now() >= d

    def _go(
        self, new: State, effect: Callable[[], None] | None = None, require: State | None = None
    ) -> None:
        with self._lock:
            old = self._state
            if new not in _ALLOWED[old] or (require is not None and old is not require):
                raise InvalidTransition(f"{old.value} → {new.value}")
            if effect is not None:
                effect()
            self._state = new
            info = self._info
        for listener in list(self._listeners):
            listener(old, new, info)
