"""The engine: the Qt-free heart of the agent (call events in, sealed recordings out).

It owns the call tracker, the recorder session, the vault and the gate; the current call's
recording is a `Recording` of its own (recording.py), the between-calls status a `DeskStatus`
(desk.py), the notice `Notices` (notices.py), the periodic checks a `Watchdog` (watchdog.py).
The tray (ui/) and the headless runner only observe `status` and call the public methods
(`handle`, `pause`, `resume`, `toggle_pause`, `caller_objects`, `notices`, `desk`).

Threading: every public method may be called from any thread (hook server, hotkey listener,
Qt thread); one lock serialises them (an RLock the rooms share). Status listeners run on
whichever thread changed the status and must not block; a UI marshals them to its own
thread (ui.bridge does).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from agentapp.agent.desk import NO_INDICATOR, DeskStatus
from agentapp.agent.notices import Notices
from agentapp.agent.policy_seen import PolicySeen
from agentapp.agent.recording import ACTIVE, PAUSE_AGENT, CaptureFactories, LastCall, Recording
from agentapp.agent.status import AgentState, EngineStatus, StatusBoard, StatusListener
from agentapp.agent.watchdog import Watchdog
from agentapp.capture.lookbehind import PipelineStats
from agentapp.capture.voice import Streams
from agentapp.core.calls import CallEnded, CallStarted, CallTracker, Ignored
from agentapp.core.clock import Clock, SystemClock
from agentapp.core.events import (
    CallEvent,
    CallFact,
    ControlCommand,
    ControlKind,
    Message,
    short_id,
)
from agentapp.core.gate import HUB_DOWN, HUB_RESERVED, decide
from agentapp.core.policy import Policy, PolicyError, SoftphoneRule, load_policy
from agentapp.core.readiness import MIN_FREE_BYTES, Why, disk_full
from agentapp.core.session import InvalidTransition, RecorderSession, State
from agentapp.files import layout
from agentapp.platform.base import (
    FrameReader,
    NullLocator,
    PageWatcher,
    ScreenGrabber,
    SessionLock,
    WindowLocator,
)
from agentapp.vault.acknowledgements import AcknowledgementStore
from agentapp.vault.audit import AuditError, AuditLog
from agentapp.vault.keys import KeyProblem, installed_public_key_path, load_public_key
from agentapp.vault.purge import purge_expired
from agentapp.vault.store import Vault, free_bytes

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0


class Engine:
    def __init__(
        self,
        *,
        agent: str,
        data_dir: Path,
        policy_path: Path,
        locator_factory: Callable[[], WindowLocator],
        grabber_factory: Callable[[], ScreenGrabber],
        clock: Clock | None = None,
        rng: random.Random | None = None,
        audit: AuditLog | None = None,
        min_free_bytes: int = MIN_FREE_BYTES,
        policy_loader: Callable[[], Policy] | None = None,
        reader_factory: Callable[[], FrameReader] | None = None,
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
        self._policy_seen = PolicySeen(data_dir, self._trace, policy_path.name)
        self.audit = audit or AuditLog.in_dir(data_dir)
        self._last_purge = float("-inf")
        self.data_dir = data_dir
        self.policy_path = policy_path
        self._clock = clock or SystemClock()
        self._rng = rng or random.SystemRandom()
        self._factories = CaptureFactories(locator_factory, grabber_factory, reader_factory,
                                           page_factory, session_lock_factory,
                                           voice_factory)  # fmt: skip
        self.vault = Vault(layout.recordings(data_dir))
        acks = AcknowledgementStore(layout.acknowledgements(data_dir))
        self.session = RecorderSession(self._clock)
        self._lock = threading.RLock()
        self._board = StatusBoard(data_dir)
        self.notices = Notices(agent=agent, load_policy=self._load_policy, acks=acks,
                               clock=self._clock, lock=self._lock, trace=self._trace,
                               on_acknowledged=self.refresh)  # fmt: skip
        self.desk = DeskStatus(agent=agent, data_dir=data_dir, policy_path=policy_path,
                               vault=self.vault, acks=acks, audit=self.audit, clock=self._clock,
                               load_policy=self._load_policy, note_policy=self._policy_seen.note,
                               headless=headless, on_site=on_site,
                               min_free_bytes=min_free_bytes)  # fmt: skip
        self.desk.on_change = self.refresh
        self._last = LastCall(self._clock, self.vault.delete, self._trace)  # on a site: use_site
        self._reserve: Callable[[str, str], str] | None = None  # the hub's slot (use_hub)
        self._release: Callable[[str], None] = lambda recording_id: None
        self._tracker = CallTracker()
        self._rec: Recording | None = None  # the call being recorded, until it is sealed
        self._queued: CallStarted | None = None  # answered while the last call was sealing
        self._last_skip: str | None = None  # why a queued call was not recorded
        self._stop = threading.Event()
        self._watchdog = Watchdog(self._clock, self.session,
                                  lambda: self.session.state in ACTIVE,
                                  look_again=self._look_again, check_disk=self._check_disk,
                                  overdue=self._overdue)  # fmt: skip
        self._idle = threading.Event()
        self._idle.set()
        self.last_capture: PipelineStats | None = None  # figures of the last call (bench)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for rid in self.vault.recover_interrupted():
            log.warning("recording %s was interrupted by a stop; its sealed part is kept", rid)
            self._trace("recording interrupted", rid, "agent stopped during the call")
        self._purge()
        locator = self._factories.locator()
        if isinstance(locator, NullLocator):
            self.desk.display = locator.reason
        locator.close()
        self.refresh()
        self._watchdog.start()

    def stop(self, reason: str = "agent stopped") -> None:
        """End any recording (sealing what was captured) and stop the watchdog."""
        self._stop.set()
        self._watchdog.stop()
        with self._lock:
            for ended in self._tracker.end_all(self._clock.now()):
                self._on_ended(ended, reason)
        self.wait_idle(timeout=15)
        self._watchdog.join(timeout=2)

    def wait_idle(self, timeout: float) -> bool:
        """Block until no recording is active or sealing (tests, shutdown)."""
        return self._idle.wait(timeout)

    # ------------------------------------------------------------------ status
    @property
    def status(self) -> EngineStatus:
        return self._board.current

    def add_status_listener(self, fn: StatusListener) -> None:
        self._board.listen(fn)

    def refresh(self, detail: str | None = None) -> EngineStatus:
        """Recompute the between-calls status from the policy, key, display and notice."""
        with self._lock:
            if self.session.state is not State.IDLE:
                return self.status
            status = self.desk.between_calls(self._last.erasable())
            if detail and status.state in (AgentState.WAITING, AgentState.NOT_ENROLLED):
                status = replace(status, detail=self.desk.with_site(detail))
            self._board.set(status)
            return status

    def _look_again(self) -> None:
        """Watchdog: pick up a policy edit or an acknowledgement; the hourly purge."""
        with self._lock:
            if self.session.state is State.IDLE:
                new = self.desk.between_calls(self._last.erasable())
                if new.shown() != self.status.shown():
                    self._board.set(new)
        if self._clock.now() - self._last_purge >= PURGE_EVERY_S:
            self._purge()

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
        serial = self._last.began()
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
            self._policy_seen.note(None, str(exc))
            self._board.set(self.desk.refused(exc))
            return "ok: not recording (policy refused)"
        self._policy_seen.note(policy)
        if self.desk.no_indicator(policy) and policy.enrolment_for(self.agent) is not None:
            self._board.set(EngineStatus(AgentState.CANNOT_RECORD, NO_INDICATOR,
                                         why=Why.INDICATOR))  # fmt: skip
            return "ok: not recording (no recording indicator on this desk)"
        today = dt.datetime.fromtimestamp(call.at).date()
        decision = decide(
            policy,
            self.agent,
            internal=call.internal,
            today=today,
            recorded_this_week=self.desk.used_this_week(today),
            rng=self._rng,
            notice_acknowledged=self.notices.acknowledged(policy),
        )
        log.info("call started: %s", decision)
        if not decision.record:
            assert decision.reason is not None
            self.refresh(f"last call not recorded: {decision.reason.value}")
            return f"ok: not recording ({decision.reason.value})"
        try:
            public_key = load_public_key(installed_public_key_path(self.data_dir))
        except KeyProblem as exc:
            self._board.set(EngineStatus(AgentState.CANNOT_RECORD, str(exc), why=Why.KEY))
            return "ok: not recording (no recording key)"
        return self._begin(policy, call, public_key, serial)

    def _begin(
        self, policy: Policy, call: CallStarted, public_key: X25519PublicKey, serial: int
    ) -> str:
        free = free_bytes(self.vault.root)
        if free < self.desk.min_free_bytes:
            self._board.set(EngineStatus(AgentState.CANNOT_RECORD, disk_full(free), why=Why.DISK))
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
            self._board.set(EngineStatus(AgentState.CANNOT_RECORD, why, why=Why.VAULT))
            return "ok: not recording (vault not writable)"
        if self._reserve is not None:  # R6 across desks: the hub counts the week (docs/hub.md)
            answer = self._reserve(writer.meta.id, self.agent)
            if answer != HUB_RESERVED:
                writer.discard()
                if answer == HUB_DOWN:
                    self.desk.hub_problem(
                        f"site hub unreachable: calls are not recorded ({answer})"
                    )
                    return "ok: not recording (site hub unreachable)"
                self.refresh(f"last call not recorded: {answer} (site hub)")
                return f"ok: not recording ({answer}, site hub)"
        try:  # R8: no recording that the trail does not know about
            self.audit.append(self.agent, "recording started", writer.meta.id, writer.meta.training)
        except AuditError as exc:
            writer.discard()
            self._release(writer.meta.id)  # no trail entry will give the hub's slot back
            self._board.set(EngineStatus(AgentState.CANNOT_RECORD, str(exc), why=Why.VAULT))
            return "ok: not recording (audit trail unavailable)"
        self._idle.clear()
        self.session.arm(max_seconds=policy.max_call_minutes * 60)
        rec = self._rec = Recording(writer, started_at=call.at, serial=serial,
                                    session=self.session, clock=self._clock, board=self._board,
                                    lock=self._lock, trace=self._trace)  # fmt: skip
        rec.start(policy, self.agent, public_key, self._factories,
                  on_done=functools.partial(self._on_capture_done, rec))  # fmt: skip
        self._watchdog.wake()  # its disk and maximum-length checks begin
        return "ok: recording"

    def _on_ended(self, ended: CallEnded, reason: str) -> str:
        queued = self._queued
        if queued is not None and (ended.handset_idle or ended.call_id == queued.call_id):
            self._queued = None
            log.info("call %s not recorded: it ended before the previous recording was sealed",
                     short_id(ended.call_id))  # fmt: skip
            self._last_skip = "it ended before the previous recording was sealed"
        if not ended.handset_idle:
            return "ok: call ended (another call is still active)"
        if self._cut(reason, ended.at):
            return "ok: recording stopped"
        return "ok: call ended"

    def _cut(self, reason: str, at: float | None = None) -> bool:
        """Stop the call's recording (at `at`, default now): what was captured is sealed."""
        with self._lock:
            if self.session.state not in ACTIVE:
                return False
            try:
                self.session.stop(reason, at=at)
            except InvalidTransition:
                return False
            if self._rec is not None:
                self._rec.wake()
            return True

    # ------------------------------------------------------------------ event sources
    def source_down(self, source: str, reason: str, at: float) -> None:
        """Fail closed: the source's calls end now (their recordings are sealed)."""
        with self._lock:
            self.desk.source = f"event source {source} down: {reason}"
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
            self.desk.source = None
            for event in self._tracker.resync(source, active, at):
                self.handle_event(event)
            self.refresh()

    # ------------------------------------------------------------------ secure pause (R10)
    def pause(self, reason: str = PAUSE_AGENT) -> str:
        """Stop writing frames at once. Pauses stack: each reason must be lifted to resume."""
        with self._lock:
            rec = self._rec
            return rec.pause(reason) if rec else "ok: nothing to pause (not recording)"

    def resume(self, reason: str = PAUSE_AGENT) -> str:
        with self._lock:
            return self._rec.resume(reason) if self._rec else "ok: not paused"

    def toggle_pause(self) -> str:
        with self._lock:
            return self._rec.toggle() if self._rec else "ok: nothing to pause (not recording)"

    # ------------------------------------------------------------------ site and hub
    def use_site(
        self, erase: Callable[[str], None], ids_since: Callable[[str, float], set[str]]
    ) -> None:
        """On a site: erasing the last call also withdraws its delivered copy, and the weekly
        quota counts the agent's recordings there too (site/shipper.py)."""
        self._last.erase_with, self.desk.ids_since = erase, ids_since

    def use_hub(self, reserve: Callable[[str, str], str], erase: Callable[[str], None],
                release: Callable[[str], None]) -> None:  # fmt: skip
        """With a hub (hub/link.py): each recording's weekly slot is reserved there at its
        off-hook (`reserve(id, agent)` → HUB_RESERVED, HUB_DOWN or the hub's refusal), given
        back when it cannot start after all, and erasing the last call withdraws it there."""
        self._reserve, self._last.erase_with, self._release = reserve, erase, release

    # ------------------------------------------------------------------ caller objects (R15)
    def caller_objects(self) -> str:
        """Stop the current recording and erase what it captured, or, within
        CALLER_OBJECTS_AFTER_S of the on-hook, erase the last call's recording (sealed, or
        delivered to the site). Logged without content."""
        if self.session.state is State.SEALING:
            self.wait_idle(10)  # the last call is being sealed: erase it once it is
        with self._lock:
            if self.session.state not in ACTIVE or self._rec is None:
                answer = self._last.erase()
                self.refresh()
                return answer
            self.session.discard("caller objects")
            self._rec.wake()
            log.warning("the caller objected: recording stopped and erased")
            self._trace("recording discarded", self._rec.id, "caller objects")
            return "ok: recording stopped and erased"

    # ------------------------------------------------------------------ the end of a call
    def _on_capture_done(self, rec: Recording, stats: PipelineStats) -> None:
        """Runs on the capture thread when it has sealed (or abandoned) its last segment."""
        self.last_capture = stats
        try:
            meta = rec.seal(stats, self.session.info, discarded=self.session.state is State.IDLE)
            if meta is not None:
                with self._lock:
                    self._last.sealed(meta.id, rec.serial)
        finally:
            try:
                if self.session.state is State.SEALING:
                    self.session.sealed()
            except InvalidTransition:
                pass
            with self._lock:
                self._rec = None
            if stats.failure:
                self._board.set(EngineStatus(AgentState.CANNOT_RECORD, stats.failure,
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
    def on_policy(self, listener: Callable[[Policy], None]) -> None:
        """`listener` gets every policy this engine reads (and the current one now)."""
        self._policy_seen.listeners.append(listener)
        try:
            listener(self._load_policy())
        except PolicyError:
            pass  # said in the status; the listener hears the next good one

    def _purge(self) -> None:
        """Delete what passed its deadline (R9)."""
        self._last_purge = self._clock.now()
        purge_now(self.data_dir, self._last_purge, self._load_policy, self.audit)

    def _trace(self, action: str, target: str, reason: str) -> None:
        self.audit.trace(self.agent, action, target, reason)

    def _check_disk(self) -> None:
        """Watchdog, during a call: stop while there is still room to seal what was
        captured; the tray says why."""
        free = free_bytes(self.vault.root)
        if free < self.desk.min_free_bytes // 4 and self._cut("disk full"):
            log.error("disk almost full: recording stopped")
            self._board.set(EngineStatus(AgentState.CANNOT_RECORD, disk_full(free), why=Why.DISK))

    def _overdue(self, deadline: float) -> None:
        if self._cut("cut at maximum call length", deadline):
            log.warning("call passed the maximum call length: recording cut")


def purge_now(data_dir: Path, now: float, load: Callable[[], Policy], audit: AuditLog) -> int:
    """Delete what passed its deadline (R9), by the policy if it can be read; how many went."""
    try:
        policy: Policy | None = load()
    except PolicyError:
        policy = None
    try:
        return len(purge_expired(data_dir, now, policy, audit))
    except OSError as exc:
        log.error("purge failed: %s", exc)
        return 0
