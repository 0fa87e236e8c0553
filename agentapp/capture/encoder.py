"""Encode frames to H.264 in memory (PyAV/libx264). Plaintext video never touches the disk.

One SegmentEncoder makes one MP4 segment in a BytesIO. Timestamps are milliseconds since the
recording started (off-hook), so gaps (window minimised, secure pause) stay gaps in time and
segments line up when exported.

The codecs (PyAV and OpenCV, ~50 MB resident) are imported at the first call, not when the
agent starts: an enrolled agent waits between calls far longer than it records.

Threading: used by the capture thread only; `preload` may run on any thread.
"""

from __future__ import annotations

import io
from fractions import Fraction
from types import ModuleType
from typing import Any

import numpy as np

from agentapp.core.geometry import Rect

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
    def __init__(self, width: int, height: int, fps: int) -> None:
        if width % 2 or height % 2 or width <= 0 or height <= 0:
            raise ValueError("frame size must be positive and even")
        self.width, self.height = width, height
        self.frames = 0
        self.first_ms: int | None = None
        self.last_ms = -1
        av, self._cv2 = _codecs()
        self._av = av
        self._buf = io.BytesIO()
        self._out = av.open(self._buf, mode="w", format="mp4")
        s = self._out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.time_base = _MS
        s.codec_context.time_base = _MS
        s.options = dict(X264_OPTIONS, g=str(fps * 10))
        self._stream = s
        self._packets: list[Any] = []  # muxed at `finish`, so that a late on-hook can trim

    def add(self, bgra: np.ndarray, t_ms: int) -> None:
        """Encode one frame shown at `t_ms` (ms since off-hook); must be (height, width, 4)."""
        if t_ms <= self.last_ms:
            t_ms = self.last_ms + 1  # PTS must increase strictly
        cv2 = self._cv2
        yuv = cv2.cvtColor(bgra[: self.height, : self.width], cv2.COLOR_BGRA2YUV_I420)
        frame = self._av.VideoFrame.from_ndarray(np.asarray(yuv, dtype=np.uint8), format="yuv420p")
        frame.pts, frame.time_base = t_ms, _MS
        self._packets.extend(self._stream.encode(frame))
        self.frames += 1
        self.last_ms = t_ms
        if self.first_ms is None:
            self.first_ms = t_ms

    def finish(self, until_ms: int | None = None) -> bytes:
        """Flush and return the complete MP4 segment (in memory only). With `until_ms`, the
        frames shown after it are left out (an on-hook that arrived late: x264 here makes no
        B-frames, so any prefix of the stream decodes); `frames` then counts what is kept, and
        nothing kept gives b""."""
        self._packets.extend(self._stream.encode())
        kept = [p for p in self._packets if until_ms is None or p.pts is None or p.pts <= until_ms]
        self._packets = []
        if until_ms is not None:
            self.frames = len(kept)
            self.last_ms = max((p.pts for p in kept if p.pts is not None), default=-1)
        if not kept:
            self.abandon()
            return b""
        for packet in kept:
            self._out.mux(packet)
        self._out.close()
        data = self._buf.getvalue()
        self._buf = io.BytesIO()
        return data

    def abandon(self) -> None:
        self._packets = []
        try:
            self._out.close()
        except Exception:  # nothing to keep: the segment is being thrown away
            pass
        self._buf = io.BytesIO()
