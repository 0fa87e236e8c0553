"""The capture pipeline: locate ▶ wait for damage ▶ read ▶ the rule still holds? ▶ encode ▶ seal.

Runs on its own thread, one per recording. Two ways to read pixels, chosen by the locator:

* composite (per-window capture): the business window's own pixmap is read (capture/xshm.py);
  no other window's pixel is read, so what lies above it never reaches this process. Child
  windows of another X client inside it are blacked out; the application's own pop-ups are
  drawn from their own pixmaps only where its rule allows (`popups = true`).
* masked (fallback, said in the status, the metadata and the trail): its rectangle on the
  screen is grabbed and everything above it is blacked out, and so is every region another
  window just left until the application has repainted it.

The rule holds for every frame, not once per call: the window's identity (title, class,
executable) is checked at every tick and again right after each read, and a frame is
committed to the encoder only once the window has kept matching for the look-behind delay
after its read (policy `lookbehind_ms`), so a frame painted just before a title change (a
browser's tab switch, a page that sets its title late) is dropped with the frames around it.
Sensitive windows (R10), a pause, or a mismatch drop what is still waiting; so does the end
of the call (the video ends one look-behind before the on-hook). While the window
does not match, no frame is written and the status says why.

Frames are read only after the window drew (X DAMAGE), when what is read of it changed, or
at a heartbeat; otherwise the tick holds the last frame. Unchanged frames are not encoded:
the last held tick is written as a repeat before anything that is not a frame — a gap, a
segment's end, the call's end — and the first frame after a gap is always written: the
video's frames start and stop where the visible spans do.

Threading: `start()` / `wake()` may be called from any thread; everything else happens on the
pipeline thread, which owns its locator, reader or grabber, and encoder.
"""

from __future__ import annotations

import collections
import enum
import errno
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from agentapp.capture.encoder import SegmentEncoder, apply_mask, compact, preload
from agentapp.capture.fragments import Fragmenter, FragmentSink
from agentapp.capture.voice import VoiceRecorder
from agentapp.core.clock import Clock
from agentapp.core.geometry import Rect, mask_boxes
from agentapp.core.policy import WindowRule
from agentapp.core.session import InvalidTransition, RecorderSession, State
from agentapp.platform.base import (
    CaptureMode,
    Changes,
    LocatorError,
    NoPages,
    NullLocator,
    PageWatcher,
    SessionLock,
    WindowInfo,
    WindowLocator,
    WindowView,
)

log = logging.getLogger(__name__)
DISK_FULL = "disk full: recording stopped; what was already sealed is kept — free some space"


class GrabberLike(Protocol):
    """Masked mode: reads a rectangle of the screen."""

    def grab(self, rect: Rect) -> np.ndarray: ...

    def close(self) -> None: ...


class ReaderLike(Protocol):
    """Composite mode: reads one drawable (a window's own pixmap); None when refused.
    `copy` False: the pixels may be a read-only view, valid until the next read."""

    def read(
        self, drawable: int, width: int, height: int, copy: bool = True
    ) -> np.ndarray | None: ...

    def close(self) -> None: ...


class ReaderUnavailable(RuntimeError):
    """The reader cannot work on this display (the pipeline falls back to masked capture)."""


HEARTBEAT_S = 1.0  # a window that drew nothing is still read this often
PAGE_STALE_S = 1.0  # page rules: a look at the page older than this vouches for nothing
SHOWS_OTHER_PAGE = "the business window shows another page"
DRAWING = "waiting for the window to draw"


@dataclass(slots=True)
class PipelineStats:
    frames: int = 0
    segments: int = 0
    hidden_ticks: int = 0
    dropped: int = 0
    late_ticks: int = 0
    unchanged: int = 0  # ticks whose masked frame equalled the last one: held, not encoded
    first_frame_at: float | None = None  # when the first kept frame was read
    first_commit_at: float | None = None  # when it was committed (after the look-behind)
    capture_mode: str = ""
    mode_reason: str = ""  # why masked capture was used
    stopped_at: float | None = None  # when the loop stopped grabbing (before sealing)
    application: str = ""
    voice: str = ""  # the voice recorder's last word: "recording" or "no voice: …" ("": off)
    failure: str = ""
    shown: dict[str, int] = field(default_factory=dict)  # status → ticks it was the status

    def why_nothing(self) -> str:
        """Why no frame was kept, from what happened: the status shown at the most ticks
        that wrote nothing ("recording" alone: every read waited out its look-behind)."""
        others = {s: n for s, n in self.shown.items() if s and s != "recording"}
        if others:
            why = max(others, key=lambda s: others[s])
            return "paused for the whole call" if why == "paused" else why
        if self.shown:
            return "the call ended within the look-behind of its first frames (never kept)"
        return "the call ended before the business window was looked at"


def _news(locator: WindowLocator) -> int | None:
    """The display's connection, to wait on for news; None when it has none (any more: the
    next tick says the display is gone)."""
    fd = locator.fileno()
    return fd if fd is not None and fd >= 0 else None


class _Kind(enum.Enum):
    FRAME = 1
    HOLD = 2  # the same pixels as the entry before it
    GAP = 3  # nothing visible: the held frame ends here


@dataclass(slots=True)
class _Pending:
    """A read waiting for the look-behind to pass before it may be committed."""

    kind: _Kind
    t: float
    t_ms: int = 0
    pixels: np.ndarray | None = None  # BGRA, or I420 (encoder.compact)
    size: tuple[int, int] = (0, 0)  # the frame's width and height


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
        grabber_factory: Callable[[], GrabberLike],
        on_status: Callable[[str], None],
        on_done: Callable[[PipelineStats], None],
        on_sensitive: Callable[[str | None], None] = lambda name: None,
        on_lock: Callable[[str | None], None] = lambda why: None,
        reader_factory: Callable[[], ReaderLike] | None = None,
        lookbehind_s: float = 0.5,
        on_mode: Callable[[CaptureMode, str], None] = lambda mode, why: None,
        page_factory: Callable[[Clock], PageWatcher] | None = None,
        session_lock_factory: Callable[[], SessionLock | None] | None = None,
        voice_factory: Callable[[], VoiceRecorder] | None = None,
    ) -> None:
        self._session = session
        self._clock = clock
        self._rules = rules
        self._sensitive = sensitive
        self._on_sensitive = on_sensitive
        self._sensitive_seen: str | None = None
        self._on_lock = on_lock
        self._session_lock_factory = session_lock_factory
        self._session_lock: SessionLock | None = None
        self._voice_factory = voice_factory
        self._voice: VoiceRecorder | None = None
        self._locked_seen: str | None = None
        # page rules (URL, fields): read through a page watcher, see _page_ok
        self._window_sensitive = tuple(r for r in sensitive if not r.reads_page)
        self._page_sensitive = tuple(r for r in sensitive if r.reads_page)
        self._page_sensitive_seen: str | None = None
        self._fields = any(r.field_pattern is not None for r in sensitive)
        self._reads_page = any(r.reads_page for r in rules) or bool(self._page_sensitive)
        self._page_factory = page_factory
        self._pages: PageWatcher | None = None
        self._page_serial = -1
        # reads up to this moment are vouched for by a look at the page (+inf: no page rule)
        self._vouched = float("-inf") if self._reads_page else float("inf")
        self._period = 1.0 / fps
        self._fps = fps
        self._segment_seconds = segment_seconds
        self._started_at = started_at
        self._fragments = Fragmenter(sink)
        self._locator_factory = locator_factory
        self._grabber_factory = grabber_factory
        self._reader_factory = reader_factory
        self._lookbehind = lookbehind_s
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
        self.stats = PipelineStats()
        self._window: WindowInfo | None = None
        self._rule: WindowRule | None = None
        self._identity = -1  # the window's identity serial when last seen matching
        self._settle_until = float("-inf")  # no read before: its title just changed
        self._grabber: GrabberLike | None = None
        self._reader: ReaderLike | None = None
        self._pending: collections.deque[_Pending] = collections.deque()
        self._prev: np.ndarray | None = None  # the last frame read into `_pending` (compact)
        self._last_view: WindowView | None = None
        self._last_read = float("-inf")
        self._enc: SegmentEncoder | None = None
        self._seg_started = 0.0
        self._last: np.ndarray | None = None  # the last frame encoded ...
        self._last_size = (0, 0)  # ... and its width and height
        self._held_ms: int | None = None  # the last tick that held it, not yet written
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
        """The pixel reader for the locator's mode; masked capture if per-window cannot run."""
        if locator.mode is CaptureMode.COMPOSITE and self._reader_factory is not None:
            try:
                self._reader = self._reader_factory()
            except ReaderUnavailable as exc:
                locator.use_masked(str(exc))
        elif locator.mode is CaptureMode.COMPOSITE:
            locator.use_masked("no per-window reader")
        if self._reader is None:
            self._grabber = self._grabber_factory()
        mode = CaptureMode.COMPOSITE if self._reader is not None else CaptureMode.MASKED
        self.stats.capture_mode = mode.value
        self.stats.mode_reason = "" if self._reader is not None else locator.mode_reason
        self._mode = mode  # said after the first read (`_loop`): the trail's fsync is not
        # on the way to the call's first frame, and no frame is committed before it is said

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
            if self._session_lock_factory is not None:
                self._session_lock = self._session_lock_factory()
            if self._reads_page:
                factory = self._page_factory or (
                    lambda clock: NoPages("web pages cannot be checked on this desk")
                )
                self._pages = factory(self._clock)
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
            self._stop_voice()
            try:
                if self._session.state is State.IDLE:  # discarded: nothing may be kept
                    self._abandon_segment()
                else:
                    self._seal_all()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    log.exception("could not seal the last segment")
                self.stats.failure = self.stats.failure or (
                    DISK_FULL if exc.errno == errno.ENOSPC else "could not seal the last segment"
                )
            except Exception:
                log.exception("could not seal the last segment")
                self.stats.failure = self.stats.failure or "could not seal the last segment"
            for closer in (self._reader, self._grabber, self._pages, self._session_lock, locator):
                if closer is not None:
                    closer.close()
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
        self._fragments.add_voice(self._voice.take())

    def _fail(self, reason: str) -> None:
        self.stats.failure = reason
        self._say(reason)
        self._pending.clear()
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
                self._check_lock(locator)  # so that a pause for a lock can be lifted
                self._check_sensitive(locator)  # and one for a sensitive window
                self._drop("paused")  # what the last look-behind read goes too
            self._commit(self._clock.now())
            self._seal_due(self._clock.now())
            self.stats.shown[self._status] = self.stats.shown.get(self._status, 0) + 1
            next_tick += self._period
            now = self._clock.now()
            delay = next_tick - now
            if delay < 0:
                self.stats.late_ticks += 1
                next_tick = now
                delay = 0
            # a window not drawn yet (just found, mapped or resized) is read as soon as the
            # display says it drew, not at the next tick: the call's first frame comes sooner
            if self._sleep(delay, _news(locator) if self._undrawn else None):
                continue  # woken: the session changed, or the window drew
            listen = _news(locator) if self._may_skip(now) else None
            if listen is not None and self._sleep(self._period, listen):
                next_tick = self._clock.now()  # the display has news: tick now
            elif listen is not None:
                next_tick += self._period  # a quiet interval skipped

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
        self._commit(self._clock.now())
        if self._pending:
            self._drop(self._status)

    # ------------------------------------------------------------------ rules
    def _current(self, locator: WindowLocator) -> WindowInfo | None:
        """The business window if it matches a rule now; says why not (and drops what waits
        for the look-behind) otherwise."""
        still_there = False
        if self._window is not None:
            info, still_there = self._matching(locator, self._window)
            if info is not None:
                self._window = info
                self._check_identity(locator, info)
                return info if self._page_ok(info) else None
        found = locator.find(self._rules)
        if found is None:
            self._drop(SHOWS_OTHER_PAGE if still_there else "business window not found")
            return None
        info, rule = found
        if self._window is None or info.handle != self._window.handle or rule is not self._rule:
            locator.track(info, rule.popups)
            self._last_view = None
        self._window, self._rule = info, rule
        self.stats.application = rule.name
        self._check_identity(locator, info)
        return info if self._page_ok(info) else None

    def _check_identity(self, locator: WindowLocator, info: WindowInfo) -> None:
        """A title that changed since the last look may have shown another page in between
        (a tab switch and back, between two ticks of a starved thread): what waits goes."""
        serial = locator.identity_serial(info)
        if serial != self._identity:
            if self._identity >= 0:
                self._drop(self._status)
                # a browser may title the tab before it repaints it: no read for a while
                self._settle_until = self._clock.now() + self._lookbehind / 2
            self._identity = serial

    def _matching(
        self, locator: WindowLocator, window: WindowInfo
    ) -> tuple[WindowInfo | None, bool]:
        """(the window's identity now if it still matches its rule, whether it still exists)."""
        info = locator.describe(window)
        rule = self._rule
        if (
            info is not None
            and rule is not None
            and rule.matches(info.wm_class, info.executable, info.title)
        ):
            return info, True
        return None, info is not None

    def _page_ok(self, info: WindowInfo) -> bool:
        """Page rules: the page the window shows is known from a fresh look and matches its
        rule; what waits goes if it changed. Says why not (no frame) otherwise."""
        if self._pages is None:
            return True
        self._pages.follow(info, self._fields)
        st = self._pages.state()
        now = self._clock.now()
        if st.page is None or now - st.checked_at > PAGE_STALE_S:
            self._drop(st.why or "the page shown cannot be checked")
            return False
        if st.serial != self._page_serial:
            if self._page_serial >= 0:
                self._drop(self._status)
                self._settle_until = now + self._lookbehind / 2
            self._page_serial = st.serial
        if self._rule is not None and not self._rule.matches_page(st.page):
            self._drop(SHOWS_OTHER_PAGE)
            return False
        self._vouched = st.checked_at
        return True

    def _page_moved(self) -> bool:
        """The page changed since it was last checked (during a read)."""
        return self._pages is not None and self._pages.state().serial != self._page_serial

    def _page_sensitive_name(self, locator: WindowLocator) -> str | None:
        """The sensitive rule the business window's page matches (URL, field), or None."""
        if self._pages is None or self._window is None:
            return None
        info = locator.describe(self._window) or self._window
        self._pages.follow(info, self._fields)  # also while paused: its title may change
        page = self._pages.state().page
        if page is None:
            return self._page_sensitive_seen  # cannot tell now: what was seen stands
        name = None
        for r in self._page_sensitive:
            if r.shows_in(page) and (
                not r.reads_window or r.matches(info.wm_class, info.executable, info.title)
            ):
                name = r.name
                break
        self._page_sensitive_seen = name
        return name

    def _check_lock(self, locator: WindowLocator) -> str | None:
        """Why the screen looks locked now, or None; tells the engine when that changes."""
        why = self._session_lock.locked() if self._session_lock is not None else None
        if why is None and self._window is not None:
            why = locator.locked(self._window)
        if why != self._locked_seen:
            self._locked_seen = why
            self._on_lock(why)
        return why

    def _check_sensitive(self, locator: WindowLocator) -> str | None:
        """Name of a visible sensitive window (or of the sensitive page the business window
        shows), or None; tells the engine when that changes."""
        if not self._sensitive:
            return None
        found = locator.find_visible(self._window_sensitive) if self._window_sensitive else None
        name = found[1].name if found else None
        if self._page_sensitive:
            name = self._page_sensitive_name(locator) or name
        if name != self._sensitive_seen:
            self._sensitive_seen = name
            self._on_sensitive(name)
        return name

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
        pixels = self._read(view, changes)
        if pixels is None:
            self.stats.dropped += 1  # the window changed during the read: the next tick follows
            self._gap(t)
            return
        with locator.one_look():
            if not self._still_valid(locator, window, view, t):
                return
        self._last_view, self._last_read = view, t
        size = (pixels.shape[1], pixels.shape[0])
        pixels = compact(pixels)  # what the encoder will see: equal there is unchanged
        # (and from here on the pipeline's own copy: the read may have lent its memory)
        if _same(pixels, self._prev):
            self._hold(t)
            return
        self._pending.append(_Pending(_Kind.FRAME, t, self._ms(t), pixels, size))
        self._prev = pixels
        self._say("recording")

    def _quiet_hold(self, locator: WindowLocator, now: float) -> bool:
        """Hold the frame shown without asking the window system, when nothing happened since
        the last look (most ticks of a static window): the window still shows what was last
        read and still matches its rule (both change only with an event, and what waits is
        dropped at the tick that sees one, inside the look-behind). The lock and sensitive
        windows are still asked about (a keyboard grab sends no event). False: take a look."""
        if (
            self._prev is None  # not showing a frame read (a gap, a drop, nothing read yet)
            or self._pages is not None  # page rules: the page watcher's look is needed
            or self._last_view is None
            or self._last_view.layers  # pop-ups draw without damaging the business window
            or now - self._last_read >= HEARTBEAT_S
            or now < self._settle_until
            or not locator.quiet()
        ):
            return False
        with locator.one_look(fresh=False):
            if self._check_lock(locator) is not None or self._check_sensitive(locator):
                return False  # the look that follows says so and drops what waits
        self._hold(now)
        return True

    def _look(
        self, locator: WindowLocator, now: float
    ) -> tuple[WindowInfo, WindowView, Changes] | None:
        """Before a read: the window, its view and its changes if a read is due; None when
        this tick is a gap or a held frame (already noted)."""
        window = self._current(locator)
        if window is None:
            self.stats.hidden_ticks += 1
            return None
        if self._check_lock(locator) is not None:
            self._drop("the screen is locked")
            return None
        if self._check_sensitive(locator) is not None:
            self._drop("a sensitive window is shown")
            return None
        if now < self._settle_until:
            self._gap(now)
            return None
        view = locator.view(window)
        if not view.visible or not view.ready:
            self.stats.hidden_ticks += 1
            self._gap(now)
            if not view.visible and locator.describe(window) is None:
                self._window = None  # closed: look for it again
            # per-window: its first damage says it drew (masked capture keeps to its ticks:
            # there a read during a move is dropped, and reading sooner drops more)
            self._undrawn = view.visible and self._reader is not None
            self._say(view.why_not if not view.visible else DRAWING)
            return None
        changes = locator.take_changes(window)
        if self._reader is None and _all_stale(view, changes):
            self.stats.hidden_ticks += 1  # masked: nothing of it is the app's yet (just mapped)
            self._gap(now)
            self._say(DRAWING)
            return None
        if self._prev is not None and not self._needs_read(view, changes, now):
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
            or (self._reader is None and after.serial != view.serial)  # masked: anything moved
        ):
            self.stats.dropped += 1  # changed during the read: the next tick follows it
            self._gap(t)
            return False
        if (
            self._matching(locator, window)[0] is None
            or locator.identity_serial(window) != self._identity
            or self._page_moved()
        ):
            self.stats.dropped += 1
            self._drop(SHOWS_OTHER_PAGE)  # e.g. a tab switch during the read
            return False
        if self._check_lock(locator) is not None:
            self.stats.dropped += 1  # locked during the read
            self._drop("the screen is locked")
            return False
        if self._check_sensitive(locator) is not None:
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

    def _read(self, view: WindowView, changes: Changes) -> np.ndarray | None:
        """The frame as it may be recorded: per-window pixels, or the masked rectangle."""
        if self._reader is not None:
            w, h = view.rect.w, view.rect.h
            # nothing to draw on it (most frames): the shared memory itself, converted once
            alone = not view.layers and not view.blackout
            pixels = self._reader.read(view.pixmap, w, h, copy=not alone)
            if pixels is None or alone:
                return pixels
            frame = Rect(0, 0, w, h)
            for layer in view.layers:
                part = layer.rect.intersect(frame)
                if part.empty:
                    continue
                lp = self._reader.read(layer.drawable, layer.rect.w, layer.rect.h)
                if lp is None:
                    return None
                dx, dy = part.x - layer.rect.x, part.y - layer.rect.y
                pixels[part.y : part.y + part.h, part.x : part.x + part.w] = lp[
                    dy : dy + part.h, dx : dx + part.w
                ]
            apply_mask(pixels, mask_boxes(frame, view.blackout))
            return pixels
        assert self._grabber is not None
        pixels = self._grabber.grab(view.rect)
        if not pixels.flags.writeable:
            pixels = pixels.copy()
        ox, oy = view.origin
        stale = tuple(Rect(ox + r.x, oy + r.y, r.w, r.h) for r in changes.stale)
        apply_mask(pixels, mask_boxes(view.rect, view.occluders + stale))
        return pixels

    def _ms(self, t: float) -> int:
        """A frame's time in the video: milliseconds since off-hook."""
        return round((t - self._started_at) * 1000)

    def _hold(self, t: float) -> None:
        self._pending.append(_Pending(_Kind.HOLD, t, self._ms(t)))
        self._say("recording")

    def _gap(self, now: float) -> None:
        if not self._pending or self._pending[-1].kind is not _Kind.GAP:
            self._pending.append(_Pending(_Kind.GAP, now))
        self._prev = None

    def _drop(self, why: str) -> None:
        """The rule broke (or a pause, a sensitive window): what waits is never committed."""
        self._pending.clear()
        self._prev = None
        self._last_view = None
        self._write_held()
        self._last = None
        self._say(why)

    # ------------------------------------------------------------------ commit
    def _commit(self, now: float) -> None:
        """Encode what passed its look-behind."""
        while (
            self._pending
            and now - self._pending[0].t >= self._lookbehind
            and self._pending[0].t <= self._vouched  # page rules: a look after it agreed
        ):
            e = self._pending.popleft()
            if e.kind is _Kind.GAP or not self._session.accepts_frames_at(e.t):
                self._write_held()
                self._last = None
                continue
            if e.kind is _Kind.HOLD:
                if self._last is None:
                    continue  # nothing shown since the last gap: nothing to hold
                if self._enc is None:
                    # the segment ended (its length) on a static window: the next one opens
                    # with the picture still shown, or the video would stop until a change
                    self._encode(_Pending(_Kind.FRAME, e.t, e.t_ms, self._last, self._last_size))
                else:
                    self._held_ms = e.t_ms
                    self.stats.unchanged += 1
                continue
            assert e.pixels is not None
            self._encode(e)

    def _encode(self, e: _Pending) -> None:
        assert e.pixels is not None
        w, h = e.size
        if self._enc is not None and (self._enc.width, self._enc.height) != (w, h):
            self._roll_over()  # resized: a new segment at the new size
        if self._enc is None:
            self._enc = SegmentEncoder(w, h, self._fps)
            self._fragments.start_segment(w, h, self._clock.now())
            self._seg_started = e.t
        self._held_ms = None  # the last picture stays shown until this one: no repeat needed
        self._enc.add(e.pixels, e.t_ms)
        self._last, self._last_size, self._held_ms = e.pixels, e.size, None
        self.stats.frames += 1
        if self.stats.first_frame_at is None:
            self.stats.first_frame_at = e.t
            self.stats.first_commit_at = self._clock.now()
        if e.t - self._seg_started >= self._segment_seconds:
            self._roll_over()

    def _write_held(self) -> None:
        """Write the last held tick as a repeat of the last frame, so the video's time runs
        to it (then the gap, fragment end or call end that follows is exact)."""
        held, self._held_ms = self._held_ms, None
        if held is not None and self._enc is not None and self._last is not None:
            self._enc.repeat(held)
            self.stats.frames += 1  # that tick is a written frame now, no longer a held one
            self.stats.unchanged -= 1

    def _abandon_segment(self) -> None:
        self._held_ms = None
        self._pending.clear()
        self._fragments.abandon()
        self._enc = None

    def _roll_over(self) -> None:
        """End the current segment: its last fragment is sealed now."""
        self._write_held()
        enc, self._enc = self._enc, None
        if enc is not None:
            self._fragments.add(enc.flush())
            self._fragments.seal(self._clock.now())

    def _seal_due(self, now: float) -> None:
        """Seal the fragment being filled once it is due (so a crash loses little). A static
        window's held tick is written first, so the sealed video runs up to now."""
        if self._voice is not None:
            self._fragments.add_voice(self._voice.take())
        if self._enc is None:  # between segments (the window hidden): the voice goes on
            if self._fragments.due(now):
                self._fragments.seal(now)
            return
        self._fragments.add(self._enc.take())
        if not self._fragments.due(now, self._held_ms is not None):
            return
        self._write_held()
        self._fragments.add(self._enc.take())
        self._fragments.seal(now)

    def _seal_all(self) -> None:
        """The call's end: what is left is sealed, without the frames shown after the
        on-hook's own time (it may have arrived late, after they were sealed)."""
        self._write_held()
        stop_at = self._session.info.stop_at
        until = None if stop_at is None else self._ms(stop_at)
        enc, self._enc = self._enc, None
        if enc is not None:
            self._fragments.add(enc.flush())
        self.stats.frames -= self._fragments.end(until)  # shown after a late on-hook
        self.stats.segments = self._fragments.segments


def _all_stale(view: WindowView, changes: Changes) -> bool:
    whole = Rect(0, 0, view.rect.w, view.rect.h)
    return any(r.intersect(whole) == whole for r in changes.stale)


def _same(a: np.ndarray, b: np.ndarray | None) -> bool:
    """Two frames equal, pixel for pixel (~0.2 ms for 1280x720, compared as 64-bit words)."""
    if b is None or a.shape != b.shape:
        return False
    if a.nbytes % 8 or not (a.flags.c_contiguous and b.flags.c_contiguous):
        return bool(np.array_equal(a, b))
    return bool(np.array_equal(a.reshape(-1).view(np.uint64), b.reshape(-1).view(np.uint64)))
