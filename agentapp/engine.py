"""The engine: the Qt-free heart of the agent (call events in, sealed recordings out).

It owns the call tracker, the recorder session, the vault and, during a recorded call, one
capture pipeline. The tray (ui/) and the headless runner only observe `status` and call the
public methods.

Threading: `handle_event` may be called from any thread (hook server, event sources); one lock
serialises it. A watchdog thread cuts calls that pass the policy's maximum length. Status
listeners run on whichever thread changed the status and must not block; a UI marshals them
to its own thread (the Qt bridge does).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from agentapp.capture.pipeline import CapturePipeline, GrabberLike, PipelineStats
from agentapp.core.calls import CallEnded, CallStarted, CallTracker, Ignored
from agentapp.core.clock import Clock, SystemClock
from agentapp.core.events import CallEvent
from agentapp.core.gate import decide, week_start
from agentapp.core.policy import Policy, PolicyError, load_policy
from agentapp.core.session import InvalidTransition, RecorderSession, State
from agentapp.platform.base import WindowLocator
from agentapp.vault.keys import KeyProblem, load_public_key, public_key_path
from agentapp.vault.sink import SealingSink
from agentapp.vault.store import RecordingWriter, Vault, write_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """What the agent is doing, in words a trainee understands.

    state: idle | recording | paused | sealing | cannot_record
    """

    state: str
    detail: str
    recording_id: str | None = None


StatusListener = Callable[[EngineStatus], None]


class Engine:
    def __init__(
        self,
        *,
        agent: str,
        data_dir: Path,
        policy_path: Path,
        locator_factory: Callable[[], WindowLocator],
        grabber_factory: Callable[[], GrabberLike],
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.agent = agent
        self.data_dir = data_dir
        self.policy_path = policy_path
        self._clock = clock or SystemClock()
        self._rng = rng or random.SystemRandom()
        self._locator_factory = locator_factory
        self._grabber_factory = grabber_factory
        self.vault = Vault(data_dir / "recordings")
        self.session = RecorderSession(self._clock)
        self._tracker = CallTracker()
        self._lock = threading.RLock()
        self._pipeline: CapturePipeline | None = None
        self._listeners: list[StatusListener] = []
        self._status = EngineStatus("idle", "waiting for a call")
        self._status_lock = threading.Lock()  # capture and control threads both set status
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self._idle = threading.Event()
        self._idle.set()
        self.last_capture: PipelineStats | None = None  # figures of the last call (bench)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for rid in self.vault.recover_interrupted():
            log.warning("recording %s was interrupted by a stop; its sealed part is kept", rid)
        self.check_ready()
        self._watchdog.start()

    def check_ready(self) -> EngineStatus:
        """Load the policy and key now, so a problem shows before the first call."""
        try:
            policy = load_policy(self.policy_path)
            load_public_key(public_key_path(self.data_dir))
        except (PolicyError, KeyProblem) as exc:
            self._set_status(EngineStatus("cannot_record", str(exc)))
            return self._status
        e = policy.enrolment_for(self.agent)
        if e is None:
            self._set_status(EngineStatus("idle", f"{self.agent} is not enrolled: never recorded"))
        else:
            self._set_status(
                EngineStatus(
                    "idle", f"enrolled in '{e.training}' until {e.end}; waiting for a call"
                )
            )
        return self._status

    def stop(self, reason: str = "agent stopped") -> None:
        """End any recording (sealing what was captured) and stop the watchdog."""
        self._stop.set()
        with self._lock:
            for ended in self._tracker.end_all(self._clock.now()):
                self._on_ended(ended, reason)
        self.wait_idle(timeout=15)
        if self._watchdog.is_alive():
            self._watchdog.join(timeout=2)

    def wait_idle(self, timeout: float) -> bool:
        """Block until no recording is active or sealing (tests, shutdown)."""
        return self._idle.wait(timeout)

    # ------------------------------------------------------------------ status
    @property
    def status(self) -> EngineStatus:
        return self._status

    def add_status_listener(self, fn: StatusListener) -> None:
        self._listeners.append(fn)

    def _set_status(self, status: EngineStatus) -> None:
        with self._status_lock:
            if status == self._status:
                return
            self._status = status
            log.info("status: %s — %s", status.state, status.detail)
            try:
                path = self.data_dir / "run" / "status.json"
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                write_atomic(path, json.dumps(asdict(status)).encode())
            except OSError as exc:
                log.warning("cannot write status file: %s", exc)
        for fn in list(self._listeners):
            fn(status)

    # ------------------------------------------------------------------ events
    def handle_event(self, event: CallEvent) -> str:
        """Feed one call event; returns a one-line answer for the hook."""
        with self._lock:
            if self._stop.is_set():
                return "ok: agent is stopping"
            t = self._tracker.feed(event)
            if isinstance(t, Ignored):
                log.info("event %s for call ignored: %s", event.kind.value, t.why)
                return f"ok: ignored ({t.why})"
            if isinstance(t, CallStarted):
                return self._on_started(t)
            return self._on_ended(t, "on-hook")

    def _on_started(self, call: CallStarted) -> str:
        if self.session.state is not State.IDLE:
            return "ok: call noted (a recording is already running or sealing)"
        try:
            policy = load_policy(self.policy_path)
        except PolicyError as exc:
            self._set_status(EngineStatus("cannot_record", f"policy refused: {exc}"))
            return "ok: not recording (policy refused)"
        today = dt.datetime.fromtimestamp(call.at).date()
        monday = dt.datetime.combine(week_start(today), dt.time()).timestamp()
        decision = decide(
            policy,
            self.agent,
            internal=call.internal,
            today=today,
            recorded_this_week=self.vault.count_since(self.agent, monday),
            rng=self._rng,
        )
        log.info("call started: %s", decision)
        if not decision.record:
            assert decision.reason is not None
            self._set_status(
                EngineStatus("idle", f"this call is not recorded: {decision.reason.value}")
            )
            return f"ok: not recording ({decision.reason.value})"
        try:
            public_key = load_public_key(public_key_path(self.data_dir))
        except KeyProblem as exc:
            self._set_status(EngineStatus("cannot_record", str(exc)))
            return "ok: not recording (no recording key)"
        return self._begin(policy, call, public_key)

    def _begin(self, policy: Policy, call: CallStarted, public_key: X25519PublicKey) -> str:
        try:
            writer = self.vault.begin(
                self.agent,
                call.at,
                " / ".join(r.name for r in policy.applications),
                policy.retention_days,
            )
        except OSError as exc:
            self._set_status(EngineStatus("cannot_record", f"cannot write recordings: {exc}"))
            return "ok: not recording (vault not writable)"
        self._idle.clear()
        self.session.arm(max_seconds=policy.max_call_minutes * 60)
        self._pipeline = CapturePipeline(
            session=self.session,
            clock=self._clock,
            rules=policy.applications,
            fps=policy.fps,
            segment_seconds=policy.segment_seconds,
            started_at=call.at,
            sink=SealingSink(writer, public_key),
            locator_factory=self._locator_factory,
            grabber_factory=self._grabber_factory,
            on_status=lambda s: self._on_capture_status(writer.meta.id, s),
            on_done=lambda stats: self._on_capture_done(writer, call.at, stats),
        )
        self._set_status(EngineStatus("recording", "recording for training", writer.meta.id))
        self._pipeline.start()
        return "ok: recording"

    def _on_ended(self, ended: CallEnded, reason: str) -> str:
        if not ended.handset_idle:
            return "ok: call ended (another call is still active)"
        if self.session.state in (State.ARMED, State.RECORDING, State.PAUSED):
            self.session.stop(reason, at=ended.at)
            if self._pipeline is not None:
                self._pipeline.wake()
            return "ok: recording stopped"
        return "ok: call ended"

    # ------------------------------------------------------------------ capture callbacks
    def _on_capture_status(self, rid: str, text: str) -> None:
        state = self.session.state
        if state is State.PAUSED:
            self._set_status(EngineStatus("paused", "paused: nothing is written", rid))
        elif state is State.RECORDING:
            detail = "recording for training" if text == "recording" else f"not writing: {text}"
            self._set_status(EngineStatus("recording", detail, rid))

    def _on_capture_done(
        self, writer: RecordingWriter, started_at: float, stats: PipelineStats
    ) -> None:
        """Runs on the capture thread when it has sealed its last segment."""
        self.last_capture = stats
        info = self.session.info
        try:
            if stats.frames == 0 or self.session.state is State.IDLE:
                writer.discard()
                why = stats.failure or info.end_reason or "business window never visible"
                log.info("nothing kept for this call: %s", why)
            else:
                if stats.application:
                    writer.meta.application = stats.application
                stop_at = info.stop_at if info.stop_at is not None else self._clock.now()
                spans = [(a - started_at, b - started_at) for a, b in info.paused_spans]
                meta = writer.finish(stop_at - started_at, spans, info.end_reason)
                log.info(
                    "recording %s sealed: %.1f s, %d frames, %d segments, %d bytes",
                    meta.id,
                    meta.duration_s,
                    meta.frames,
                    meta.segments,
                    meta.size_bytes,
                )
        except OSError as exc:
            log.error("could not finish recording %s: %s", writer.meta.id, exc)
        finally:
            try:
                if self.session.state is State.SEALING:
                    self.session.sealed()
            except InvalidTransition:
                pass
            with self._lock:
                self._pipeline = None
            if stats.failure:
                self._set_status(EngineStatus("cannot_record", stats.failure))
            else:
                self._set_status(EngineStatus("idle", "waiting for a call"))
            self._idle.set()

    # ------------------------------------------------------------------ watchdog
    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            if self.session.overdue():
                log.warning("call passed the maximum call length: recording cut")
                with self._lock:
                    try:
                        self.session.stop("cut at maximum call length")
                    except InvalidTransition:
                        continue
                    if self._pipeline is not None:
                        self._pipeline.wake()
