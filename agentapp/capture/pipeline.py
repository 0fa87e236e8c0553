"""The capture pipeline: locate ▶ wait for damage ▶ read ▶ the rule still holds? ▶ encode ▶ seal.

Runs on its own thread, one per recording. Its rooms: the rule held at every tick
(rulewatch.py), the pixels read one of two ways (reading.py: the window's own pixmap, or its
masked rectangle on the screen), and the look-behind with the hand-off to the encoder
(lookbehind.py). This module clocks the ticks and joins them.

The rule holds for every frame, not once per call: it is checked at every tick and again
right after each read, and a frame is committed to the encoder only once the window has kept
matching for the look-behind delay after its read (policy `lookbehind_ms`), so a frame painted
just before a title change (a browser's tab switch, a page that sets its title late) is
dropped with the frames around it. Sensitive windows (R10), a pause, or a mismatch drop what
is still waiting; so does the end of the call (the video ends one look-behind before the
on-hook). While the window does not match, no frame is written and the status says why.

Frames are read only after the window drew (X DAMAGE), when what is read of it changed, or
at a heartbeat; otherwise the tick holds the last frame, and a quiet tick sleeps until the
display has news.

Threading: `start()` / `wake()` may be called from any thread; everything else happens on the
pipeline thread, which owns its locator, reader or grabber, and encoder.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable

from agentapp.capture.encoder import compact, preload
from agentapp.capture.fragments import FragmentSink
from agentapp.capture.lookbehind import LookBehind, PipelineStats
from agentapp.capture.reading import PixelReader
from agentapp.capture.rulewatch import SHOWS_OTHER_PAGE, RuleWatch
from agentapp.capture.voice import VoiceRecorder
from agentapp.core.clock import Clock
from agentapp.core.policy import WindowRule
from agentapp.core.session import InvalidTransition, RecorderSession, State
from agentapp.platform.base import (
    CaptureMode,
    Changes,
    FrameReader,
    LocatorError,
    NoPages,
    NullLocator,
    PageWatcher,
    ScreenGrabber,
    SessionLock,
    WindowInfo,
    WindowLocator,
    WindowView,
)

log = logging.getLogger(__name__)
DISK_FULL = "disk full: recording stopped; what was already sealed is kept — free some space"
HEARTBEAT_S = 1.0  # a window that drew nothing is still read this often
DRAWING = "waiting for the window to draw"


def _news(locator: WindowLocator) -> int | None:
    """The display's connection, to wait on for news; None when it has none (any more: the
    next tick says the display is gone)."""
    fd = locator.fileno()
    return fd if fd is not None and fd >= 0 else None


class CapturePipeline:
    def __init__(
        self,
        *,
        session: RecorderSession,
        clock: Clock,
        rules: tuple[WindowRule, ...],
        sensitive: tuple[WindowRule, ...] = (),
        fps: int,
        segment_seconds: int,
        started_at: float,
        sink: FragmentSink,
        locator_factory: Callable[[], WindowLocator],
        grabber_factory: Callable[[], ScreenGrabber],
        on_status: Callable[[str], None],
        on_done: Callable[[PipelineStats], None],
        on_sensitive: Callable[[str | None], None] = lambda name: None,
        on_lock: Callable[[str | None], None] = lambda why: None,
        reader_factory: Callable[[], FrameReader] | None = None,
        lookbehind_s: float = 0.5,
        on_mode: Callable[[CaptureMode, str], None] = lambda mode, why: None,
        page_factory: Callable[[Clock], PageWatcher] | None = None,
        session_lock_factory: Callable[[], SessionLock | None] | None = None,
        voice_factory: Callable[[], VoiceRecorder] | None = None,
    ) -> None:
        self._session = session
        self._clock = clock
        self.stats = PipelineStats()
        self._rules = RuleWatch(clock=clock, rules=rules, sensitive=sensitive,
                                lookbehind_s=lookbehind_s, stats=self.stats, drop=self._drop,
                                on_track=self._forget_view, on_sensitive=on_sensitive,
                                on_lock=on_lock)  # fmt: skip
        self._line = LookBehind(session=session, clock=clock, sink=sink, fps=fps,
                                segment_seconds=segment_seconds, started_at=started_at,
                                lookbehind_s=lookbehind_s, stats=self.stats)  # fmt: skip
        self._session_lock_factory = session_lock_factory
        self._voice_factory = voice_factory
        self._voice: VoiceRecorder | None = None
        self._page_factory = page_factory
        self._period = 1.0 / fps
        self._locator_factory = locator_factory
        self._grabber_factory = grabber_factory
        self._reader_factory = reader_factory
        self._on_status = on_status
        self._on_done = on_done
        self._on_mode = on_mode
        # wake(): a byte on a socket pair, so that one select waits on it and on the display
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._quiet_tick = False  # the last tick held its frame without a look (_quiet_hold)
        self._undrawn = False  # the last tick found the window not drawn since it was named
        self._mode: CaptureMode | None = None  # how pixels are read, until it is said
        self._status = ""
        self._pixels: PixelReader | None = None
        self._last_view: WindowView | None = None
        self._last_read = float("-inf")
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Interrupt the frame-interval sleep (the session just changed state)."""
        try:
            self._wake_w.send(b"\0")
        except OSError:  # the thread has ended (its sockets closed) or the pair is full
            pass

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ------------------------------------------------------------------ thread
    def _say(self, status: str) -> None:
        if status != self._status:
            self._status = status
            self._on_status(status)

    def _open(self, locator: WindowLocator) -> None:
        """The pixel reader for the locator's mode, the session's lock and the page watcher."""
        self._pixels = PixelReader(locator, self._grabber_factory, self._reader_factory)
        self.stats.capture_mode = self._pixels.mode.value
        self.stats.mode_reason = self._pixels.reason
        self._mode = self._pixels.mode  # said after the first read (`_loop`): the trail's
        # fsync is not on the way to the call's first frame, and no frame is committed before
        if self._session_lock_factory is not None:
            self._rules.session_lock = self._session_lock_factory()
        if self._rules.reads_page:
            factory = self._page_factory or (
                lambda clock: NoPages("web pages cannot be checked on this desk")
            )
            self._rules.pages = factory(self._clock)

    def _run(self) -> None:
        locator: WindowLocator | None = None
        # the codecs load while the locator opens and the first frame waits out its look-behind
        threading.Thread(target=preload, name="codecs", daemon=True).start()
        try:
            locator = self._locator_factory()
            if isinstance(locator, NullLocator):
                raise LocatorError(locator.reason)
            try:
                self._session.start_recording()
            except InvalidTransition:
                pass  # the call ended, or was paused, before capture could start
            if self._voice_factory is not None:
                self._voice = self._voice_factory()
                self._voice.start()
            self._open(locator)
            self._loop(locator)
            self.stats.stopped_at = self._clock.now()
            if self._session.state is State.SEALING:
                self._drain()
        except LocatorError as exc:
            self._fail(f"cannot record: {exc}")
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                log.exception("capture failed")
            self._fail(
                DISK_FULL if exc.errno == errno.ENOSPC else f"cannot record: capture failed ({exc})"
            )
        except Exception as exc:
            log.exception("capture failed")
            self._fail(f"cannot record: capture failed ({type(exc).__name__}: {exc})")
        finally:
            self._finish(locator)

    def _finish(self, locator: WindowLocator | None) -> None:
        """The call's end: the voice stops, the last segment is sealed (or, discarded,
        abandoned), everything opened is closed, and the engine hears the figures."""
        self._stop_voice()
        try:
            if self._session.state is State.IDLE:  # discarded: nothing may be kept
                self._line.abandon()
            else:
                self._line.seal_all()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                log.exception("could not seal the last segment")
            self.stats.failure = self.stats.failure or (
                DISK_FULL if exc.errno == errno.ENOSPC else "could not seal the last segment"
            )
        except Exception:
            log.exception("could not seal the last segment")
            self.stats.failure = self.stats.failure or "could not seal the last segment"
        for closer in (self._pixels, self._rules.pages, self._rules.session_lock, locator):
            try:
                if closer is not None:
                    closer.close()
            except Exception:  # what was sealed is sealed: the engine must still hear of it
                log.exception("could not close %s", type(closer).__name__)
        self._wake_r.close()
        self._wake_w.close()
        self._on_done(self.stats)

    def _stop_voice(self) -> None:
        """The call is over (or erased): no more sound is read; what was encoded is handed
        to the fragments, which cut it at the on-hook's own time like the frames."""
        if self._voice is None:
            return
        self._voice.stop()
        self.stats.voice = self._voice.summary
        self._line.fragments.add_voice(self._voice.take())

    def _fail(self, reason: str) -> None:
        self.stats.failure = reason
        self._say(reason)
        self._line.clear()
        state = self._session.state
        try:
            if state is State.ARMED and self.stats.frames == 0:
                self._session.discard(reason)
            elif state in (State.ARMED, State.RECORDING, State.PAUSED):
                self._session.stop(reason)
        except InvalidTransition:
            pass

    def _loop(self, locator: WindowLocator) -> None:
        next_tick = self._clock.now()
        while True:
            state = self._session.state
            if state in (State.SEALING, State.IDLE):
                return
            if state is State.RECORDING:
                self._tick(locator)
            if self._mode is not None:
                mode, self._mode = self._mode, None
                self._on_mode(mode, self.stats.mode_reason)
            elif state is State.PAUSED:
                self._rules.lock(locator)  # so that a pause for a lock can be lifted
                self._rules.sensitive(locator)  # and one for a sensitive window
                self._drop("paused")  # what the last look-behind read goes too
            self._line.commit(self._clock.now(), self._rules.vouched)
            voice = self._voice.take if self._voice is not None else None
            self._line.seal_due(self._clock.now(), voice)
            self.stats.shown[self._status] = self.stats.shown.get(self._status, 0) + 1
            next_tick += self._period
            now = self._clock.now()
            delay = next_tick - now
            if delay < 0:
                self.stats.late_ticks += 1
                next_tick = now
                delay = 0
            listen = _news(locator) if self._may_skip(now) else None
            if listen is not None:  # to the next tick and through the one after, in one wait
                if self._sleep(delay + self._period, listen):
                    next_tick = self._clock.now()  # the display has news: tick now
                else:
                    next_tick += self._period  # a quiet interval skipped
                continue
            # a window not drawn yet (just found, mapped or resized) is read as soon as the
            # display says it drew, not at the next tick: the call's first frame comes sooner
            self._sleep(delay, _news(locator) if self._undrawn else None)

    def _may_skip(self, now: float) -> bool:
        """After a quiet tick, the next one may wait for the display to have news (or one
        more interval): nothing can change without an event but a keyboard grab, which the
        locator keeps un-quiet once it is seen. Not when the heartbeat read is near."""
        return (
            self._quiet_tick
            and self._session.state is State.RECORDING
            and now + 2 * self._period - self._last_read < HEARTBEAT_S
        )

    def _sleep(self, delay: float, display: int | None) -> bool:
        """Wait `delay` seconds; True if woken early (by `wake`, or by the display's socket)."""
        wake = self._wake_r.fileno()
        fds = [wake] if display is None else [wake, display]
        ready = self._clock.wait(fds, delay)
        if wake in ready:
            try:
                while self._wake_r.recv(64):
                    pass
            except OSError:  # drained (would block)
                pass
        return bool(ready)

    def _drain(self) -> None:
        """After the stop, what passed its look-behind is kept; the reads of the last
        look-behind before the stop are dropped (their window could not be watched for long
        enough), so sealing starts at once and a next call is not kept waiting."""
        self._line.commit(self._clock.now(), self._rules.vouched)
        if self._line.waiting:
            self._drop(None)

    # ------------------------------------------------------------------ one tick
    def _tick(self, locator: WindowLocator) -> None:
        """One frame interval: read (or hold) one frame into the look-behind, or a gap. The
        rules are checked on one look at the window system before the read, and on a fresh
        one after it."""
        now = self._clock.now()
        self._undrawn = False  # (the look says when the window has not drawn yet)
        self._quiet_tick = self._quiet_hold(locator, now)
        if self._quiet_tick:
            return
        with locator.one_look():
            looked = self._look(locator, now)
        if looked is None:
            return
        window, view, changes = looked
        t = self._clock.now()
        assert self._pixels is not None
        pixels = self._pixels.read(view, changes)
        if pixels is None:
            self.stats.dropped += 1  # the window changed during the read: the next tick follows
            self._gap(t)
            return
        with locator.one_look():
            if not self._still_valid(locator, window, view, t):
                return
        self._last_view, self._last_read = view, t
        size = (pixels.shape[1], pixels.shape[0])
        # what the encoder will see (equal there is unchanged), and from here on the
        # pipeline's own copy: the read may have lent its memory
        self._line.frame(t, compact(pixels), size)
        self._say("recording")

    def _quiet_hold(self, locator: WindowLocator, now: float) -> bool:
        """Hold the frame shown without asking the window system, when nothing happened since
        the last look (most ticks of a static window): the window still shows what was last
        read and still matches its rule (both change only with an event, and what waits is
        dropped at the tick that sees one, inside the look-behind). The lock and sensitive
        windows are still asked about (a keyboard grab sends no event). False: take a look."""
        if (
            self._line.prev is None  # not showing a frame read (a gap, a drop, nothing read yet)
            or self._rules.pages is not None  # page rules: the page watcher's look is needed
            or self._last_view is None
            or self._last_view.layers  # pop-ups draw without damaging the business window
            or now - self._last_read >= HEARTBEAT_S
            or now < self._rules.settle_until
            or not locator.quiet()
        ):
            return False
        with locator.one_look(fresh=False):
            if self._rules.lock(locator) is not None or self._rules.sensitive(locator):
                return False  # the look that follows says so and drops what waits
        self._hold(now)
        return True

    def _look(
        self, locator: WindowLocator, now: float
    ) -> tuple[WindowInfo, WindowView, Changes] | None:
        """Before a read: the window, its view and its changes if a read is due; None when
        this tick is a gap or a held frame (already noted)."""
        window = self._rules.current(locator)
        if window is None:
            self.stats.hidden_ticks += 1
            return None
        if self._rules.lock(locator) is not None:
            self._drop("the screen is locked")
            return None
        if self._rules.sensitive(locator) is not None:
            self._drop("a sensitive window is shown")
            return None
        if now < self._rules.settle_until:
            self._gap(now)
            return None
        view = locator.view(window)
        if not view.visible or not view.ready:
            self.stats.hidden_ticks += 1
            self._gap(now)
            if not view.visible and locator.describe(window) is None:
                self._rules.window = None  # closed: look for it again
            # per-window: its first damage says it drew (masked capture keeps to its ticks:
            # there a read during a move is dropped, and reading sooner drops more)
            self._undrawn = view.visible and self._per_window()
            self._say(view.why_not if not view.visible else DRAWING)
            return None
        changes = locator.take_changes(window)
        assert self._pixels is not None
        if self._pixels.all_stale(view, changes):
            self.stats.hidden_ticks += 1  # masked: nothing of it is the app's yet (just mapped)
            self._gap(now)
            self._say(DRAWING)
            return None
        if self._line.prev is not None and not self._needs_read(view, changes, now):
            self._hold(now)
            return None
        return window, view, changes

    def _still_valid(
        self, locator: WindowLocator, window: WindowInfo, view: WindowView, t: float
    ) -> bool:
        """After a read: nothing moved and every rule still holds, or the frame is dropped."""
        after = locator.view(window)
        if (
            not after.visible
            or after != view
            or (not self._per_window() and after.serial != view.serial)  # masked: anything moved
        ):
            self.stats.dropped += 1  # changed during the read: the next tick follows it
            self._gap(t)
            return False
        if (
            self._rules.matching(locator, window)[0] is None
            or locator.identity_serial(window) != self._rules.identity
            or self._rules.page_moved()
        ):
            self.stats.dropped += 1
            self._drop(SHOWS_OTHER_PAGE)  # e.g. a tab switch during the read
            return False
        if self._rules.lock(locator) is not None:
            self.stats.dropped += 1  # locked during the read
            self._drop("the screen is locked")
            return False
        if self._rules.sensitive(locator) is not None:
            self.stats.dropped += 1  # a sensitive window appeared during the read
            self._drop("a sensitive window is shown")
            return False
        return True

    def _needs_read(self, view: WindowView, changes: Changes, now: float) -> bool:
        return (
            changes.damaged is not False
            or view != self._last_view
            or bool(view.layers)  # pop-ups draw without damaging the business window
            or bool(changes.stale)
            or now - self._last_read >= HEARTBEAT_S
        )

    def _per_window(self) -> bool:
        return self._pixels is not None and self._pixels.per_window

    def _hold(self, t: float) -> None:
        self._line.hold(t)
        self._say("recording")

    def _gap(self, now: float) -> None:
        self._line.gap(now)

    def _drop(self, why: str | None) -> None:
        """The rule broke (or a pause, a sensitive window): what waits is never committed;
        the status says `why` (None: it stays as it is)."""
        self._line.drop()
        self._last_view = None
        if why is not None:
            self._say(why)

    def _forget_view(self) -> None:
        self._last_view = None
