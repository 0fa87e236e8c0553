"""One recorded call, from its off-hook to its sealing, and the last call that may still be
erased when its caller objects.

A `Recording` holds what belongs to that call alone: the writer of its sealed segments, its
capture pipeline, its pauses (the agent's own and those the watchers hold: sensitive windows,
screen locks), its voice and the voice's silence. The engine makes one when the gate says to
record, and forgets it once `seal` has run.

Threading: the engine's lock (an RLock, shared) serialises everything; the capture thread's
watchers and the voice thread call in through `hold` and `on_voice`, which take it. `seal`
runs on the capture thread once its last segment is sealed (or abandoned).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from agentapp.agent.status import AgentState, StatusBoard
from agentapp.capture.lookbehind import PipelineStats
from agentapp.capture.pipeline import CapturePipeline
from agentapp.capture.voice import Silence, Streams, VoiceRecorder
from agentapp.core.clock import Clock
from agentapp.core.policy import VOICE_SOFTPHONE, Policy, SoftphoneRule
from agentapp.core.readiness import Why
from agentapp.core.session import RecorderSession, SessionInfo, State
from agentapp.platform.base import (
    CaptureMode,
    FrameReader,
    PageWatcher,
    ScreenGrabber,
    SessionLock,
    WindowLocator,
)
from agentapp.vault.sink import SealingSink
from agentapp.vault.store import RecordingMeta, RecordingWriter, VaultError

log = logging.getLogger(__name__)

PAUSE_AGENT = "agent"
ACTIVE = (State.ARMED, State.RECORDING, State.PAUSED)
CALLER_OBJECTS_AFTER_S = 300.0  # callers often object at the end: the last call stays erasable
Trace = Callable[[str, str, str], None]  # (action, target, reason) to the audit trail


class CaptureFactories(NamedTuple):
    """What the capture thread makes its own desktop objects with (platform/factory.py)."""

    locator: Callable[[], WindowLocator]
    grabber: Callable[[], ScreenGrabber]
    reader: Callable[[], FrameReader] | None = None
    pages: Callable[[Clock], PageWatcher] | None = None
    session_lock: Callable[[], SessionLock | None] | None = None
    voice: Callable[[SoftphoneRule], Streams | None] | None = None


class Recording:
    def __init__(
        self,
        writer: RecordingWriter,
        *,
        started_at: float,
        serial: int,
        session: RecorderSession,
        clock: Clock,
        board: StatusBoard,
        lock: threading.RLock,
        trace: Trace,
    ) -> None:
        self.writer = writer
        self.started_at = started_at
        self.serial = serial  # the engine's call count at its off-hook (see LastCall)
        self.pipeline: CapturePipeline | None = None
        self._session, self._clock, self._board = session, clock, board
        self._lock, self._trace = lock, trace
        self._pauses: set[str] = set()
        self._held: dict[str, str] = {}  # watcher → the pause it holds (see `hold`)
        self._silence = Silence()  # secure pause, sensitive window: no voice (R10)
        self._no_voice = ""  # why this call's voice cannot be recorded ("": it can, or off)

    @property
    def id(self) -> str:
        return self.writer.meta.id

    def wake(self) -> None:
        if self.pipeline is not None:
            self.pipeline.wake()

    def start(
        self,
        policy: Policy,
        agent: str,
        public_key: X25519PublicKey,
        make: CaptureFactories,
        on_done: Callable[[PipelineStats], None],
    ) -> None:
        """Show the recording, then start the call's capture thread on the policy's rules
        (and its voice); `on_done` runs on that thread once the last segment is sealed."""
        enrolment = policy.enrolment_for(agent)
        self.pipeline = CapturePipeline(
            session=self._session,
            clock=self._clock,
            rules=policy.applications,
            sensitive=policy.sensitive,
            fps=(enrolment.fps if enrolment and enrolment.fps else policy.fps),
            segment_seconds=policy.segment_seconds,
            started_at=self.started_at,
            sink=SealingSink(self.writer, public_key),
            locator_factory=make.locator,
            grabber_factory=make.grabber,
            reader_factory=make.reader,
            page_factory=make.pages,
            session_lock_factory=make.session_lock,
            voice_factory=self._voice(policy, agent, make.voice),
            lookbehind_s=policy.lookbehind_ms / 1000,
            on_mode=self.mode_seen,
            on_status=self.capture_status,
            on_sensitive=self.sensitive,
            on_lock=self.locked,
            on_done=on_done,
        )
        base = self._board.current
        self._board.set(replace(base, state=AgentState.RECORDING, detail="recording for training",
                                recording_id=self.id, application=self.writer.meta.application,
                                erasable=False, why=Why.NONE, writing=True, voice=""))  # fmt: skip
        self.pipeline.start()

    # ------------------------------------------------------------------ voice
    def _voice(
        self,
        policy: Policy,
        agent: str,
        streams_for: Callable[[SoftphoneRule], Streams | None] | None,
    ) -> Callable[[], VoiceRecorder] | None:
        """The call's voice recorder, if the policy records this agent's voice."""
        if policy.voice_for(agent) != VOICE_SOFTPHONE or policy.softphone is None:
            return None
        streams = streams_for(policy.softphone) if streams_for else None
        if streams is None:
            self._no_voice = "no voice: the softphone's sound cannot be read on this desk"
            return None

        def recorder() -> VoiceRecorder:
            return VoiceRecorder(streams, clock=self._clock, started_at=self.started_at,
                                 silence=self._silence, on_state=self.on_voice,
                                 lookbehind_s=policy.lookbehind_ms / 1000)  # fmt: skip

        return recorder

    def on_voice(self, state: str) -> None:
        """Voice thread: the call's voice is recorded now, or why not."""
        with self._lock:
            if self._board.current.recording:
                self._board.set(replace(self._board.current, voice=state))
        if state.startswith("no voice"):
            log.warning("%s", state)

    # ------------------------------------------------------------------ secure pause (R10)
    def pause(self, reason: str) -> str:
        """Stop writing frames at once. Pauses stack: each reason must be lifted to resume."""
        with self._lock:
            if self._session.state not in ACTIVE:
                return "ok: nothing to pause (not recording)"
            self._pauses.add(reason)
            self._update_silence()
            if self._session.state is not State.PAUSED:
                self._session.pause()
                log.info("recording paused (%s)", reason)
                self._trace("recording paused", self.id, _why(reason))
            self._show(AgentState.PAUSED, self._pause_detail(), self._pause_why())
            self.wake()
            return "ok: paused"

    def resume(self, reason: str) -> str:
        with self._lock:
            self._pauses.discard(reason)
            self._update_silence()
            if self._session.state is not State.PAUSED:
                return "ok: not paused"
            if self._pauses:
                self._show(AgentState.PAUSED, self._pause_detail(), self._pause_why())
                return f"ok: still paused ({self._pause_detail()})"
            self._session.resume()
            log.info("recording resumed")
            self._trace("recording resumed", self.id, _why(reason))
            self._show(AgentState.RECORDING, "recording for training", Why.NONE)
            self.wake()
            return "ok: resumed"

    def toggle(self) -> str:
        with self._lock:
            return self.resume(PAUSE_AGENT) if PAUSE_AGENT in self._pauses else self.pause(
                PAUSE_AGENT)  # fmt: skip

    def sensitive(self, name: str | None) -> None:
        """Capture thread: a sensitive window appeared (name) or all are gone (None)."""
        self.hold("sensitive", None if name is None else f"while '{name}' is visible")

    def locked(self, why: str | None) -> None:
        """Capture thread: the screen looks locked (why) or no longer (None)."""
        self.hold("lock", None if why is None else f"while {why}")

    def hold(self, watcher: str, reason: str | None) -> None:
        """The pause one watcher holds (sensitive windows, locks) becomes `reason` (None: it
        holds none); the pauses of the others and the agent's own stay as they are."""
        with self._lock:
            old = self._held.pop(watcher, None)
            if reason is not None:
                self._held[watcher] = reason
            if old is not None and old != reason:
                self.resume(old)
            if reason is not None and reason != old:
                self.pause(reason)

    def _update_silence(self) -> None:
        """The voice is silenced by the agent's secure pause and by a sensitive window, not by
        a lock or a hidden window (those keep their meaning for the video only)."""
        self._silence.set(PAUSE_AGENT in self._pauses or "sensitive" in self._held,
                          self._clock.now())  # fmt: skip

    def _pause_detail(self) -> str:
        why = sorted("by the agent" if r == PAUSE_AGENT else r for r in self._pauses)
        return "paused " + " and ".join(why) + ": nothing is written"

    def _pause_why(self) -> Why:
        """The pause a trainee is told about first: the lock, a sensitive window, their own."""
        if "lock" in self._held:
            return Why.LOCKED
        return Why.SENSITIVE if "sensitive" in self._held else Why.AGENT_PAUSE

    def _show(self, state: AgentState, detail: str, why: Why, *, writing: bool = True) -> None:
        self._board.set(replace(self._board.current, state=state, detail=detail, why=why,
                                writing=writing))  # fmt: skip

    # ------------------------------------------------------------------ capture callbacks
    def mode_seen(self, mode: CaptureMode, why: str) -> None:
        """Capture thread, once per call: how pixels are read (kept, traced, shown)."""
        self.writer.meta.capture_mode, self.writer.meta.capture_note = mode.value, why
        if mode is CaptureMode.MASKED:
            log.warning("masked capture for this call: %s", why)
        self._trace("capture mode", self.id, f"{mode.value}{': ' + why if why else ''}")

    def capture_status(self, text: str) -> None:
        """Capture thread: frames are written ("recording") or why not."""
        if self._session.state is not State.RECORDING:
            return
        meta = self.writer.meta
        masked = meta.capture_mode == CaptureMode.MASKED.value
        note = f" (masked capture: {meta.capture_note})" if masked else ""
        writing = text == "recording"
        detail = f"recording for training{note}" if writing else f"not writing: {text}"
        self._board.set(replace(self._board.current, state=AgentState.RECORDING, detail=detail,
                                why=Why.NONE if writing else Why.HIDDEN, writing=writing,
                                application=meta.application))  # fmt: skip

    def seal(
        self, stats: PipelineStats, info: SessionInfo, discarded: bool
    ) -> RecordingMeta | None:
        """Capture thread, at the end: keep what was captured (its metadata sealed and the
        call's pauses in it), or nothing (discarded, or no frame); traced either way."""
        log.info("capture ended: %d frames written, %d ticks held unchanged, %d not visible or "
                 "not drawn, %d reads dropped, %d late ticks", stats.frames, stats.unchanged,
                 stats.hidden_ticks, stats.dropped, stats.late_ticks)  # fmt: skip
        writer = self.writer
        try:
            if discarded:
                writer.discard()
                log.info("nothing kept for this call: %s", info.end_reason or stats.failure)
                self._trace("recording not kept", self.id, info.end_reason or stats.failure)
                return None
            if stats.frames == 0:
                writer.discard()
                why = stats.failure or stats.why_nothing()
                log.info("nothing kept for this call: %s", why)
                self._trace("recording not kept", self.id, why)
                return None
            if stats.application:
                writer.meta.application = stats.application
            writer.meta.unchanged_frames = stats.unchanged
            writer.meta.dropped_frames = stats.dropped
            writer.meta.late_ticks = stats.late_ticks
            writer.meta.voice = stats.voice or self._no_voice
            stop_at = info.stop_at if info.stop_at is not None else self._clock.now()
            spans = [(a - self.started_at, b - self.started_at) for a, b in info.paused_spans]
            meta = writer.finish(stop_at - self.started_at, spans, info.end_reason)
        except OSError as exc:
            log.error("could not finish recording %s: %s", self.id, exc)
            self._trace("recording stopped", self.id, f"could not finish: {exc}")
            return None
        self._trace(
            "recording stopped",
            meta.id,
            f"{info.end_reason or stats.failure}; {meta.duration_s:.0f} s, "
            f"{meta.segments} sealed segment(s), {len(spans)} pause(s)",
        )
        log.info(
            "recording %s sealed: %.1f s, %d frames (+%d unchanged held, %d dropped, "
            "%d late ticks), %d segments, %d bytes, %d pauses",
            meta.id, meta.duration_s, meta.frames, meta.unchanged_frames,
            meta.dropped_frames, meta.late_ticks, meta.segments, meta.size_bytes, len(spans),
        )  # fmt: skip
        return meta


class LastCall:
    """The last call's recording stays erasable for CALLER_OBJECTS_AFTER_S after it was
    sealed, unless another call began since (the new caller's objection is not about it).

    Threading: under the engine's lock."""

    def __init__(self, clock: Clock, erase: Callable[[str], None], trace: Trace) -> None:
        self._clock, self.erase_with, self._trace = clock, erase, trace
        self._serial = 0  # calls begun
        self._erasable: tuple[str, float] | None = None  # the recording, until

    def began(self) -> int:
        """Another caller now: the last call's recording is not theirs to object to."""
        self._erasable = None
        self._serial += 1
        return self._serial

    def sealed(self, recording_id: str, serial: int) -> None:
        if serial == self._serial:  # no other call began since this one
            self._erasable = (recording_id, self._clock.now() + CALLER_OBJECTS_AFTER_S)

    def erasable(self) -> bool:
        return self._erasable is not None and self._clock.now() < self._erasable[1]

    def erase(self) -> str:
        """Erase the last call's recording (sealed, or delivered to the site or the hub);
        logged without content."""
        last, self._erasable = self._erasable, None
        if last is None or self._clock.now() >= last[1]:
            minutes = round(CALLER_OBJECTS_AFTER_S / 60)
            return f"ok: nothing to discard (no recording in the last {minutes} minutes)"
        try:
            self.erase_with(last[0])
        except (OSError, VaultError) as exc:
            log.error("could not erase recording %s everywhere: %s", last[0], exc)
            self._trace("recording discarded", last[0], f"caller objects after the call; {exc}")
            return f"error: the recording could not be erased everywhere ({exc}); tell IT"
        log.warning("the caller objected after the call: the last recording was erased")
        self._trace("recording discarded", last[0], "caller objects (after the call)")
        return "ok: the last call's recording was erased"


def _why(reason: str) -> str:
    return "by the agent" if reason == PAUSE_AGENT else reason
