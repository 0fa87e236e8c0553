"""The engine: the Qt-free heart of the agent (call events in, sealed recordings out).

It owns the call tracker, the recorder session, the vault and, during a recorded call, one
capture pipeline. The tray (ui/) and the headless runner only observe `status` and call the
public methods (`handle`, `pause`, `resume`, `toggle_pause`, `caller_objects`,
`acknowledge_notice`).

Threading: every public method may be called from any thread (hook server, hotkey listener,
Qt thread); one lock serialises them. A watchdog thread cuts calls that pass the policy's
maximum length. Status listeners run on whichever thread changed the status and must not
block; a UI marshals them to its own thread (ui.bridge does).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import json
import logging
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from agentapp.agent.policy_seen import PolicySeen
from agentapp.capture.pipeline import CapturePipeline, GrabberLike, PipelineStats, ReaderLike
from agentapp.capture.voice import Silence, Streams, VoiceRecorder
from agentapp.core.calls import CallEnded, CallStarted, CallTracker, Ignored
from agentapp.core.clock import Clock, SystemClock
from agentapp.core.events import (
    CallEvent,
    CallFact,
    ControlCommand,
    ControlKind,
    EventKind,
    Message,
    short_id,
)
from agentapp.core.gate import HUB_DOWN, HUB_RESERVED, decide
from agentapp.core.notice import Notice, build_notice, notice_digest, read_out
from agentapp.core.policy import VOICE_SOFTPHONE, Policy, PolicyError, SoftphoneRule, load_policy
from agentapp.core.readiness import MIN_FREE_BYTES, DeskFacts, Ready, Why, disk_full, readiness
from agentapp.core.session import InvalidTransition, RecorderSession, State
from agentapp.files import layout
from agentapp.platform.base import (
    CaptureMode,
    NullLocator,
    PageWatcher,
    SessionLock,
    WindowLocator,
)
from agentapp.vault.acknowledgements import AcknowledgementStore
from agentapp.vault.audit import AuditError, AuditLog
from agentapp.vault.keys import KeyProblem, installed_public_key_path, load_public_key
from agentapp.vault.purge import purge_expired
from agentapp.vault.quota import used_this_week
from agentapp.vault.sink import SealingSink
from agentapp.vault.store import (
    RecordingWriter,
    Vault,
    VaultError,
    free_bytes,
    write_atomic,
    write_problem,
)

log = logging.getLogger(__name__)

PAUSE_AGENT = "agent"
PURGE_EVERY_S = 3600.0
REFRESH_EVERY_S = 5.0  # the policy file and the notice acknowledgements looked at again
DISK_EVERY_S = 1.0  # during a call: stop while there is still room to seal
_ACTIVE = (State.ARMED, State.RECORDING, State.PAUSED)
NO_INDICATOR = (
    "not recording: the agent runs without its tray here, so you would not see that you are "
    "recorded — start it with its tray (ask IT); kiosks allowed by the policy are the exception"
)
CALLER_OBJECTS_AFTER_S = 300.0  # callers often object at the end: the last call stays erasable


class AgentState(enum.StrEnum):
    """What the agent is doing, as the tray, the badge and the status file name it."""

    NOT_ENROLLED = "not_enrolled"
    NOTICE_REQUIRED = "notice_required"
    WAITING = "waiting"
    RECORDING = "recording"
    PAUSED = "paused"
    CANNOT_RECORD = "cannot_record"


_STATES = {
    Ready.YES: AgentState.WAITING,
    Ready.NOT_ENROLLED: AgentState.NOT_ENROLLED,
    Ready.CANNOT_RECORD: AgentState.CANNOT_RECORD,
    Ready.NOTICE_REQUIRED: AgentState.NOTICE_REQUIRED,
}


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """What the agent is doing (`state`), and why, in words a trainee understands."""

    state: AgentState
    detail: str  # technical words (logs, status file, the tray's Details…)
    recording_id: str | None = None
    training: str | None = None  # the enrolment's, while enrolled
    until: str | None = None  # its last day (ISO date)
    used: int | None = None  # recordings this week…
    weekly_quota: int | None = None  # …of at most this many
    application: str | None = None
    erasable: bool = False  # the last call's recording may still be erased (caller objects)
    why: Why = Why.NONE  # the code the tray words for a trainee (agentapp/ui/words.py)
    writing: bool = True  # recording, and frames are written (False: window not shown)
    voice: str = ""  # while recording: "recording", "no voice: …", "" (the voice is off)

    @property
    def recording(self) -> bool:
        return self.state in (AgentState.RECORDING, AgentState.PAUSED)


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
        audit: AuditLog | None = None,
        min_free_bytes: int = MIN_FREE_BYTES,
        policy_loader: Callable[[], Policy] | None = None,
        reader_factory: Callable[[], ReaderLike] | None = None,
        page_factory: Callable[[Clock], PageWatcher] | None = None,
        session_lock_factory: Callable[[], SessionLock | None] | None = None,
        voice_factory: Callable[[SoftphoneRule], Streams | None] | None = None,
        headless: bool = False,
        on_site: bool = False,
    ) -> None:
        """`policy_loader` reads and checks the policy (default: the plain file at
        `policy_path`; on a site: the signed copy, see site/signing.py)."""
        self.agent = agent
        self._load_policy = policy_loader or (lambda: load_policy(policy_path))
        self.headless = headless  # no tray: records only on desks the policy names
        self.on_site = on_site  # the policy is the site's signed copy (site/sync.py)
        self._policy_listeners: list[Callable[[Policy], None]] = []
        self._site_problem: str | None = None
        self._policy_seen = PolicySeen(data_dir, self._trace)
        self.audit = audit or AuditLog.in_dir(data_dir)
        self.min_free_bytes = min_free_bytes
        self._last_purge = float("-inf")
        self.data_dir = data_dir
        self.policy_path = policy_path
        self._clock = clock or SystemClock()
        self._rng = rng or random.SystemRandom()
        self._locator_factory = locator_factory
        self._grabber_factory = grabber_factory
        self._reader_factory = reader_factory
        self._page_factory = page_factory
        self._session_lock_factory = session_lock_factory
        self._voice_factory = voice_factory
        self._silence = Silence()  # secure pause, sensitive window: no voice (R10)
        self._no_voice = ""  # why this call's voice cannot be recorded ("": it can, or off)
        self.vault = Vault(layout.recordings(data_dir))
        self.acks = AcknowledgementStore(layout.acknowledgements(data_dir))
        self.session = RecorderSession(self._clock)
        self._erasable: tuple[str, float] | None = None  # the last call's recording, until
        self._call_serial = 0  # calls started: a recording is "the last call's" only if none since
        self._erase: Callable[[str], None] = self.vault.delete  # on a site: use_site
        self._site_ids: Callable[[str, float], set[str]] | None = None
        self._reserve: Callable[[str, str], str] | None = None  # the hub's slot (use_hub)
        self._release: Callable[[str], None] = lambda recording_id: None
        self._hub_problem: str | None = None
        self._tracker = CallTracker()
        self._lock = threading.RLock()
        self._pipeline: CapturePipeline | None = None
        self._queued: CallStarted | None = None  # answered while the last call was sealing
        self._last_skip: str | None = None  # why a queued call was not recorded
        self._pauses: set[str] = set()
        self._held: dict[str, str] = {}  # watcher → the pause it holds (see _hold)
        self._listeners: list[StatusListener] = []
        self._status = EngineStatus(AgentState.WAITING, "starting", why=Why.STARTING)
        self._status_lock = threading.Lock()  # capture and control threads both set status
        self._display_problem: str | None = None
        self._source_problem: str | None = None  # configured event source not connected
        self._stop = threading.Event()
        self._watch_r, self._watch_w = socket.socketpair()  # wakes the watch (a clock wait)
        self._watch_r.setblocking(False)
        self._watchdog = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self._idle = threading.Event()
        self._idle.set()
        self.last_capture: PipelineStats | None = None  # figures of the last call (bench)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for rid in self.vault.recover_interrupted():
            log.warning("recording %s was interrupted by a stop; its sealed part is kept", rid)
            self._trace("recording interrupted", rid, "agent stopped during the call")
        self.purge()
        locator = self._locator_factory()
        if isinstance(locator, NullLocator):
            self._display_problem = locator.reason
        locator.close()
        self.refresh()
        self._watchdog.start()

    def stop(self, reason: str = "agent stopped") -> None:
        """End any recording (sealing what was captured) and stop the watchdog."""
        self._stop.set()
        self._wake_watch()
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
                path = layout.status_file(self.data_dir)
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                write_atomic(path, json.dumps(asdict(status)).encode())
            except OSError as exc:
                log.warning("cannot write status file: %s", exc)
        for fn in list(self._listeners):
            fn(status)

    def refresh(self, detail: str | None = None) -> EngineStatus:
        """Recompute the between-calls status from the policy, key, display and notice."""
        with self._lock:
            if self.session.state is not State.IDLE:
                return self._status
            status = self._idle_status()
            if detail and status.state in (AgentState.WAITING, AgentState.NOT_ENROLLED):
                status = replace(status, detail=self._with_site(detail))
            self._set_status(status)
            return status

    def _refresh_if_changed(self) -> None:
        with self._lock:
            if self.session.state is not State.IDLE:
                return
            new, old = self._idle_status(), self._status
            if (new.state, new.why, new.until, new.used, new.erasable) != (
                old.state, old.why, old.until, old.used, old.erasable
            ):  # fmt: skip
                self._set_status(new)

    def _idle_status(self) -> EngineStatus:
        status = self._idle_status_from_policy()
        erasable = self._erasable is not None and self._clock.now() < self._erasable[1]
        return replace(status, detail=self._with_site(status.detail), erasable=erasable)

    def _idle_status_from_policy(self) -> EngineStatus:
        try:
            policy = self._load_policy()
        except PolicyError as exc:
            self._note_policy(None, str(exc))
            return self._policy_refused(exc)
        self._note_policy(policy)
        today = dt.datetime.fromtimestamp(self._clock.now()).date()
        e = policy.enrolment_for(self.agent)
        if e is None or today > e.end:  # never recorded: nothing on the desk to ask
            v = readiness(policy, self.agent, DeskFacts(today))
            return EngineStatus(_STATES[v.ready], v.detail, why=v.why,
                                training=e.training if e else None,
                                until=e.end.isoformat() if e else None)  # fmt: skip
        try:
            load_public_key(installed_public_key_path(self.data_dir))
            key_problem = None
        except KeyProblem as exc:
            key_problem = str(exc)
        facts = DeskFacts(
            today,
            key_problem=key_problem,
            indicator_problem=NO_INDICATOR if self._no_indicator(policy) else None,
            display_problem=self._display_problem,
            source_problem=self._source_problem,
            hub_problem=self._hub_problem,
            free_bytes=free_bytes(self.vault.root),
            vault_problem=write_problem(self.vault.root, self.audit.path),
            acknowledged=self.acks.acknowledged(self.agent, notice_digest(policy, self.agent)),
            min_free=self.min_free_bytes,
        )
        v = readiness(policy, self.agent, facts)
        return EngineStatus(
            _STATES[v.ready],
            v.detail,
            training=e.training,
            until=e.end.isoformat(),
            used=self._used_this_week(today),
            weekly_quota=e.weekly_quota,
            why=v.why,
        )

    def _policy_refused(self, exc: PolicyError) -> EngineStatus:
        """A site desk before its first signed policy waits for it; otherwise the policy
        was refused. Both: nothing is recorded."""
        if self.on_site and not self.policy_path.exists():
            return EngineStatus(AgentState.CANNOT_RECORD, f"waiting for the site's policy ({exc})",
                                why=Why.POLICY_PENDING)  # fmt: skip
        return EngineStatus(AgentState.CANNOT_RECORD, f"policy refused: {exc}", why=Why.POLICY)

    def _used_this_week(self, today: dt.date) -> int:
        return used_this_week(self.vault.root, self.audit, self.agent, today, self._site_ids)

    # ------------------------------------------------------------------ notice (R2)
    def notice(self, language: str) -> Notice:
        try:
            policy = self._load_policy()
        except PolicyError as exc:
            head = "Règles d'enregistrement refusées" if language == "fr" else "Policy refused"
            return Notice(language, "agentapp", ((head, str(exc)),))
        return build_notice(policy, self.agent, language)

    def notice_needed(self) -> bool:
        try:
            policy = self._load_policy()
        except PolicyError:
            return False
        if policy.enrolment_for(self.agent) is None:
            return False
        return not self.acks.acknowledged(self.agent, notice_digest(policy, self.agent))

    def read_out(self, language: str) -> str:
        """What the agent can read to a caller who asks (core/notice.py read_out)."""
        try:
            return read_out(self._load_policy(), language)
        except PolicyError:
            return (
                "Aucun enregistrement n'est possible sur ce poste en ce moment."
                if language == "fr"
                else "Nothing can be recorded on this desk now."
            )

    def acknowledge_notice(self, language: str) -> None:
        with self._lock:
            policy = self._load_policy()
            digest = notice_digest(policy, self.agent)
            self.acks.record(self.agent, digest, language, self._clock.now())
            self._trace("notice acknowledged", f"notice {digest}", f"read in {language}")
            log.info("information notice acknowledged (%s)", language)
            self.refresh()

    # ------------------------------------------------------------------ messages
    def handle(self, message: Message) -> str:
        """Feed one hook message (call event or command); returns a one-line answer."""
        if isinstance(message, ControlCommand):
            if message.kind is ControlKind.PAUSE:
                return self.pause()
            if message.kind is ControlKind.RESUME:
                return self.resume()
            if message.kind is ControlKind.STATUS:  # from memory: a full disk cannot stale it
                return "ok: " + json.dumps(asdict(self.status), separators=(",", ":"))
            return self.caller_objects()
        return self.handle_event(message)

    def handle_event(self, event: CallEvent) -> str:
        with self._lock:
            if self._stop.is_set():
                return "ok: agent is stopping"
            t = self._tracker.feed(event)
            log.info("%s %s from %s", event.kind.value, short_id(event.call_id), event.source)
            if isinstance(t, Ignored):
                log.info("event %s for a call ignored: %s", event.kind.value, t.why)
                return f"ok: ignored ({t.why})"
            if isinstance(t, CallStarted):
                return self._on_started(t)
            return self._on_ended(t, "on-hook")

    def _on_started(self, call: CallStarted) -> str:
        self._erasable = None  # another caller now: the last call's recording is not theirs
        self._call_serial += 1
        if self.session.state is State.SEALING:
            # back to back (auto-answer queues): this call starts the moment the previous
            # one is sealed, and the gate decides it then (_on_capture_done)
            self._queued = call
            log.info("call %s waits for the last recording's sealing", short_id(call.call_id))
            return "ok: call noted (it is decided once the previous recording is sealed)"
        if self.session.state is not State.IDLE:
            log.info("call %s not recorded: another call is being recorded", short_id(call.call_id))
            return "ok: not recording (another call is being recorded)"
        try:
            policy = self._load_policy()
        except PolicyError as exc:
            self._note_policy(None, str(exc))
            self._set_status(self._policy_refused(exc))
            return "ok: not recording (policy refused)"
        self._note_policy(policy)
        if self._no_indicator(policy) and policy.enrolment_for(self.agent) is not None:
            self._set_status(EngineStatus(AgentState.CANNOT_RECORD, NO_INDICATOR,
                                          why=Why.INDICATOR))  # fmt: skip
            return "ok: not recording (no recording indicator on this desk)"
        today = dt.datetime.fromtimestamp(call.at).date()
        decision = decide(
            policy,
            self.agent,
            internal=call.internal,
            today=today,
            recorded_this_week=self._used_this_week(today),
            rng=self._rng,
            notice_acknowledged=self.acks.acknowledged(
                self.agent, notice_digest(policy, self.agent)
            ),
        )
        log.info("call started: %s", decision)
        if not decision.record:
            assert decision.reason is not None
            self.refresh(f"last call not recorded: {decision.reason.value}")
            return f"ok: not recording ({decision.reason.value})"
        try:
            public_key = load_public_key(installed_public_key_path(self.data_dir))
        except KeyProblem as exc:
            self._set_status(EngineStatus(AgentState.CANNOT_RECORD, str(exc), why=Why.KEY))
            return "ok: not recording (no recording key)"
        return self._begin(policy, call, public_key)

    def _begin(self, policy: Policy, call: CallStarted, public_key: X25519PublicKey) -> str:
        free = free_bytes(self.vault.root)
        if free < self.min_free_bytes:
            self._set_status(EngineStatus(AgentState.CANNOT_RECORD, disk_full(free), why=Why.DISK))
            return "ok: not recording (disk full)"
        enrolment = policy.enrolment_for(self.agent)
        try:
            writer = self.vault.begin(
                self.agent,
                call.at,
                " / ".join(r.name for r in policy.applications),
                policy.retention_days,
                training=enrolment.training if enrolment else "",
            )
        except OSError as exc:
            why = f"cannot write recordings: {exc}"
            self._set_status(EngineStatus(AgentState.CANNOT_RECORD, why, why=Why.VAULT))
            return "ok: not recording (vault not writable)"
        if self._reserve is not None:  # R6 across desks: the hub counts the week (docs/hub.md)
            answer = self._reserve(writer.meta.id, self.agent)
            if answer != HUB_RESERVED:
                writer.discard()
                if answer == HUB_DOWN:
                    self.hub_problem(f"site hub unreachable: calls are not recorded ({answer})")
                    return "ok: not recording (site hub unreachable)"
                self.refresh(f"last call not recorded: {answer} (site hub)")
                return f"ok: not recording ({answer}, site hub)"
        try:  # R8: no recording that the trail does not know about
            self.audit.append(self.agent, "recording started", writer.meta.id, writer.meta.training)
        except AuditError as exc:
            writer.discard()
            self._release(writer.meta.id)  # no trail entry will give the hub's slot back
            self._set_status(EngineStatus(AgentState.CANNOT_RECORD, str(exc), why=Why.VAULT))
            return "ok: not recording (audit trail unavailable)"
        self._idle.clear()
        self._pauses.clear()
        self._held.clear()
        self._silence.set(False)
        self.session.arm(max_seconds=policy.max_call_minutes * 60)
        base = self._status
        serial = self._call_serial
        self._pipeline = CapturePipeline(
            session=self.session,
            clock=self._clock,
            rules=policy.applications,
            sensitive=policy.sensitive,
            fps=(enrolment.fps if enrolment and enrolment.fps else policy.fps),
            segment_seconds=policy.segment_seconds,
            started_at=call.at,
            sink=SealingSink(writer, public_key),
            locator_factory=self._locator_factory,
            grabber_factory=self._grabber_factory,
            reader_factory=self._reader_factory,
            page_factory=self._page_factory,
            session_lock_factory=self._session_lock_factory,
            voice_factory=self._voice_for(policy, call.at),
            lookbehind_s=policy.lookbehind_ms / 1000,
            on_mode=lambda mode, why: self._on_capture_mode(writer, mode, why),
            on_status=lambda s: self._on_capture_status(writer, s),
            on_sensitive=self._on_sensitive,
            on_lock=self._on_lock,
            on_done=functools.partial(self._on_capture_done, writer, call.at, serial=serial),
        )
        self._set_status(
            EngineStatus(
                AgentState.RECORDING,
                "recording for training",
                writer.meta.id,
                training=base.training,
                until=base.until,
                used=base.used,
                weekly_quota=base.weekly_quota,
                application=writer.meta.application,
            )
        )
        self._pipeline.start()
        self._wake_watch()  # its disk and maximum-length checks begin
        return "ok: recording"

    def _voice_for(self, policy: Policy, started_at: float) -> Callable[[], VoiceRecorder] | None:
        """The call's voice recorder, if the policy records this agent's voice."""
        if policy.voice_for(self.agent) != VOICE_SOFTPHONE or policy.softphone is None:
            return None
        streams = self._voice_factory(policy.softphone) if self._voice_factory else None
        if streams is None:
            self._no_voice = "no voice: the softphone's sound cannot be read on this desk"
            return None
        self._no_voice = ""

        def recorder() -> VoiceRecorder:
            return VoiceRecorder(streams, clock=self._clock, started_at=started_at,
                                 silence=self._silence, on_state=self._on_voice,
                                 lookbehind_s=policy.lookbehind_ms / 1000)  # fmt: skip

        return recorder

    def _on_voice(self, state: str) -> None:
        """Voice thread: the call's voice is recorded now, or why not."""
        with self._lock:
            if self._status.recording:
                self._set_status(replace(self._status, voice=state))
        if state.startswith("no voice"):
            log.warning("%s", state)

    def _on_ended(self, ended: CallEnded, reason: str) -> str:
        queued = self._queued
        if queued is not None and (ended.handset_idle or ended.call_id == queued.call_id):
            self._queued = None
            log.info("call %s not recorded: it ended before the previous recording was sealed",
                     short_id(ended.call_id))  # fmt: skip
            self._last_skip = "it ended before the previous recording was sealed"
        if not ended.handset_idle:
            return "ok: call ended (another call is still active)"
        if self.session.state in _ACTIVE:
            self.session.stop(reason, at=ended.at)
            self._wake()
            return "ok: recording stopped"
        return "ok: call ended"

    def _wake(self) -> None:
        if self._pipeline is not None:
            self._pipeline.wake()

    # ------------------------------------------------------------------ event sources
    def expect_source(self, describe: str) -> None:
        """A socket event source is configured: no recording until it is connected."""
        self._source_problem = f"event source {describe}: connecting"
        self.refresh()

    def source_down(self, source: str, reason: str, at: float) -> None:
        """Fail closed: the source's calls end now (their recordings are sealed)."""
        with self._lock:
            self._source_problem = f"event source {source} down: {reason}"
            ended = self._tracker.end_all(at, source=source)
            for e in ended:
                self._on_ended(e, f"event source lost ({reason})")
            if ended:
                log.warning("event source %s lost during %d call(s): recording stopped",
                            source, len(ended))  # fmt: skip
            self.refresh()

    def source_up(self, source: str, active: list[CallFact], at: float) -> None:
        """Re-sync after (re)connecting: calls that ended meanwhile are closed, calls that
        started meanwhile are picked up (unless they were cut when the source was lost)."""
        with self._lock:
            self._source_problem = None
            now_active = {f.call_id for f in active}
            for cid in self._tracker.active_from(source):
                if cid not in now_active:
                    self.handle_event(CallEvent(EventKind.ON_HOOK, cid, at, source=source))
            for f in active:
                self.handle_event(CallEvent(EventKind.OFF_HOOK, f.call_id, at, f.internal, source))
            self.refresh()

    # ------------------------------------------------------------------ secure pause (R10)
    def pause(self, reason: str = PAUSE_AGENT) -> str:
        """Stop writing frames at once. Pauses stack: each reason must be lifted to resume."""
        with self._lock:
            if self.session.state not in _ACTIVE:
                return "ok: nothing to pause (not recording)"
            self._pauses.add(reason)
            self._update_silence()
            if self.session.state is not State.PAUSED:
                self.session.pause()
                log.info("recording paused (%s)", reason)
                self._trace("recording paused", self._status.recording_id or "", _why(reason))
            self._set_status(
                self._recording_status(AgentState.PAUSED, self._pause_detail(), self._pause_why())
            )
            self._wake()
            return "ok: paused"

    def resume(self, reason: str = PAUSE_AGENT) -> str:
        with self._lock:
            self._pauses.discard(reason)
            self._update_silence()
            if self.session.state is not State.PAUSED:
                return "ok: not paused"
            if self._pauses:
                self._set_status(
                    self._recording_status(
                        AgentState.PAUSED, self._pause_detail(), self._pause_why()
                    )
                )
                return f"ok: still paused ({self._pause_detail()})"
            self.session.resume()
            log.info("recording resumed")
            self._trace("recording resumed", self._status.recording_id or "", _why(reason))
            self._set_status(self._recording_status(AgentState.RECORDING, "recording for training",
                                                    Why.NONE))  # fmt: skip
            self._wake()
            return "ok: resumed"

    def _update_silence(self) -> None:
        """The voice is silenced by the agent's secure pause and by a sensitive window, not by
        a lock or a hidden window (those keep their meaning for the video only)."""
        self._silence.set(PAUSE_AGENT in self._pauses or "sensitive" in self._held,
                          self._clock.now())  # fmt: skip

    def toggle_pause(self) -> str:
        with self._lock:
            if PAUSE_AGENT in self._pauses:
                return self.resume(PAUSE_AGENT)
            return self.pause(PAUSE_AGENT)

    def _pause_detail(self) -> str:
        why = sorted("by the agent" if r == PAUSE_AGENT else r for r in self._pauses)
        return "paused " + " and ".join(why) + ": nothing is written"

    def _on_sensitive(self, name: str | None) -> None:
        """Capture thread: a sensitive window appeared (name) or all are gone (None)."""
        self._hold("sensitive", None if name is None else f"while '{name}' is visible")

    def _on_lock(self, why: str | None) -> None:
        """Capture thread: the screen looks locked (why) or no longer (None)."""
        self._hold("lock", None if why is None else f"while {why}")

    def _hold(self, watcher: str, reason: str | None) -> None:
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

    def _pause_why(self) -> Why:
        """The pause a trainee is told about first: the lock, a sensitive window, their own."""
        if "lock" in self._held:
            return Why.LOCKED
        return Why.SENSITIVE if "sensitive" in self._held else Why.AGENT_PAUSE

    def _recording_status(
        self, state: AgentState, detail: str, why: Why, *, writing: bool = True
    ) -> EngineStatus:
        return replace(self._status, state=state, detail=detail, why=why, writing=writing)

    # ------------------------------------------------------------------ caller objects (R15)
    def _no_indicator(self, policy: Policy) -> bool:
        """Headless (no tray, no badge) on a desk the policy does not name (R2: a trainee is
        always shown that they are recorded; kiosks with an indicator of their own are listed
        in headless_desks)."""
        return self.headless and socket.gethostname() not in policy.headless_desks

    def use_site(
        self, erase: Callable[[str], None], ids_since: Callable[[str, float], set[str]]
    ) -> None:
        """On a site: erasing the last call's recording also withdraws its delivered copy,
        and the weekly quota counts the agent's recordings at the site too
        (site/shipper.py RecordingShipper.withdraw, .ids_since)."""
        self._erase, self._site_ids = erase, ids_since

    def use_hub(
        self,
        reserve: Callable[[str, str], str],
        erase: Callable[[str], None],
        release: Callable[[str], None],
    ) -> None:
        """With a site hub: each recording's weekly slot is reserved there at off-hook
        (`reserve(recording id, agent)` → HUB_RESERVED, HUB_DOWN or the hub's refusal),
        given back (`release(recording id)`) when the recording cannot start after all, and
        erasing the last call's recording withdraws it there too (hub/link.py)."""
        self._reserve, self._erase, self._release = reserve, erase, release

    def hub_problem(self, problem: str | None) -> None:
        """The hub stopped (or started again) answering: between calls the tray says so.
        Called from the hub link's thread and the engine's."""
        with self._lock:
            if problem == self._hub_problem:
                return
            self._hub_problem = problem
            self.refresh()

    def caller_objects(self) -> str:
        """Stop the current recording and erase what it captured, or, within
        CALLER_OBJECTS_AFTER_S of the on-hook, erase the last call's recording (sealed, or
        delivered to the site). Logged without content."""
        if self.session.state is State.SEALING:
            self.wait_idle(10)  # the last call is being sealed: erase it once it is
        with self._lock:
            if self.session.state not in _ACTIVE:
                return self._erase_last()
            self.session.discard("caller objects")
            self._wake()
            log.warning("the caller objected: recording stopped and erased")
            self._trace("recording discarded", self._status.recording_id or "", "caller objects")
            return "ok: recording stopped and erased"

    def _erase_last(self) -> str:
        last, self._erasable = self._erasable, None
        if last is None or self._clock.now() >= last[1]:
            minutes = round(CALLER_OBJECTS_AFTER_S / 60)
            return f"ok: nothing to discard (no recording in the last {minutes} minutes)"
        try:
            self._erase(last[0])
        except (OSError, VaultError) as exc:
            log.error("could not erase recording %s everywhere: %s", last[0], exc)
            self._trace("recording discarded", last[0], f"caller objects after the call; {exc}")
            self.refresh()
            return f"error: the recording could not be erased everywhere ({exc}); tell IT"
        log.warning("the caller objected after the call: the last recording was erased")
        self._trace("recording discarded", last[0], "caller objects (after the call)")
        self.refresh()
        return "ok: the last call's recording was erased"

    # ------------------------------------------------------------------ capture callbacks
    def _on_capture_mode(self, writer: RecordingWriter, mode: CaptureMode, why: str) -> None:
        """Capture thread, once per call: how pixels are read (kept, traced, shown)."""
        writer.meta.capture_mode, writer.meta.capture_note = mode.value, why
        if mode is CaptureMode.MASKED:
            log.warning("masked capture for this call: %s", why)
        self._trace("capture mode", writer.meta.id, f"{mode.value}{': ' + why if why else ''}")

    def _on_capture_status(self, writer: RecordingWriter, text: str) -> None:
        if self.session.state is not State.RECORDING:
            return
        masked = writer.meta.capture_mode == CaptureMode.MASKED.value
        note = f" (masked capture: {writer.meta.capture_note})" if masked else ""
        writing = text == "recording"
        detail = f"recording for training{note}" if writing else f"not writing: {text}"
        status = self._recording_status(AgentState.RECORDING, detail,
                                        Why.NONE if writing else Why.HIDDEN,
                                        writing=writing)  # fmt: skip
        self._set_status(replace(status, application=writer.meta.application))

    def _on_capture_done(
        self, writer: RecordingWriter, started_at: float, stats: PipelineStats, *, serial: int = 0
    ) -> None:
        """Runs on the capture thread when it has sealed (or abandoned) its last segment."""
        self.last_capture = stats
        info = self.session.info
        log.info("capture ended: %d frames written, %d ticks held unchanged, %d not visible or "
                 "not drawn, %d reads dropped, %d late ticks", stats.frames, stats.unchanged,
                 stats.hidden_ticks, stats.dropped, stats.late_ticks)  # fmt: skip
        try:
            if self.session.state is State.IDLE:
                writer.discard()
                log.info("nothing kept for this call: %s", info.end_reason or stats.failure)
                self._trace("recording not kept", writer.meta.id, info.end_reason or stats.failure)
            elif stats.frames == 0:
                writer.discard()
                why = stats.failure or stats.why_nothing()
                log.info("nothing kept for this call: %s", why)
                self._trace("recording not kept", writer.meta.id, why)
            else:
                if stats.application:
                    writer.meta.application = stats.application
                writer.meta.unchanged_frames = stats.unchanged
                writer.meta.dropped_frames = stats.dropped
                writer.meta.late_ticks = stats.late_ticks
                writer.meta.voice = stats.voice or self._no_voice
                stop_at = info.stop_at if info.stop_at is not None else self._clock.now()
                spans = [(a - started_at, b - started_at) for a, b in info.paused_spans]
                meta = writer.finish(stop_at - started_at, spans, info.end_reason)
                if serial == self._call_serial:  # no other call began since this one
                    self._erasable = (meta.id, self._clock.now() + CALLER_OBJECTS_AFTER_S)
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
                    meta.dropped_frames, meta.late_ticks, meta.segments, meta.size_bytes,
                    len(spans),
                )  # fmt: skip
        except OSError as exc:
            log.error("could not finish recording %s: %s", writer.meta.id, exc)
            self._trace("recording stopped", writer.meta.id, f"could not finish: {exc}")
        finally:
            try:
                if self.session.state is State.SEALING:
                    self.session.sealed()
            except InvalidTransition:
                pass
            with self._lock:
                self._pipeline = None
                self._pauses.clear()
                self._held.clear()
                self._silence.set(False)
            if stats.failure:
                self._set_status(EngineStatus(AgentState.CANNOT_RECORD, stats.failure,
                                              why=Why.CAPTURE))  # fmt: skip
            else:
                skipped, self._last_skip = self._last_skip, None
                self.refresh(f"last call not recorded: {skipped}" if skipped else None)
            self._idle.set()
            with self._lock:
                queued, self._queued = self._queued, None
                if queued is not None and not self._stop.is_set():
                    log.info("call %s (back to back): %s", short_id(queued.call_id),
                             self._on_started(queued))  # fmt: skip

    # ------------------------------------------------------------------ retention, trail, disk
    def purge(self) -> int:
        """Delete what passed its deadline (R9). Returns how many items went."""
        self._last_purge = self._clock.now()
        try:
            policy: Policy | None = self._load_policy()
        except PolicyError:
            policy = None
        try:
            return len(purge_expired(self.data_dir, self._clock.now(), policy, self.audit))
        except OSError as exc:
            log.error("purge failed: %s", exc)
            return 0

    def site_policy_problem(self, problem: str | None) -> None:
        """The site's policy was refused (or is fine again): the last good one stays in force,
        and the status says why. Called from the policy-sync thread."""
        with self._lock:
            if problem == self._site_problem:
                return
            self._site_problem = problem
            if problem:
                log.warning("%s", problem)
            self.refresh()  # between calls; during one, the tray keeps showing the recording

    def _with_site(self, detail: str) -> str:
        return f"{detail} — {self._site_problem}" if self._site_problem else detail

    def on_policy(self, listener: Callable[[Policy], None]) -> None:
        """`listener` gets every policy this engine reads (and the current one now)."""
        self._policy_listeners.append(listener)
        try:
            listener(self._load_policy())
        except PolicyError:
            pass  # said in the status; the listener hears the next good one

    def _note_policy(self, policy: Policy | None, problem: str = "") -> None:
        """Every policy read goes to the listeners; a change is traced once (policy_seen.py)."""
        if policy is not None:
            for listener in self._policy_listeners:
                listener(policy)
        self._policy_seen.note(policy, problem, self.policy_path.name)

    def _trace(self, action: str, target: str, reason: str) -> None:
        try:
            self.audit.append(self.agent, action, target, reason)
        except AuditError as exc:
            log.error("not written to the audit trail (%s %s): %s", action, target, exc)

    def _stop_for_disk(self, free: int) -> None:
        """Stop while there is still room to seal what was captured; the tray says why."""
        with self._lock:
            if self.session.state not in _ACTIVE:
                return
            log.error("disk almost full: recording stopped")
            try:
                self.session.stop("disk full")
            except InvalidTransition:
                return
            self._wake()
        self._set_status(EngineStatus(AgentState.CANNOT_RECORD, disk_full(free), why=Why.DISK))

    # ------------------------------------------------------------------ watchdog
    def _watch(self) -> None:
        """Wakes only when something is due: a look at the policy every REFRESH_EVERY_S, and
        during a call the disk every DISK_EVERY_S and the call's maximum length at its
        deadline (a call's start wakes it: `_wake_watch`)."""
        now = self._clock.now()
        next_refresh, next_disk = now + REFRESH_EVERY_S, now + DISK_EVERY_S
        while not self._stop.is_set():
            active = self.session.state in _ACTIVE
            due = [next_refresh]
            if active:
                deadline = self.session.info.deadline
                due += [next_disk] if deadline is None else [next_disk, deadline]
            if self._clock.wait([self._watch_r.fileno()], min(due) - self._clock.now()):
                with contextlib.suppress(OSError):
                    self._watch_r.recv(64)
                if self._stop.is_set():
                    return
            now = self._clock.now()
            if not active:
                next_disk = max(next_disk, now + DISK_EVERY_S)  # a call began: from its start
            if now >= next_refresh:  # pick up a policy edit or an acknowledgement
                next_refresh = now + REFRESH_EVERY_S
                self._refresh_if_changed()
                if now - self._last_purge >= PURGE_EVERY_S:
                    self.purge()
            if active and now >= next_disk:
                next_disk = now + DISK_EVERY_S
                free = free_bytes(self.vault.root)
                if free < self.min_free_bytes // 4:
                    self._stop_for_disk(free)
            if self.session.overdue():
                log.warning("call passed the maximum call length: recording cut")
                with self._lock:
                    try:  # cut at the deadline itself, whenever the watch woke
                        self.session.stop(
                            "cut at maximum call length", at=self.session.info.deadline
                        )
                    except InvalidTransition:
                        continue
                    self._wake()

    def _wake_watch(self) -> None:
        with contextlib.suppress(OSError):
            self._watch_w.send(b"\0")


def _why(reason: str) -> str:
    return "by the agent" if reason == PAUSE_AGENT else reason
