"""Cut a recording's encoded packets into small sealed fragments, and take back the tail a
late on-hook says was after the call.

A fragment is sealed as soon as it is complete: the first one at the first frame (a short
call is never lost whole), then one every FRAGMENT_S, and one at each segment's end. A crash
or kill -9 therefore loses at most the look-behind and one fragment (≈2 s at the defaults).

An on-hook may arrive late (its own stamp is trusted up to MAX_CLIENT_LAG_S old), after the
fragments holding frames shown after it were sealed. So the fragments sealed in the last
seconds stay in memory too (TAIL_S); at the end of the call the first one holding a frame
after the stamp is taken back from the disk with everything after it (the sink cuts the
segment's file), and sealed again without those frames, marked as the recording's end.

Threading: the capture thread only.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Protocol

from agentapp.core.events import MAX_CLIENT_LAG_S
from agentapp.core.policy import MAX_LOOKBEHIND_MS
from agentapp.core.videopack import Packet, VoicePacket, pack

FRAGMENT_S = 1.5
# long enough to reach back to any stamp an on-hook may still carry when it arrives
TAIL_S = MAX_CLIENT_LAG_S + MAX_LOOKBEHIND_MS / 1000 + 2 * FRAGMENT_S


class FragmentSink(Protocol):
    def append(self, seq: int, index: int, payload: bytes, frames: int, call_end: bool) -> None:
        """Seal fragment `index` of segment `seq` and add it to the disk (0 opens the segment)."""

    def retract(self, seq: int, index: int) -> None:
        """Take back fragment `index` of segment `seq` and every fragment after it."""


@dataclass(slots=True)
class _Fragment:
    seq: int
    index: int
    size: tuple[int, int]
    packets: list[Packet]
    sealed_at: float | None = None  # None: still being filled
    voice: list[VoicePacket] = field(default_factory=list)

    def payload(self) -> bytes:
        return pack(*self.size, self.packets, self.voice)


class Fragmenter:
    def __init__(self, sink: FragmentSink, fragment_s: float = FRAGMENT_S) -> None:
        self._sink = sink
        self._fragment_s = fragment_s
        self._tail: collections.deque[_Fragment] = collections.deque()  # sealed, recent
        self._open: _Fragment | None = None
        self._sealed_at = float("-inf")  # when the last fragment was sealed
        self._seq = 0
        self._next_index = 0
        self._sealed_any = False
        self._voice: list[VoicePacket] = []  # voice before the first frame: it waits for it

    @property
    def segments(self) -> int:
        return self._seq

    def start_segment(self, width: int, height: int, now: float) -> None:
        """The packets that follow belong to a new segment (first frame, or a new size)."""
        self.seal(now)
        self._seq += 1
        self._next_index = 0
        self._open = _Fragment(self._seq, 0, (width, height), [], voice=self._voice)
        self._voice = []

    def add(self, packets: list[Packet]) -> None:
        if packets:
            assert self._open is not None, "start_segment first"
            self._open.packets.extend(packets)

    def add_voice(self, packets: list[VoicePacket]) -> None:
        """The call's voice goes with the frames of the fragment being filled (or waits, in
        memory only, for the call's first frame)."""
        (self._open.voice if self._open is not None else self._voice).extend(packets)

    def due(self, now: float, waiting: bool = False) -> bool:
        """Is the fragment being filled to be sealed now? `waiting`: a frame is held back
        (a static window's last tick), to be written first."""
        f = self._open
        if f is None or not (f.packets or f.voice or waiting):
            return False
        if not self._sealed_any:
            return bool(f.packets)
        return now - self._sealed_at >= self._fragment_s

    def seal(self, now: float) -> None:
        """Seal the fragment being filled (if it holds anything); the next one opens."""
        f = self._open
        if f is None or not (f.packets or (f.voice and self._sealed_any)):
            return
        self._sink.append(f.seq, f.index, f.payload(), len(f.packets), False)
        self._sealed_any = True
        f.sealed_at = self._sealed_at = now
        self._tail.append(f)
        self._next_index = f.index + 1
        self._open = _Fragment(f.seq, self._next_index, f.size, [])
        while len(self._tail) > 1 and f.sealed_at - self._tail[0].sealed_at > TAIL_S:  # type: ignore[operator]
            self._tail.popleft()

    def end(self, until_ms: int | None) -> int:
        """The call ended: seal what is left, without any frame shown after `until_ms` (the
        on-hook's own time), and mark the recording's end. Returns how many frames were
        dropped for being after it."""
        is_open = self._open is not None and bool(self._open.packets or self._open.voice)
        frags = list(self._tail) + ([self._open] if is_open and self._open else [])
        self._tail.clear()
        self._open = None
        self._voice = []
        if not frags:
            return 0

        def before(pts: int) -> bool:
            return until_ms is None or pts <= until_ms

        kept = [[p for p in f.packets if before(p.pts_ms)] for f in frags]
        voice = [[v for v in f.voice if before(v.pts_ms)] for f in frags]
        dropped = sum(len(f.packets) - len(k) for f, k in zip(frags, kept, strict=True))
        last = max((i for i, k in enumerate(kept) if k or voice[i]), default=None)
        if last is not None and not any(kept[: last + 1]):
            last = None  # voice alone, never a frame: nothing of the call is shown
        if last is None:  # every frame in memory is after the stamp
            first = frags[0]
            if first.seq == 1 and first.index == 0:
                if first.sealed_at is not None:
                    self._sink.retract(1, 0)
                self._seq = 0
                return dropped  # nothing of the call is left: the recording is not kept
            # what was sealed before the tail ends the call: an empty record marks its end
            self._end_at(first, [])
        elif (
            frags[last].sealed_at is not None
            and len(kept[last]) == len(frags[last].packets)
            and len(voice[last]) == len(frags[last].voice)
        ):
            # sealed and whole: it stays on the disk, what came after it goes
            f = frags[last]
            self._end_at(_Fragment(f.seq, f.index + 1, f.size, [], sealed_at=0.0), [])
        else:
            self._end_at(frags[last], kept[last], voice[last])
        return dropped

    def _end_at(
        self, target: _Fragment, packets: list[Packet], voice: list[VoicePacket] | None = None
    ) -> None:
        """Seal `packets` (and `voice`) as fragment `target`, the recording's last: anything
        sealed from there on (the rest of this segment, later segments) is taken back first."""
        if target.sealed_at is not None:
            self._sink.retract(target.seq, target.index)
        payload = pack(*target.size, packets, voice or ())
        self._sink.append(target.seq, target.index, payload, len(packets), True)
        self._seq = target.seq

    def abandon(self) -> None:
        """Nothing more will be sealed (the recording is being erased)."""
        self._tail.clear()
        self._open = None
        self._voice = []
