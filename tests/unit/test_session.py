import pytest

from agentapp.core.clock import FakeClock
from agentapp.core.session import InvalidTransition, RecorderSession, State


def test_full_cycle_with_pause() -> None:
    clock = FakeClock(100.0)
    s = RecorderSession(clock)
    seen: list[tuple[State, State]] = []
    s.add_listener(lambda old, new, info: seen.append((old, new)))
    s.arm(max_seconds=60)
    assert not s.accepts_frames_at(clock.now())
    s.start_recording()
    assert s.accepts_frames_at(clock.now())
    clock.advance(2)
    s.pause()
    assert not s.accepts_frames_at(clock.now())
    clock.advance(3)
    s.resume()
    clock.advance(1)
    s.stop("on-hook", at=clock.now())
    assert s.info.paused_spans == [(102.0, 105.0)]
    assert s.accepts_frames_at(105.5)  # grabbed before on-hook, not yet written
    assert not s.accepts_frames_at(106.01)  # stamped after on-hook: never kept
    assert not s.accepts_frames_at(103.0)  # inside the pause
    s.sealed()
    assert s.state is State.IDLE
    assert seen == [
        (State.IDLE, State.ARMED),
        (State.ARMED, State.RECORDING),
        (State.RECORDING, State.PAUSED),
        (State.PAUSED, State.RECORDING),
        (State.RECORDING, State.SEALING),
        (State.SEALING, State.IDLE),
    ]


def test_a_closed_pause_refuses_its_look_behind_while_recording() -> None:
    """Recording again after a pause: a frame read inside it, or within the look-behind
    before it, is still refused (the capture thread may commit it only after the resume)."""
    clock = FakeClock(100.0)
    s = RecorderSession(clock)
    s.arm(max_seconds=60)
    s.start_recording()
    clock.advance(2)
    s.pause()
    s.resume()  # at the same instant: a pause shorter than a frame
    assert s.state is State.RECORDING
    assert not s.accepts_frames_at(101.6, before=0.5)
    assert not s.accepts_frames_at(101.99, before=0.5)
    assert s.accepts_frames_at(101.4, before=0.5) and s.accepts_frames_at(102.1, before=0.5)


def test_stop_while_paused_closes_the_pause() -> None:
    clock = FakeClock(0.0)
    s = RecorderSession(clock)
    s.arm(60)
    s.start_recording()
    s.pause()
    clock.advance(4)
    s.stop("on-hook")
    assert s.info.paused_spans == [(0.0, 4.0)]


def test_a_pause_before_capture_starts_holds() -> None:
    """Paused while armed (the capture thread not started yet): no frame until resumed."""
    clock = FakeClock(0.0)
    s = RecorderSession(clock)
    s.arm(60)
    s.pause()
    with pytest.raises(InvalidTransition):
        s.start_recording()  # the capture thread's start leaves the pause alone
    assert s.state is State.PAUSED and not s.accepts_frames_at(1.0)
    clock.advance(2)
    s.resume()
    assert s.state is State.RECORDING and s.accepts_frames_at(2.5)
    s.stop("on-hook")
    assert s.info.paused_spans == [(0.0, 2.0)]


def test_invalid_transitions_raise() -> None:
    s = RecorderSession(FakeClock())
    with pytest.raises(InvalidTransition):
        s.start_recording()
    s.arm(60)
    s.start_recording()
    with pytest.raises(InvalidTransition):
        s.arm(60)


def test_overdue_after_max_call_length() -> None:
    clock = FakeClock(0.0)
    s = RecorderSession(clock)
    s.arm(max_seconds=10)
    s.start_recording()
    clock.advance(9.9)
    assert not s.overdue()
    clock.advance(0.2)
    assert s.overdue()
    s.stop("cut at maximum call length")
    assert not s.overdue()


def test_discard_goes_idle_without_sealing() -> None:
    s = RecorderSession(FakeClock())
    s.arm(60)
    s.start_recording()
    s.discard("caller objects")
    assert s.state is State.IDLE
    assert s.info.end_reason == "caller objects"
