"""The engine with a fake window and grabber: real threads, real encoder, real sealing."""

from __future__ import annotations

import functools
import random
import socket
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.agent.engine import Engine
from agentapp.core.clock import Clock
from agentapp.core.events import MAX_CLIENT_LAG_S, CallEvent, EventKind
from agentapp.core.geometry import Rect
from agentapp.platform.base import NullLocator
from agentapp.vault.audit import AuditLog
from agentapp.vault.export import iter_frames, open_segments
from agentapp.vault.keys import public_key_path, write_public_key
from tests.fakes import FakeGrabber, FakeLocator, FakePages, MemoryAuditKeys, SimClock
from tests.policies import policy_text


@pytest.fixture
def key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def make_engine(
    tmp_path: Path,
    key: X25519PrivateKey,
    locator: object,
    agent: str = "alice",
    ack: bool = True,
    audit_keys: object = None,
    min_free_bytes: int = 0,
    pages: object = None,
    clock: object = None,
    **policy: object,
) -> Engine:
    """The look-behind is off unless a test asks for it (its own tests are further down):
    the other tests here count frames of calls that last about a second."""
    policy.setdefault("lookbehind_ms", 0)
    (tmp_path / "policy.toml").write_text(policy_text(**policy))  # type: ignore[arg-type]
    write_public_key(key.public_key(), public_key_path(tmp_path))
    grabber = FakeGrabber()
    sim = clock if clock is not None else SimClock()
    e = Engine(
        agent=agent,
        data_dir=tmp_path,
        policy_path=tmp_path / "policy.toml",
        locator_factory=lambda: locator,  # type: ignore[arg-type,return-value]
        grabber_factory=lambda: grabber,
        rng=random.Random(7),
        audit=AuditLog.in_dir(tmp_path, audit_keys or MemoryAuditKeys()),  # type: ignore[arg-type]
        min_free_bytes=min_free_bytes,
        page_factory=None if pages is None else functools.partial(_pages, pages),  # type: ignore[arg-type]
        clock=sim,  # type: ignore[arg-type]
    )
    e.grabber = grabber  # type: ignore[attr-defined]
    e.sim = sim  # type: ignore[attr-defined]
    e.start()
    if ack and e.status.state == "notice_required":
        e.notices.acknowledge("en")
    return e


def _pages(pages: FakePages, clock: Clock) -> FakePages:
    pages.clock = clock  # the page's looks are stamped on the engine's time
    return pages


def run(e: Engine, seconds: float) -> None:
    """Let `seconds` of the engine's (virtual) time pass: its threads wait on its clock."""
    e.sim.run(seconds)  # type: ignore[attr-defined]


def idle(e: Engine) -> None:
    """Until the engine has sealed what it recorded (its watch and capture waits served)."""
    e.sim.run_until(lambda: e.wait_idle(0), limit=30)  # type: ignore[attr-defined]


def call(e: Engine, kind: EventKind, cid: str = "c1", internal: bool = False) -> str:
    return e.handle_event(CallEvent(kind, cid, e.sim.now(), internal))


def first_commit_delay(e: Engine) -> float:
    """Seconds from the first kept frame's read to its commit (the look-behind's wait)."""
    stats = e.last_capture
    assert stats is not None and stats.first_frame_at and stats.first_commit_at
    return stats.first_commit_at - stats.first_frame_at


def frame_times(e: Engine, key: X25519PrivateKey) -> list[float]:
    (meta,) = e.vault.recordings()
    return [t for seg in open_segments(e.vault, meta.id, key) for t, _ in iter_frames(seg)]


def test_records_between_off_hook_and_on_hook(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator())
    assert call(e, EventKind.OFF_HOOK) == "ok: recording"
    assert e.status.state == "recording"
    run(e, 1.0)
    assert call(e, EventKind.ON_HOOK) == "ok: recording stopped"
    idle(e)
    (meta,) = e.vault.recordings()
    assert meta.status == "complete" and meta.agent == "alice" and meta.purpose == "training"
    times = frame_times(e, key)
    assert 5 <= len(times) <= 12
    assert all(0 <= t <= meta.duration_s + 0.1 for t in times)
    assert e.status.state == "waiting"
    e.stop()


def test_a_reader_that_fails_to_close_still_lets_the_call_be_sealed(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    """Seen on a loaded desk: the shared-memory reader refused to close (a frame's view of
    its segment still alive) and the capture thread died before telling the engine, which
    then waited for that call forever and recorded no other. A closer's failure is logged;
    the call is sealed and the next one records."""
    e = make_engine(tmp_path, key, FakeLocator())

    def refuse() -> None:
        raise BufferError("cannot close exported pointers exist")

    e.grabber.close = refuse  # type: ignore[attr-defined]
    for cid in ("c1", "c2"):
        assert call(e, EventKind.OFF_HOOK, cid) == "ok: recording"
        run(e, 1.0)
        call(e, EventKind.ON_HOOK, cid)
        idle(e)
    assert [m.status for m in e.vault.recordings()] == ["complete", "complete"]
    assert e.status.state == "waiting"
    e.stop()


def test_hidden_window_writes_no_frame_and_keeps_nothing(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    loc = FakeLocator()
    loc.visible = False
    e = make_engine(tmp_path, key, loc)
    call(e, EventKind.OFF_HOOK)
    run(e, 0.5)
    assert "minimised" in e.status.detail
    call(e, EventKind.ON_HOOK)
    idle(e)
    assert e.vault.recordings() == []
    assert e.grabber.rects == []  # type: ignore[attr-defined]  # never read a pixel
    e.stop()


def test_resize_starts_a_new_segment_and_grabs_follow(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    loc = FakeLocator()
    e = make_engine(tmp_path, key, loc)
    call(e, EventKind.OFF_HOOK)
    run(e, 0.5)
    with loc.lock:
        loc.rect = Rect(30, 20, 80, 60)
    run(e, 0.5)
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    assert meta.segments == 2
    assert {r for r in e.grabber.rects} == {Rect(0, 0, 64, 48), Rect(30, 20, 80, 60)}  # type: ignore[attr-defined]
    e.stop()


def test_occluder_is_blacked_out(tmp_path: Path, key: X25519PrivateKey) -> None:
    loc = FakeLocator()
    loc.occluders = (Rect(32, 0, 100, 100),)  # covers the right half
    e = make_engine(tmp_path, key, loc)
    call(e, EventKind.OFF_HOOK)
    run(e, 0.4)
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    seg = open_segments(e.vault, meta.id, key)[0]
    for _, bgr in iter_frames(seg):
        assert bgr[:, 36:].max() < 20  # masked (codec margin at the edge)
        assert abs(int(bgr[24, 10, 1]) - 160) < 15  # business green kept
    e.stop()


@pytest.mark.parametrize(
    ("kwargs", "agent", "internal", "answer"),
    [
        ({}, "bob", False, "not enrolled"),
        ({}, "alice", True, "internal calls"),
        ({"sampling": 1}, "alice", False, "not selected"),
    ],
)
def test_gate_refusals_record_nothing(
    tmp_path: Path, key: X25519PrivateKey, kwargs: dict[str, object], agent: str, internal: bool,
    answer: str,
) -> None:  # fmt: skip
    e = make_engine(tmp_path, key, FakeLocator(), agent=agent, **kwargs)
    assert answer in call(e, EventKind.OFF_HOOK, internal=internal)
    run(e, 0.2)
    call(e, EventKind.ON_HOOK)
    assert e.vault.recordings() == []
    assert e.grabber.rects == []  # type: ignore[attr-defined]
    e.stop()


def test_quota_counts_this_weeks_recordings(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator(), quota=1)
    call(e, EventKind.OFF_HOOK, "a")
    run(e, 0.3)
    call(e, EventKind.ON_HOOK, "a")
    idle(e)
    assert "quota" in call(e, EventKind.OFF_HOOK, "b")
    e.stop()


def test_no_display_fails_closed_and_says_why(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, NullLocator("no display: DISPLAY is not set"))
    call(e, EventKind.OFF_HOOK)
    idle(e)
    assert e.status.state == "cannot_record" and "no display" in e.status.detail
    assert e.vault.recordings() == []
    e.stop()


def test_invalid_policy_fails_closed(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator())
    (tmp_path / "policy.toml").write_text("version = [broken")
    assert "policy refused" in call(e, EventKind.OFF_HOOK)
    assert e.status.state == "cannot_record"
    assert e.vault.recordings() == []
    e.stop()


def test_missing_public_key_fails_closed(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator())
    public_key_path(tmp_path).unlink()
    assert "no recording key" in call(e, EventKind.OFF_HOOK)
    assert "machine configure" in e.status.detail and e.status.why == "key"
    e.stop()


def test_call_cut_at_maximum_length(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator())
    call(e, EventKind.OFF_HOOK)
    run(e, 0.3)
    e.session._info.deadline = e.sim.now()  # the policy's maximum is minutes; jump to it
    idle(e)
    (meta,) = e.vault.recordings()
    assert meta.end_reason == "cut at maximum call length"
    call(e, EventKind.ON_HOOK)
    e.stop()


def test_stop_during_call_seals_what_was_captured(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator())
    call(e, EventKind.OFF_HOOK)
    run(e, 0.4)
    e.stop()
    (meta,) = e.vault.recordings()
    assert meta.status == "complete" and meta.end_reason == "agent stopped"
    assert frame_times(e, key)


def test_no_recording_until_notice_acknowledged(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator(), ack=False)
    assert e.status.state == "notice_required"
    assert "notice has not been acknowledged" in call(e, EventKind.OFF_HOOK, "a")
    call(e, EventKind.ON_HOOK, "a")
    assert e.vault.recordings() == [] and e.grabber.rects == []  # type: ignore[attr-defined]
    e.notices.acknowledge("fr")
    assert e.status.state == "waiting"
    assert call(e, EventKind.OFF_HOOK, "b") == "ok: recording"
    call(e, EventKind.ON_HOOK, "b")
    idle(e)
    audit = (tmp_path / "audit.jsonl").read_text()
    assert "notice acknowledged" in audit


def test_changed_notice_asks_again_same_notice_does_not(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    e = make_engine(tmp_path, key, FakeLocator())
    text = (tmp_path / "policy.toml").read_text()
    (tmp_path / "policy.toml").write_text(text.replace("version = 1", "version = 2"))
    assert e.refresh().state == "waiting"  # a new version saying the same: no new question
    (tmp_path / "policy.toml").write_text(text.replace("weekly_quota = 5", "weekly_quota = 7"))
    assert e.refresh().state == "notice_required"  # the notice now says 7 per week
    e.stop()


def test_secure_pause_leaves_a_gap_and_marks_it(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator())
    call(e, EventKind.OFF_HOOK)
    run(e, 0.6)
    assert e.toggle_pause() == "ok: paused"
    assert e.status.state == "paused"
    t_pause = e.sim.now()
    run(e, 0.8)
    t_resume = e.sim.now()
    assert e.toggle_pause() == "ok: resumed"
    run(e, 0.6)
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    start = meta.started_at
    walls = [start + t for t in frame_times(e, key)]
    assert not [w for w in walls if t_pause + 0.02 < w < t_resume - 0.02]
    assert any(w < t_pause for w in walls) and any(w > t_resume for w in walls)
    ((a, b),) = meta.paused_spans
    assert abs((b - a) - (t_resume - t_pause)) < 0.1
    e.stop()


def test_a_pause_the_capture_thread_never_saw_still_takes_its_look_behind(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    """A pause and its resume that both fall between two turns of the capture thread (a
    thread held up by the system, a pause key pressed twice): the thread never sees the
    pause, yet what it read in the look-behind before the pause must go with it."""
    e = make_engine(tmp_path, key, FakeLocator(), lookbehind_ms=500)
    call(e, EventKind.OFF_HOOK)
    run(e, 1.5)
    # the capture thread waits on the frozen virtual clock: it cannot run a turn between these
    t_pause = e.sim.now()
    e.session.pause()
    e.session.resume()
    run(e, 1.5)
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    walls = [meta.started_at + t for t in frame_times(e, key)]
    assert [w for w in walls if w < t_pause - 0.6] and [w for w in walls if w > t_pause]
    assert not [w for w in walls if t_pause - 0.49 <= w <= t_pause], walls
    e.stop()


def test_sensitive_window_pauses_while_visible(tmp_path: Path, key: X25519PrivateKey) -> None:
    loc = FakeLocator()
    e = make_engine(tmp_path, key, loc, sensitive_class="payment")
    call(e, EventKind.OFF_HOOK)
    run(e, 0.5)
    page = loc.show_other("payment", "Card payment")
    run(e, 0.5)
    assert e.status.state == "paused" and "Payment" in e.status.detail
    assert e.toggle_pause() == "ok: paused"  # the agent pauses too: two reasons now
    loc.hide_other(page)
    run(e, 0.4)
    assert e.status.state == "paused"  # still paused by the agent
    assert e.toggle_pause() == "ok: resumed"
    run(e, 0.4)
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    assert len(meta.paused_spans) == 1
    e.stop()


def test_an_unlock_does_not_lift_a_sensitive_windows_pause(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    """A lock and a sensitive window pause for reasons of their own: the end of one leaves
    the other's pause in place."""
    loc = FakeLocator()
    e = make_engine(tmp_path, key, loc, sensitive_class="payment")
    call(e, EventKind.OFF_HOOK)
    run(e, 0.5)
    page = loc.show_other("payment", "Card payment")
    run(e, 0.5)
    loc.locked_why = "the screen is locked"
    run(e, 0.5)
    assert "locked" in e.status.detail and "Payment" in e.status.detail, e.status
    loc.locked_why = None
    run(e, 0.5)
    assert e.status.state == "paused" and "Payment" in e.status.detail, e.status
    loc.hide_other(page)
    run(e, 0.5)
    assert e.status.state == "recording", e.status
    call(e, EventKind.ON_HOOK)
    idle(e)
    e.stop()


@pytest.mark.parametrize("skips", [False, True], ids=["every tick", "intervals skipped"])
def test_a_lock_pauses_a_static_window_at_once(
    tmp_path: Path, key: X25519PrivateKey, skips: bool
) -> None:
    """A window that draws nothing is held without a look at the window system between its
    heartbeat reads, and the loop may sleep through an interval waiting for the display's
    news; a lock that sends no event (a keyboard grab) must still pause within a tick or
    two, not at the next heartbeat (seen: up to a second of the lock recorded)."""
    loc = FakeLocator()
    loc.static = True
    if skips:
        loc.news = socket.socketpair()
    e = make_engine(tmp_path, key, loc)
    e.grabber.static = True  # type: ignore[attr-defined]
    call(e, EventKind.OFF_HOOK)
    run(e, 0.6)
    waits = []
    for phase in (0.0, 0.35, 0.7):  # anywhere between two heartbeat reads
        run(e, phase)
        loc.locked_why = "the screen is locked"
        t0 = e.sim.now()  # type: ignore[attr-defined]
        e.sim.run_until(lambda: e.status.state == "paused", limit=3, step=0.01)  # type: ignore[attr-defined]
        waits.append(e.sim.now() - t0)  # type: ignore[attr-defined]
        loc.locked_why = None
        e.sim.run_until(lambda: e.status.state == "recording", limit=6, step=0.01)  # type: ignore[attr-defined]
    assert max(waits) < 0.35, waits
    call(e, EventKind.ON_HOOK)
    idle(e)
    e.stop()
    for end in loc.news or ():
        end.close()


def test_caller_objects_erases_the_recording(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator(), segment_seconds=5)
    call(e, EventKind.OFF_HOOK, "sip-call-QX7")
    # one segment ended (5 s) and sealed on disk once no late on-hook can cut into it (+5 s)
    run(e, 5.6 + MAX_CLIENT_LAG_S)
    assert list(e.vault.root.rglob("seg-*.seal"))
    assert e.caller_objects() == "ok: recording stopped and erased"
    idle(e)
    assert e.vault.recordings() == [] and not any(e.vault.root.iterdir())
    assert call(e, EventKind.ON_HOOK, "sip-call-QX7") == "ok: call ended"
    trail = e.audit.entries()
    discarded = [x for x in trail if x["action"] == "recording discarded"]
    assert discarded and discarded[0]["reason"] == "caller objects"
    assert "QX7" not in (tmp_path / "audit.jsonl").read_text()  # content-free: no call id
    assert e.audit.verify().ok
    e.stop()


# --------------------------------------------------------------------------- vault rules (R8, R9)


def test_every_recording_step_is_traced(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator())
    call(e, EventKind.OFF_HOOK)
    run(e, 0.3)
    e.pause()
    e.resume()
    run(e, 0.3)
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    assert meta.training == "CRM onboarding"
    trail = [(x["action"], x["target"]) for x in e.audit.entries()]
    steps = ["recording started", "capture mode", "recording paused", "recording resumed",
             "recording stopped"]  # fmt: skip
    assert trail[-5:] == [(step, meta.id) for step in steps]
    mode = next(x for x in e.audit.entries() if x["action"] == "capture mode")
    assert mode["reason"].startswith("masked: ") and meta.capture_mode == "masked"
    assert e.audit.verify().ok
    e.stop()


class _NoKeyStore(MemoryAuditKeys):
    def key(self, create: bool = True) -> bytes:
        from agentapp.vault.audit import AuditError

        raise AuditError("the audit trail cannot be signed: no OS key store is available")


def test_no_audit_trail_means_no_recording(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator(), audit_keys=_NoKeyStore())
    assert e.status.state == "waiting"
    assert call(e, EventKind.OFF_HOOK) == "ok: not recording (audit trail unavailable)"
    assert e.status.state == "cannot_record" and "audit trail" in e.status.detail
    call(e, EventKind.ON_HOOK)
    assert e.vault.recordings() == [] and not any(e.vault.root.iterdir())
    assert e.grabber.rects == []  # type: ignore[attr-defined]
    e.stop()


def test_a_hub_slot_is_given_back_when_the_trail_refuses_the_start(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    from agentapp.core.gate import HUB_RESERVED

    e = make_engine(tmp_path, key, FakeLocator(), audit_keys=_NoKeyStore())
    reserved: list[str] = []
    released: list[str] = []
    e.use_hub(lambda rid, agent: reserved.append(rid) or HUB_RESERVED, lambda rid: None,
              released.append)  # fmt: skip
    assert call(e, EventKind.OFF_HOOK) == "ok: not recording (audit trail unavailable)"
    assert len(reserved) == 1 and released == reserved
    call(e, EventKind.ON_HOOK)
    e.stop()


@pytest.mark.parametrize("slow", [0.1, 0.4, 0.95])
def test_an_on_hook_during_a_slow_hub_reservation_keeps_no_frame_after_it(
    tmp_path: Path, key: X25519PrivateKey, slow: float
) -> None:
    """The hub takes `slow` seconds to grant the slot (its limit is 1 s); the softphone hung
    up 0.3 s after the off-hook, and its on-hook reached the engine 0.2 s after the
    reservation: no frame of the time after the on-hook is kept (none at all when the
    reservation outlasted the call)."""
    from agentapp.core.gate import HUB_RESERVED

    e = make_engine(tmp_path, key, FakeLocator())

    def reserve(rid: str, agent: str) -> str:
        e.sim.busy(slow)  # type: ignore[attr-defined]
        return HUB_RESERVED

    e.use_hub(reserve, lambda rid: None, lambda rid: None)
    off = e.sim.now()  # type: ignore[attr-defined]
    assert call(e, EventKind.OFF_HOOK) == "ok: recording"
    run(e, 0.2)
    e.handle_event(CallEvent(EventKind.ON_HOOK, "c1", off + 0.3))
    idle(e)
    if slow < 0.3:
        (meta,) = e.vault.recordings()
        times = frame_times(e, key)
        assert times and max(times) <= 0.3 and abs(meta.duration_s - 0.3) < 0.01, times
    else:
        assert e.vault.recordings() == []
        assert e.audit.entries()[-1]["action"] == "recording not kept"
    e.stop()


def test_low_disk_refuses_to_record(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator(), min_free_bytes=1 << 62)
    assert e.status.state == "cannot_record" and "disk full" in e.status.detail
    e.notices.acknowledge("en")
    assert call(e, EventKind.OFF_HOOK) == "ok: not recording (disk full)"
    assert e.grabber.rects == []  # type: ignore[attr-defined]
    e.stop()


def test_disk_full_while_writing_keeps_what_was_sealed(
    tmp_path: Path, key: X25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from agentapp.vault.store import RecordingWriter

    real = RecordingWriter.append

    def fill_up(self: RecordingWriter, seq: int, record: bytes, frames: int) -> None:
        if self.meta.frames >= 30:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, seq, record, frames)

    monkeypatch.setattr(RecordingWriter, "append", fill_up)
    e = make_engine(tmp_path, key, FakeLocator(), segment_seconds=5)
    call(e, EventKind.OFF_HOOK)
    deadline = time.monotonic() + 15
    while e.status.state != "cannot_record":
        assert time.monotonic() < deadline, e.status
        run(e, 0.1)
    assert e.status.detail.startswith("disk full: recording stopped")
    idle(e)
    (meta,) = e.vault.recordings()
    sealed = frame_times(e, key)
    assert len(sealed) >= 30 and meta.frames == len(sealed)  # the sealed part is intact
    e.stop()


def test_purge_runs_at_start(tmp_path: Path, key: X25519PrivateKey) -> None:
    from agentapp.vault.store import Vault

    old = Vault(tmp_path / "recordings").begin("alice", time.time() - 184 * 86400, "CRM", 183)
    old.add_segment(b"x", 1)
    old.finish(1.0, [], "on-hook")
    e = make_engine(tmp_path, key, FakeLocator())
    assert e.vault.recordings() == []
    assert ("purge", f"recording {old.meta.id}") in [
        (x["action"], x["target"]) for x in e.audit.entries()
    ]
    e.stop()


def test_policy_and_enrolment_changes_are_traced_once(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    e = make_engine(tmp_path, key, FakeLocator())
    policy = tmp_path / "policy.toml"
    text = policy.read_text()
    policy.write_text(text.replace('agent = "alice"', 'agent = "alice"\nweekly_quota = 2')
                      .replace("version = 1", "version = 2")
                      + '\n[[enrolment]]\nagent = "bob"\ntraining = "CRM onboarding"\n'
                      'start = 2026-11-01\nend = 2026-12-31\n')  # fmt: skip
    e.refresh()
    e.refresh()  # the same policy again: nothing new
    policy.write_text("garbage = [")
    e.refresh()
    e.refresh()
    trail = [(x["action"], x["reason"]) for x in e.audit.entries()]
    actions = [a for a, _ in trail]
    assert actions.count("policy adopted") == 1
    enrol = [r for a, r in trail if a == "enrolment changed"]
    assert len(enrol) == 2 and any(r.startswith("bob enrolled") for r in enrol)
    assert any("5/week → " in r and "2/week" in r for r in enrol)
    assert [r for a, r in trail if a == "policy changed"] == ["version 1 → 2"]
    assert actions.count("policy refused") == 1
    e.stop()
    # a change made while the agent was stopped is traced at the next start
    policy.write_text(text.replace("version = 1", "version = 3"))
    e2 = Engine(agent="alice", data_dir=tmp_path, policy_path=policy, locator_factory=FakeLocator,
                grabber_factory=FakeGrabber, audit=e.audit)  # fmt: skip
    e2.start()
    assert ("policy changed", "version 2 → 3") in [
        (x["action"], x["reason"]) for x in e.audit.entries()
    ]
    e2.stop()


def test_an_enrolment_may_set_its_own_frame_rate(tmp_path: Path, key: X25519PrivateKey) -> None:
    e = make_engine(tmp_path, key, FakeLocator(), fps=10)
    policy = tmp_path / "policy.toml"
    line = 'training = "CRM onboarding"'
    policy.write_text(policy.read_text().replace(line, line + "\nfps = 2"))
    call(e, EventKind.OFF_HOOK)
    run(e, 2.1)
    call(e, EventKind.ON_HOOK)
    idle(e)
    times = frame_times(e, key)
    assert 3 <= len(times) <= 6, times  # 2 fps, not 10
    e.stop()


def test_unchanged_frames_are_held_and_time_stays_exact(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    """A static window: one frame is encoded, then held; the held tick before a pause and the
    last one before on-hook are written as repeats, so the video still starts and stops
    where the visible spans do — the pause is a gap of its own length, not longer."""
    e = make_engine(tmp_path, key, FakeLocator())
    e.grabber.static = True  # type: ignore[attr-defined]
    t_off = e.sim.now()
    call(e, EventKind.OFF_HOOK)
    run(e, 1.0)
    t_pause = e.sim.now()
    e.toggle_pause()
    run(e, 0.8)
    t_resume = e.sim.now()
    e.toggle_pause()
    run(e, 1.0)
    t_on = e.sim.now()
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    walls = [meta.started_at + t for t in frame_times(e, key)]
    # first frame, the repeat ending the first span, first frame after the pause, last repeat
    assert len(walls) == 4 and meta.frames == 4
    assert meta.unchanged_frames >= 12  # ~16 ticks held instead of encoded
    period = 0.1
    assert walls[0] - t_off < period + 0.05
    assert t_pause - period - 0.05 < walls[1] <= t_pause + 0.02
    assert t_resume - 0.02 <= walls[2] < t_resume + period + 0.05
    assert t_on - period - 0.05 < walls[3] <= t_on + 0.02
    e.stop()


def test_a_change_after_held_frames_is_encoded_at_its_time(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    e = make_engine(tmp_path, key, FakeLocator())
    e.grabber.static = True  # type: ignore[attr-defined]
    call(e, EventKind.OFF_HOOK)
    run(e, 0.8)
    t_change = e.sim.now()
    e.grabber.color = (200, 30, 30)  # type: ignore[attr-defined]
    run(e, 0.5)
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    frames = [(meta.started_at + t, bgr) for seg in open_segments(e.vault, meta.id, key)
              for t, bgr in iter_frames(seg)]  # fmt: skip
    changed = [w for w, bgr in frames if bgr[10, 10, 0] > 150]  # the new colour (BGR order)
    assert changed and t_change - 0.02 <= changed[0] < t_change + 0.15
    assert all(bgr[10, 10, 0] < 100 for w, bgr in frames if w < t_change - 0.02)
    e.stop()


def test_a_static_window_after_a_segment_ends_is_still_recorded(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    """A change after the segment's length ends the segment at once; the window then stays
    still. The next segment opens with the picture still shown, at the next tick, instead
    of waiting for a change that may never come (seen in bench/: 10 s missing)."""
    e = make_engine(tmp_path, key, FakeLocator(), segment_seconds=5)
    e.grabber.static = True  # type: ignore[attr-defined]
    call(e, EventKind.OFF_HOOK)
    run(e, 5.3)
    e.grabber.color = (200, 30, 30)  # type: ignore[attr-defined]
    run(e, 1.5)
    t_on = e.sim.now()
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    segments = open_segments(e.vault, meta.id, key)
    assert len(segments) == 2 and meta.segments == 2
    second = [(meta.started_at + t, bgr) for t, bgr in iter_frames(segments[1])]
    first = list(iter_frames(segments[0]))
    assert second and all(bgr[10, 10, 0] > 150 for _, bgr in second)  # the picture shown
    assert second[0][0] - (meta.started_at + first[-1][0]) < 0.25  # no hole between them
    assert t_on - 0.15 < second[-1][0] <= t_on + 0.02  # and it runs to the on-hook
    assert meta.frames + meta.unchanged_frames >= 65  # every tick counted (~68)
    e.stop()


def test_every_tick_is_counted_once(tmp_path: Path, key: X25519PrivateKey) -> None:
    """Frames written + frames held = frame ticks outside the pauses: a held tick that is
    written as a repeat is not counted twice."""
    e = make_engine(tmp_path, key, FakeLocator())
    e.grabber.static = True  # type: ignore[attr-defined]
    call(e, EventKind.OFF_HOOK)
    for _ in range(2):
        run(e, 0.6)
        e.toggle_pause()
        run(e, 0.4)
        e.toggle_pause()
    run(e, 0.6)
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    assert meta.frames == 6  # per visible span: its first frame and a closing repeat
    recorded = meta.duration_s - sum(b - a for a, b in meta.paused_spans)
    assert abs(meta.frames + meta.unchanged_frames - recorded * 10) <= 2
    e.stop()


# --------------------------------------------------------------------------- the rule per frame


def test_a_title_change_drops_the_look_behind_and_leaves_a_gap(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    """The rule is checked at every tick: while the window shows another page nothing is
    written, and what was read in the look-behind before the change is dropped too."""
    loc = FakeLocator()
    app = 'name = "CRM"\nwm_class = "agentapp-business"\ntitle_pattern = "^CRM"'
    e = make_engine(tmp_path, key, loc, application=app, lookbehind_ms=500)
    seen: list[str] = []
    e.add_status_listener(lambda s: seen.append(s.detail))
    call(e, EventKind.OFF_HOOK)
    run(e, 1.2)
    t_change = e.sim.now()
    loc.title = "Private mail"  # a tab switch
    run(e, 1.0)
    t_back = e.sim.now()
    loc.title = "CRM — customer 42"
    run(e, 1.2)
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    walls = [meta.started_at + t for t in frame_times(e, key)]
    assert [w for w in walls if w < t_change - 0.5]
    assert [w for w in walls if w > t_back]
    assert not [w for w in walls if t_change - 0.5 + 0.05 < w < t_back], "look-behind kept"
    assert "not writing: the business window shows another page" in seen
    e.stop()


def test_a_read_is_committed_only_after_its_look_behind(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    e = make_engine(tmp_path, key, FakeLocator(), lookbehind_ms=800)
    call(e, EventKind.OFF_HOOK)
    run(e, 2.0)
    call(e, EventKind.ON_HOOK)
    idle(e)
    assert first_commit_delay(e) >= 0.8
    (meta,) = e.vault.recordings()
    times = frame_times(e, key)
    assert max(times) <= meta.duration_s - 0.8 + 0.1  # the end's look-behind is not kept
    e.stop()


def test_a_title_that_changes_and_back_between_two_ticks_still_drops(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    """A tab switch and back that no tick saw (a starved capture thread) is still known from
    the window system's change events: the reads of the look-behind before it go."""
    loc = FakeLocator()
    app = 'name = "CRM"\nwm_class = "agentapp-business"\ntitle_pattern = "^CRM"'
    e = make_engine(tmp_path, key, loc, application=app, lookbehind_ms=500)
    call(e, EventKind.OFF_HOOK)
    run(e, 1.2)
    t_flip = e.sim.now()
    loc.title = "Private mail"
    loc.title = "CRM"  # back before the next tick
    run(e, 1.2)
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    walls = [meta.started_at + t for t in frame_times(e, key)]
    assert [w for w in walls if w < t_flip - 0.6] and [w for w in walls if w > t_flip + 0.1]
    assert not [w for w in walls if t_flip - 0.45 < w < t_flip], "reads before the flip kept"
    e.stop()


# --------------------------------------------------------------------------- page rules

CRM_URL_RULE = (
    'name = "CRM web"\nwm_class = "agentapp-business"\nurl_pattern = "^https://crm\\\\.example/"'
)


def test_a_url_rule_records_only_while_the_page_matches(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    """The page's address is checked at every tick like the title: another page (same title)
    gives a gap, and the reads of the look-behind before the change go too."""
    pages = FakePages()
    e = make_engine(tmp_path, key, FakeLocator(), pages=pages, application=CRM_URL_RULE,
                    lookbehind_ms=500)  # fmt: skip
    seen: list[str] = []
    e.add_status_listener(lambda s: seen.append(s.detail))
    call(e, EventKind.OFF_HOOK)
    run(e, 1.2)
    t_away = e.sim.now()
    pages.show("https://mail.example/inbox")
    run(e, 1.0)
    t_back = e.sim.now()
    pages.show("https://crm.example/customer/43")
    run(e, 1.2)
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    walls = [meta.started_at + t for t in frame_times(e, key)]
    assert [w for w in walls if w < t_away - 0.5] and [w for w in walls if w > t_back]
    assert not [w for w in walls if t_away - 0.45 < w < t_back], "another page's frames kept"
    assert "not writing: the business window shows another page" in seen
    assert pages.followed and pages.followed[0] is not None
    e.stop()


def test_a_page_that_cannot_be_read_records_nothing_and_says_why(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    pages = FakePages(url=None)
    e = make_engine(tmp_path, key, FakeLocator(), pages=pages, application=CRM_URL_RULE)
    seen: list[str] = []
    e.add_status_listener(lambda s: seen.append(s.detail))
    call(e, EventKind.OFF_HOOK)
    run(e, 1.0)
    call(e, EventKind.ON_HOOK)
    idle(e)
    assert all(m.frames == 0 for m in e.vault.recordings())
    assert any("the browser does not say which page it shows" in s for s in seen), seen
    # the trail keeps the reason that happened, not another one
    last = e.audit.entries()[-1]
    assert last["action"] == "recording not kept", last
    assert last["reason"].startswith("the browser does not say which page it shows"), last
    e.stop()


def test_a_call_paused_from_start_to_end_is_not_kept_and_the_trail_says_so(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    # with the product's look-behind: without one, the capture thread's first read (the same
    # instant as the pause, on this clock) could be committed before the pause reaches it
    e = make_engine(tmp_path, key, FakeLocator(), lookbehind_ms=500)
    call(e, EventKind.OFF_HOOK)
    assert e.toggle_pause() == "ok: paused"
    run(e, 1.5)
    call(e, EventKind.ON_HOOK)
    idle(e)
    assert e.vault.recordings() == []
    last = e.audit.entries()[-1]
    assert (last["action"], last["reason"]) == ("recording not kept", "paused for the whole call")
    e.stop()


def test_a_stale_look_vouches_for_nothing(tmp_path: Path, key: X25519PrivateKey) -> None:
    """A read is committed only once a look at the page that started after it agreed; a
    watcher whose last look is too old (a hung browser) stops the frames."""
    pages = FakePages()
    pages.lag = 0.7
    e = make_engine(tmp_path, key, FakeLocator(), pages=pages, application=CRM_URL_RULE)
    call(e, EventKind.OFF_HOOK)
    run(e, 1.5)
    pages.lag = 1.5  # older than PAGE_STALE_S
    run(e, 0.8)
    t_stale = e.sim.now()
    call(e, EventKind.ON_HOOK)
    idle(e)
    assert first_commit_delay(e) >= 0.65
    (meta,) = e.vault.recordings()
    walls = [meta.started_at + t for t in frame_times(e, key)]
    assert walls and max(walls) < t_stale - 0.8 - 0.6, "frames a stale look vouched for"
    e.stop()


def test_a_card_field_in_the_page_pauses_recording(tmp_path: Path, key: X25519PrivateKey) -> None:
    """A sensitive rule on the page's fields (an in-page payment form: no title, no URL
    change) pauses before any frame of it is committed; the pause is in the metadata."""
    pages = FakePages()
    card = 'name = "Card payment"\nfield_pattern = "(?i)num[ée]ro de carte"'
    e = make_engine(tmp_path, key, FakeLocator(), pages=pages, application=CRM_URL_RULE,
                    lookbehind_ms=500, sensitive=card)  # fmt: skip
    call(e, EventKind.OFF_HOOK)
    run(e, 1.2)
    t_form = e.sim.now()
    pages.show("https://crm.example/customer/42", fields=("Nom", "Numéro de carte"))
    run(e, 0.5)
    assert e.status.state == "paused" and "Card payment" in e.status.detail
    pages.show("https://crm.example/customer/42", fields=("Nom",))
    run(e, 0.3)
    t_gone = e.sim.now()
    run(e, 1.0)
    call(e, EventKind.ON_HOOK)
    idle(e)
    (meta,) = e.vault.recordings()
    assert len(meta.paused_spans) == 1
    walls = [meta.started_at + t for t in frame_times(e, key)]
    assert not [w for w in walls if t_form - 0.45 < w < t_gone - 0.2], "payment form frames kept"
    assert [w for w in walls if w > t_gone]
    e.stop()


# --------------------------------------------------------------------------- the call's end


@pytest.mark.parametrize("late", [1.0, 4.5])
def test_a_late_on_hook_keeps_no_frame_after_its_own_time(
    tmp_path: Path, key: X25519PrivateKey, late: float
) -> None:
    """The on-hook arrives `late` seconds after the softphone stamped it (a loaded machine),
    after the frames of those seconds were committed and a segment rolled over: the video
    still ends at the stamp, and recording.json's duration matches it."""
    e = make_engine(tmp_path, key, FakeLocator(), segment_seconds=5)
    call(e, EventKind.OFF_HOOK)
    run(e, 6.0)
    stamp = e.sim.now() - late
    e.handle_event(CallEvent(EventKind.ON_HOOK, "c1", stamp))
    idle(e)
    (meta,) = e.vault.recordings()
    times = frame_times(e, key)
    assert abs(meta.started_at + meta.duration_s - stamp) < 0.01
    assert times and max(times) <= meta.duration_s + 0.001, (max(times), meta.duration_s)
    assert max(times) > meta.duration_s - 0.5  # the video runs up to the stamp
    assert meta.frames == len(times)
    e.stop()


@pytest.mark.parametrize("static", [False, True])
def test_the_call_is_sealed_as_it_goes(tmp_path: Path, key: X25519PrivateKey, static: bool) -> None:
    """What a kill -9 would leave: at any moment of the call the disk already holds the video
    up to about FRAGMENT_S ago (the first frame at once), a static window's too."""
    from agentapp.capture.fragments import FRAGMENT_S

    loc = FakeLocator()
    e = make_engine(tmp_path, key, loc, fps=10)
    e.grabber.static = static  # type: ignore[attr-defined]
    call(e, EventKind.OFF_HOOK)
    run(e, 0.4)
    assert frame_times(e, key), "the first frame is sealed at once"
    for _ in range(3):
        run(e, 1.3)
        (meta,) = e.vault.recordings()
        sealed_to = max(frame_times(e, key))
        assert e.sim.now() - meta.started_at - sealed_to <= FRAGMENT_S + 0.35, sealed_to
    call(e, EventKind.ON_HOOK)
    idle(e)
    e.stop()


def test_a_call_is_cut_at_its_maximum_length_within_one_frame(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    e = make_engine(tmp_path, key, FakeLocator(), fps=10)
    call(e, EventKind.OFF_HOOK)
    deadline = e.sim.now() + 1.0  # the policy's maximum is minutes; bring it close
    e.session._info.deadline = deadline
    idle(e)
    (meta,) = e.vault.recordings()
    assert meta.end_reason == "cut at maximum call length"
    assert abs(meta.started_at + meta.duration_s - deadline) < 0.01
    assert max(frame_times(e, key)) <= meta.duration_s + 0.001
    assert max(frame_times(e, key)) >= meta.duration_s - 0.1 - 0.05  # one frame interval
    call(e, EventKind.ON_HOOK)
    e.stop()


@pytest.mark.parametrize("gap", [0.0, 0.1, 0.3])
def test_back_to_back_calls_are_all_recorded(
    tmp_path: Path, key: X25519PrivateKey, gap: float
) -> None:
    """An auto-answer queue chains calls: one answered while the last one is still sealing
    starts as soon as that is sealed (the gate decides it then), instead of being lost."""
    e = make_engine(tmp_path, key, FakeLocator())
    call(e, EventKind.OFF_HOOK, "c1")
    run(e, 1.2)
    call(e, EventKind.ON_HOOK, "c1")
    run(e, gap)
    assert call(e, EventKind.OFF_HOOK, "c2").startswith(("ok: recording", "ok: call noted"))
    run(e, 1.5)
    call(e, EventKind.ON_HOOK, "c2")
    deadline = time.monotonic() + 15
    while len([m for m in e.vault.recordings() if m.status == "complete"]) < 2:
        assert time.monotonic() < deadline, e.vault.recordings()
        run(e, 0.1)
    first, second = sorted(e.vault.recordings(), key=lambda m: m.started_at)
    assert second.started_at - first.started_at > 1.1 and second.frames > 0
    e.stop()


def test_a_queued_call_that_ends_first_is_said_not_recorded(
    tmp_path: Path, key: X25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentapp.vault.sink import SealingSink

    real = SealingSink.append

    def slow(self: SealingSink, seq: int, index: int, payload: bytes, frames: int,
             call_end: bool) -> None:  # fmt: skip
        if call_end:
            time.sleep(0.3)  # a slow disk (real time): the last fragment takes a while to seal
        real(self, seq, index, payload, frames, call_end)

    monkeypatch.setattr(SealingSink, "append", slow)
    e = make_engine(tmp_path, key, FakeLocator())
    call(e, EventKind.OFF_HOOK, "c1")
    run(e, 1.0)
    call(e, EventKind.ON_HOOK, "c1")
    call(e, EventKind.OFF_HOOK, "c2")
    call(e, EventKind.ON_HOOK, "c2")  # ended while c1 was still sealing
    idle(e)
    run(e, 0.3)
    assert len(e.vault.recordings()) == 1
    assert "it ended before the previous recording was sealed" in e.status.detail, e.status
    e.stop()


def test_a_caller_may_object_minutes_after_the_call(tmp_path: Path, key: X25519PrivateKey) -> None:
    """Callers often object at the end: two minutes after the on-hook, "caller objects" erases
    the last call's recording here and the copy already delivered to the site; traced with no
    content; once only, and not after 5 minutes."""
    from agentapp.agent.recording import CALLER_OBJECTS_AFTER_S
    from agentapp.site.shipper import RecordingShipper

    clock = SimClock()
    e = make_engine(tmp_path, key, FakeLocator(), clock=clock)
    site = tmp_path / "site"
    (site / "recordings").mkdir(parents=True)
    shipper = RecordingShipper(e.vault, site)
    e.use_site(shipper.withdraw, shipper.ids_since)
    for n in (1, 2):
        call(e, EventKind.OFF_HOOK, f"c{n}")
        run(e, 0.6)
        call(e, EventKind.ON_HOOK, f"c{n}")
        idle(e)
    first, last = sorted(e.vault.recordings(), key=lambda m: m.started_at)
    assert e.status.erasable
    assert shipper.ship_all() == 2 and (site / "recordings" / last.id).is_dir()
    clock.jump(120)  # the minutes after a call, without waiting
    assert e.caller_objects() == "ok: the last call's recording was erased"
    assert [m.id for m in e.vault.recordings()] == [first.id]  # only the last call's
    assert sorted(p.name for p in (site / "recordings").iterdir()) == [first.id]
    assert not e.status.erasable
    assert "nothing to discard" in e.caller_objects()
    trail = (tmp_path / "audit.jsonl").read_text()
    assert "caller objects (after the call)" in trail

    e.handle_event(CallEvent(EventKind.OFF_HOOK, "c3", clock.now()))  # the softphone's clock
    run(e, 0.6)
    e.handle_event(CallEvent(EventKind.ON_HOOK, "c3", clock.now()))
    idle(e)
    clock.jump(CALLER_OBJECTS_AFTER_S + 1)
    assert "nothing to discard" in e.caller_objects()  # too late: kept
    assert len(e.vault.recordings()) == 2
    e.stop()


def test_after_another_call_began_the_last_recording_is_not_the_callers(
    tmp_path: Path, key: X25519PrivateKey
) -> None:
    e = make_engine(tmp_path, key, FakeLocator())
    call(e, EventKind.OFF_HOOK, "c1")
    run(e, 0.6)
    call(e, EventKind.ON_HOOK, "c1")
    idle(e)
    call(e, EventKind.OFF_HOOK, "c2", internal=True)  # not recorded (internal)
    assert "nothing to discard" in e.caller_objects()  # c2's caller: c1's recording stays
    assert len(e.vault.recordings()) == 1
    call(e, EventKind.ON_HOOK, "c2")
    e.stop()


def test_the_weekly_quota_is_the_agents_across_desks(tmp_path: Path, key: X25519PrivateKey) -> None:
    """Seen: quota 3, desk A recorded 3, desk B 3 more, and deleting desk A's stubs gave 2
    more. Now each desk counts the agent's recordings at the site and those its own trail
    says it started, so neither another desk's calls nor deleted stubs give any back."""
    from agentapp.site.shipper import RecordingShipper
    from agentapp.vault.store import remove_for_good

    site = tmp_path / "site"
    (site / "recordings").mkdir(parents=True)
    desks = []
    clock = SimClock()  # one time for both desks (each waits on it)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        e = make_engine(tmp_path / name, key, FakeLocator(), quota=3, clock=clock)
        shipper = RecordingShipper(e.vault, site)
        e.use_site(shipper.withdraw, shipper.ids_since)
        desks.append((e, shipper))
    answers = []
    for n in range(6):
        e, shipper = desks[n % 2]
        answers.append(call(e, EventKind.OFF_HOOK, f"c{n}"))
        run(e, 0.4)
        call(e, EventKind.ON_HOOK, f"c{n}")
        idle(e)
        shipper.ship_all()
    assert answers.count("ok: recording") == 3, answers
    assert len(list((site / "recordings").iterdir())) == 3
    a, _ = desks[0]
    for stub in a.vault.folders():  # the trainee deletes desk A's stubs
        remove_for_good(stub)
    assert "quota" in call(a, EventKind.OFF_HOOK, "c6"), a.status
    call(a, EventKind.ON_HOOK, "c6")
    for e, _ in desks:
        e.stop()
