"""A recording opened for viewing, with random access: its decrypted segments stay in memory
as packets (never as pictures), frame times are indexed from the packets, and a seek decodes
from the start of the segment that holds the moment (a key frame; a segment is at most
`segment_seconds`, so a seek decodes at most that much).

What a player draws on its timeline comes from here too: the paused spans (from the
metadata), the gaps (the window hidden: no frame for longer than GAP_S) and the notes' moments.

Threading: one thread (the player's, Qt's). The frames are lazy: one decoded at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from agentapp.core.geometry import Rect
from agentapp.vault.export import BAND, Mark, Segment, marked_frames, open_segments, video_size
from agentapp.vault.sealing import Opener
from agentapp.vault.store import Vault

VOICE_RATE = 16000  # the player's sound: the rate the desk records at
GAP_S = 1.5  # no frame for longer than this (the frames of a static window are at least 1 s
# apart: the heartbeat read): the window was not shown


@dataclass
class Playback:
    segments: list[Segment]
    mark: Mark
    duration: float  # seconds, off-hook to on-hook
    paused: list[tuple[float, float]] = field(default_factory=list)
    notes: list[tuple[float, str]] = field(default_factory=list)  # (moment, first line)
    blurs: tuple[Rect, ...] = ()
    voice: np.ndarray | None = None  # the call's voice, (2, n) int16 at VOICE_RATE: agent, caller

    def __post_init__(self) -> None:
        self._starts = [_first_time(s) for s in self.segments]
        self.times = [t for s in self.segments for t in _times(s)]
        w, h = video_size(self.segments)
        self.size = (w, h + BAND)  # what a player shows, watermark band included

    @property
    def gaps(self) -> list[tuple[float, float]]:
        """Spans with no frame (the window hidden, minimised, another page shown), paused
        spans aside."""
        out = []
        edges = [0.0, *self.times, self.duration]
        for a, b in itertools.pairwise(edges):
            if b - a > GAP_S and not any(p0 <= a + 0.1 and b - 0.1 <= p1 for p0, p1 in self.paused):
                out.append((a, b))
        return out

    def frames_from(self, t: float) -> Iterator[tuple[float, np.ndarray]]:
        """The frame shown at `t` (the last one at or before it, or the first), then every one
        after it, in order."""
        first = 0
        for i, start in enumerate(self._starts):
            if start is not None and start <= t:
                first = i
        held: tuple[float, np.ndarray] | None = None
        size = (self.size[0], self.size[1] - BAND)
        for when, canvas in marked_frames(self.segments[first:], self.mark, self.blurs, size):
            if when < t:
                held = (when, canvas)
                continue
            if held is not None and when > t:
                yield held
            held = None
            yield when, canvas
        if held is not None:
            yield held


def _times(segment: Segment) -> list[float]:
    return sorted(p.pts_ms / 1000 for p in segment.packets)


def _first_time(segment: Segment) -> float | None:
    return min((p.pts_ms / 1000 for p in segment.packets), default=None)


def open_playback(vault: Vault, rid: str, private: Opener, mark: Mark,
                  notes: list[tuple[float, str]] | None = None) -> Playback:  # fmt: skip
    """A recording decrypted in memory for the player, with its voice (desk and attached)
    decoded at VOICE_RATE. Raises VaultError (SealError, OSError from the files)."""
    from agentapp.vault.attach import recording_voice
    from agentapp.vault.voice import decode

    meta = vault.get(rid)
    segments = open_segments(vault, rid, private)
    sound = recording_voice(vault, rid, private, segments)
    voice = decode(sound, round(meta.duration_s * 1000), rate=VOICE_RATE) if sound else None
    return Playback(segments, mark, meta.duration_s, list(meta.paused_spans), notes or [],
                    voice=voice)  # fmt: skip
