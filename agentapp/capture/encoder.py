"""Encode frames to H.264 in memory (PyAV/libx264). Plaintext video never touches the disk.

One SegmentEncoder makes one segment's packets (core/videopack.py), sealed by the pipeline a
fragment at a time. Timestamps are milliseconds since the recording started (off-hook), so
gaps (window minimised, secure pause) stay gaps in time and segments line up when exported.

The codecs (PyAV and OpenCV, ~50 MB resident) are imported at the first call, not when the
agent starts: an enrolled agent waits between calls far longer than it records.

Threading: used by the capture thread only; `preload` may run on any thread.
"""

from __future__ import annotations

from fractions import Fraction
from types import ModuleType
from typing import Any

import numpy as np

from agentapp.core.geometry import Rect
from agentapp.core.videopack import Packet

_MS = Fraction(1, 1000)
# Screen content is mostly static: x264 skips unchanged macroblocks almost for free.
# Measured on a typing 1280x720 window (bench/): ultrafast on one thread costs ~6 ms/frame
# (veryfast with threads: ~9.6 ms) for ~8 MB/h at PSNR ~61 dB; zerolatency: no frame delay.
X264_OPTIONS = {"preset": "ultrafast", "tune": "zerolatency", "crf": "30", "threads": "1"}


def _codecs() -> tuple[Any, ModuleType]:
    """(av, cv2), imported on first use (Python's import lock makes a concurrent
    `preload` and a first encoder wait for each other, never import twice)."""
    import av
    import cv2

    return av, cv2


def preload() -> None:
    """Import the codecs now (the pipeline does it on a thread of its own at off-hook, while
    the first frame waits out its look-behind). A missing codec is reported by the encoder."""
    try:
        _codecs()
    except ImportError:
        pass


def apply_mask(bgra: np.ndarray, boxes: list[Rect]) -> None:
    """Black out `boxes` (relative to the frame) in place, alpha included."""
    for b in boxes:
        bgra[b.y : b.y + b.h, b.x : b.x + b.w] = 0


class SegmentEncoder:
    """One segment's H.264 stream: frames in, packets out (one per frame, at once: x264's
    `zerolatency` makes no B-frames and keeps no frame back, so any prefix decodes and a
    segment can be sealed piece by piece, and cut at a late on-hook)."""

    def __init__(self, width: int, height: int, fps: int) -> None:
        if width % 2 or height % 2 or width <= 0 or height <= 0:
            raise ValueError("frame size must be positive and even")
        self.width, self.height = width, height
        self.frames = 0
        self.first_ms: int | None = None
        self.last_ms = -1
        av, self._cv2 = _codecs()
        self._av = av
        cc = av.CodecContext.create("libx264", "w")
        cc.width, cc.height, cc.pix_fmt = width, height, "yuv420p"
        cc.time_base, cc.framerate = _MS, Fraction(fps)
        cc.options = dict(X264_OPTIONS, g=str(fps * 10))
        self._cc = cc
        self._packets: list[Packet] = []  # made since the last `take`

    def add(self, bgra: np.ndarray, t_ms: int) -> None:
        """Encode one frame shown at `t_ms` (ms since off-hook); must be (height, width, 4)."""
        if t_ms <= self.last_ms:
            t_ms = self.last_ms + 1  # PTS must increase strictly
        cv2 = self._cv2
        yuv = cv2.cvtColor(bgra[: self.height, : self.width], cv2.COLOR_BGRA2YUV_I420)
        frame = self._av.VideoFrame.from_ndarray(np.asarray(yuv, dtype=np.uint8), format="yuv420p")
        frame.pts, frame.time_base = t_ms, _MS
        self._keep(self._cc.encode(frame))
        self.frames += 1
        self.last_ms = t_ms
        if self.first_ms is None:
            self.first_ms = t_ms

    def _keep(self, packets: list[Any]) -> None:
        for p in packets:
            self._packets.append(Packet(int(p.pts), bool(p.is_keyframe), bytes(p)))

    def take(self) -> list[Packet]:
        """The packets made since the last call (in memory only)."""
        taken, self._packets = self._packets, []
        return taken

    def flush(self) -> list[Packet]:
        """The segment ends: whatever the encoder still holds, then nothing more."""
        self._keep(self._cc.encode(None))
        return self.take()
