"""The look-behind and the hand-off to the encoder: what was read waits here until the window
has kept matching its rule for the look-behind delay, then it is encoded and sealed.

Each tick puts one entry on the line: a frame read, a held tick (the same pixels as the entry
before it), or a gap (nothing visible). A drop (the rule broke, a pause, a sensitive window)
clears what waits: it is never committed. Unchanged frames are not encoded: the last held
tick is written as a repeat before anything that is not a frame — a gap, a segment's end, the
call's end — so the video's frames start and stop where the visible spans do.

Threading: the capture thread only (capture/pipeline.py owns it).
"""

from __future__ import annotations

import collections
import enum
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agentapp.capture.encoder import SegmentEncoder, same_pixels
from agentapp.capture.fragments import Fragmenter, FragmentSink
from agentapp.core.clock import Clock
from agentapp.core.session import RecorderSession
from agentapp.core.videopack import VoicePacket


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


class LookBehind:
    def __init__(
        self,
        *,
        session: RecorderSession,
        clock: Clock,
        sink: FragmentSink,
        fps: int,
        segment_seconds: int,
        started_at: float,
        lookbehind_s: float,
        stats: PipelineStats,
    ) -> None:
        self._session, self._clock, self.stats = session, clock, stats
        self._fps, self._segment_seconds = fps, segment_seconds
        self._started_at, self._lookbehind = started_at, lookbehind_s
        self.fragments = Fragmenter(sink)
        self._pending: collections.deque[_Pending] = collections.deque()
        self.prev: np.ndarray | None = None  # the last frame read onto the line (compact)
        self._enc: SegmentEncoder | None = None
        self._seg_started = 0.0
        self._last: np.ndarray | None = None  # the last frame encoded ...
        self._last_size = (0, 0)  # ... and its width and height
        self._held_ms: int | None = None  # the last tick that held it, not yet written

    @property
    def waiting(self) -> bool:
        return bool(self._pending)

    def _ms(self, t: float) -> int:
        """A frame's time in the video: milliseconds since off-hook."""
        return round((t - self._started_at) * 1000)

    # ------------------------------------------------------------------ onto the line
    def frame(self, t: float, pixels: np.ndarray, size: tuple[int, int]) -> bool:
        """A frame read at `t` (compact pixels); False when it equals the last one (then
        the tick holds it instead)."""
        if pixels is self.prev or same_pixels(pixels, self.prev):
            self.hold(t)
            return False
        self._pending.append(_Pending(_Kind.FRAME, t, self._ms(t), pixels, size))
        self.prev = pixels
        return True

    def hold(self, t: float) -> None:
        self._pending.append(_Pending(_Kind.HOLD, t, self._ms(t)))

    def gap(self, now: float) -> None:
        if not self._pending or self._pending[-1].kind is not _Kind.GAP:
            self._pending.append(_Pending(_Kind.GAP, now))
        self.prev = None

    def clear(self) -> None:
        """What waits is never committed (the capture failed)."""
        self._pending.clear()

    def drop(self) -> None:
        """The rule broke (or a pause, a sensitive window): what waits is never committed."""
        self._pending.clear()
        self.prev = None
        self._write_held()
        self._last = None

    # ------------------------------------------------------------------ commit
    def commit(self, now: float, vouched: float) -> None:
        """Encode what passed its look-behind (page rules: and that a look at the page
        after it agreed with, `vouched`)."""
        while (
            self._pending
            and now - self._pending[0].t >= self._lookbehind
            and self._pending[0].t <= vouched
        ):
            e = self._pending.popleft()
            if e.kind is _Kind.GAP or not self._session.accepts_frames_at(e.t, self._lookbehind):
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
            self._encode(e)

    def _encode(self, e: _Pending) -> None:
        assert e.pixels is not None
        w, h = e.size
        if self._enc is not None and (self._enc.width, self._enc.height) != (w, h):
            self._roll_over()  # resized: a new segment at the new size
        if self._enc is None:
            self._enc = SegmentEncoder(w, h, self._fps)
            self.fragments.start_segment(w, h, self._clock.now())
            self._seg_started = e.t
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

    def _roll_over(self) -> None:
        """End the current segment: its last fragment is sealed now."""
        self._write_held()
        enc, self._enc = self._enc, None
        if enc is not None:
            self.fragments.add(enc.flush())
            self.fragments.seal(self._clock.now())

    # ------------------------------------------------------------------ sealing
    def seal_due(self, now: float, voice: Callable[[], list[VoicePacket]] | None) -> None:
        """Seal the fragment being filled once it is due (so a crash loses little). A static
        window's held tick is written first, so the sealed video runs up to now. `voice`:
        the voice's encoded packets since the last call, if the call's voice is recorded."""
        if voice is not None:
            self.fragments.add_voice(voice())
        if self._enc is None:  # between segments (the window hidden): the voice goes on
            if self.fragments.due(now):
                self.fragments.seal(now)
            return
        self.fragments.add(self._enc.take())
        if not self.fragments.due(now, self._held_ms is not None):
            return
        self._write_held()
        self.fragments.add(self._enc.take())
        self.fragments.seal(now)

    def seal_all(self) -> None:
        """The call's end: what is left is sealed, without the frames shown after the
        on-hook's own time (it may have arrived late, after they were sealed)."""
        self._write_held()
        stop_at = self._session.info.stop_at
        until = None if stop_at is None else self._ms(stop_at)
        enc, self._enc = self._enc, None
        if enc is not None:
            self.fragments.add(enc.flush())
        self.stats.frames -= self.fragments.end(until)  # shown after a late on-hook
        self.stats.segments = self.fragments.segments

    def abandon(self) -> None:
        """Discarded (the caller objected): nothing of the segment being filled is kept."""
        self._held_ms = None
        self._pending.clear()
        self.fragments.abandon()
        self._enc = None
