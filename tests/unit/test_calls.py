from agentapp.core.calls import CallEnded, CallStarted, CallTracker, Ignored
from agentapp.core.events import CallEvent, EventKind


def ev(kind: EventKind, cid: str, at: float = 0.0, internal: bool = False) -> CallEvent:
    return CallEvent(kind, cid, at, internal)


def test_simple_call_starts_and_ends() -> None:
    t = CallTracker()
    assert t.feed(ev(EventKind.OFF_HOOK, "a", 1)) == CallStarted("a", False, 1)
    assert t.busy
    assert t.feed(ev(EventKind.ON_HOOK, "a", 5)) == CallEnded("a", 5, handset_idle=True)
    assert not t.busy


def test_duplicate_off_hook_is_ignored() -> None:
    t = CallTracker()
    t.feed(ev(EventKind.OFF_HOOK, "a"))
    assert isinstance(t.feed(ev(EventKind.OFF_HOOK, "a")), Ignored)
    assert t.active_calls == ("a",)


def test_on_hook_without_off_hook_is_ignored() -> None:
    t = CallTracker()
    r = t.feed(ev(EventKind.ON_HOOK, "ghost"))
    assert isinstance(r, Ignored) and "without off-hook" in r.why
    assert not t.busy


def test_late_off_hook_after_its_on_hook_does_not_open_the_call() -> None:
    t = CallTracker()
    t.feed(ev(EventKind.ON_HOOK, "x", 2))
    r = t.feed(ev(EventKind.OFF_HOOK, "x", 3))
    assert isinstance(r, Ignored)
    assert not t.busy


def test_duplicate_on_hook_is_ignored() -> None:
    t = CallTracker()
    t.feed(ev(EventKind.OFF_HOOK, "a"))
    t.feed(ev(EventKind.ON_HOOK, "a"))
    assert isinstance(t.feed(ev(EventKind.ON_HOOK, "a")), Ignored)


def test_overlapping_calls_handset_idle_only_after_last() -> None:
    t = CallTracker()
    t.feed(ev(EventKind.OFF_HOOK, "a"))
    t.feed(ev(EventKind.OFF_HOOK, "b"))
    first = t.feed(ev(EventKind.ON_HOOK, "a"))
    assert isinstance(first, CallEnded) and not first.handset_idle
    assert t.busy
    last = t.feed(ev(EventKind.ON_HOOK, "b"))
    assert isinstance(last, CallEnded) and last.handset_idle


def test_hold_keeps_the_call_active() -> None:
    t = CallTracker()
    t.feed(ev(EventKind.OFF_HOOK, "a"))
    t.feed(ev(EventKind.HOLD, "a"))
    assert t.busy and t.is_held("a")
    t.feed(ev(EventKind.RESUME, "a"))
    assert not t.is_held("a")
    assert isinstance(t.feed(ev(EventKind.HOLD, "zzz")), Ignored)


def test_end_all_closes_every_call_last_one_idle() -> None:
    t = CallTracker()
    t.feed(ev(EventKind.OFF_HOOK, "a"))
    t.feed(ev(EventKind.OFF_HOOK, "b"))
    ends = t.end_all(9.0)
    assert [e.handset_idle for e in ends] == [False, True]
    assert not t.busy
    assert isinstance(t.feed(ev(EventKind.ON_HOOK, "a")), Ignored)


def test_ended_memory_is_bounded() -> None:
    t = CallTracker()
    for i in range(2000):
        t.feed(ev(EventKind.OFF_HOOK, f"c{i}"))
        t.feed(ev(EventKind.ON_HOOK, f"c{i}"))
    assert len(t._ended) <= 512
