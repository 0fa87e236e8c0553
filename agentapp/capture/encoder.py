"""Encode frames to H.264 in memory (PyAV/libx264). Plaintext video never touches the disk.

One SegmentEncoder makes one segment's packets (core/videopack.py), sealed by the pipeline a
fragment at a time. Timestamps are milliseconds since the recording started (off-hook), so
gaps (window minimised, secure pause) stay gaps in time and segments line up when exported.

The codec (PyAV, ~40 MB resident) is imported at the first call, not when the agent starts:
an enrolled agent waits between calls far longer than it records. Colour conversion is
FFmpeg's swscale through PyAV (docs/design.md, "One library for pixels", says why not OpenCV).

Threading: used by the capture thread only; `preload` may run on any thread. `compact` keeps
its conversion frames per thread.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from typing import Any

import numpy as np

from agentapp.core.geometry import Rect
from agentapp.core.videopack import Packet

_MS = Fraction(1, 1000)
# Screen content is mostly static: x264 skips unchanged macroblocks almost for free, and
# only frames that changed are encoded (a held tick is a repeat, core/videopack.py).
# Measured on bench/scenario.py's 1280x720 window (a minute, 84 changed frames, CRF 30):
# ultrafast 33 MB/h, SSIM 0.9965, ~1.9 ms/frame; superfast 22 MB/h, SSIM 0.9982, ~2.4 ms;
# superfast without sub-pixel motion search (screen content moves by whole pixels) the same
# size and quality at ~2.0 ms. Without the deblocking filter, which smooths block edges for
# camera pictures and blurs text: the same size, PSNR +0.2 dB, the same time at best and 9 %
# less in the median (130 frames of the scenario, twelve runs each). zerolatency: no frame
# delay, one packet per frame.
X264_OPTIONS = {
    "preset": "superfast",
    "tune": "zerolatency",
    "crf": "30",
    "threads": "1",
    "x264-params": "subme=0:no-deblock=1",
}


_av: Any = None  # the PyAV module, once imported


def _codecs() -> Any:
    """PyAV, imported on first use (Python's import lock makes a concurrent `preload` and a
    first encoder wait for each other, never import twice)."""
    global _av
    import av

    _av = av
    return av


class _ToI420:
    """BGRA to I420 by swscale, through a source frame kept while the size holds: the pixels
    are copied straight into its plane (PyAV's `from_ndarray` walks them row by row, 1.4 ms
    for 1280x720 against 0.3 ms). Bilinear chroma: each chroma sample is the mean of its
    pixels, as coloured text needs (point sampling saves 0.35 ms and makes it fringe).

    Only the rows that changed since the last frame are converted (typing, a blinking
    caret, a field's focus, a clock: a few runs of rows), and laid over the last frame's I420:
    the whole frame costs 2.5 ms at 1280x720, finding the changed rows 0.3 ms. swscale's
    chroma filter reaches a little beyond a 2x2 block: the chroma rows it reaches are taken
    too, converted with BAND_CONTEXT rows of the frame around them, so that the result is the
    whole frame's conversion, bit for bit (tests/ui/test_pixels.py). The arrays given are
    never written to."""

    CHROMA_REACH = 2  # chroma rows a changed pixel row reaches on each side (1, measured)
    BAND_CONTEXT = 8  # pixel rows converted beyond those, for the filter (even)
    MAX_BANDS = 8  # more separate changes than this: the whole frame

    def __init__(self, av: Any) -> None:
        from av.video.reformatter import VideoReformatter

        self._av = av
        self._convert = VideoReformatter()
        self._src: Any = None
        self._into: np.ndarray | None = None  # the last frame's pixels (in `_src`)
        self._last: np.ndarray | None = None  # what they gave

    def __call__(self, bgra: np.ndarray) -> np.ndarray:
        h, w = bgra.shape[:2]
        if w % 2 or h % 2:
            raise ValueError("frame size must be even")
        if self._src is None or (self._src.width, self._src.height) != (w, h):
            self._src = self._av.VideoFrame(w, h, "bgra")
            self._into = plane_array(self._src.planes[0], h, w * 4).reshape(h, w, 4)
            self._last = None
        assert self._into is not None
        if self._last is not None:
            runs = changed_runs(bgra, self._into)
            if not runs:
                return self._last  # the same pixels: the same frame
            if len(runs) <= self.MAX_BANDS and sum(e - f for f, e in runs) * 2 <= h:
                out = self._last.copy()
                for first, end in runs:
                    self._band(bgra, first, end, out)
                out.flags.writeable = False
                self._last = out
                return out
        self._into[:] = bgra
        yuv = self._convert.reformat(
            self._src, format="yuv420p", interpolation="BILINEAR", threads=1
        )
        self._last = np.asarray(yuv.to_ndarray())
        self._last.flags.writeable = False
        return self._last

    def _band(self, bgra: np.ndarray, first: int, end: int, out: np.ndarray) -> None:
        """Rows `first`..`end` (exclusive) of `bgra` converted into `out` (the last frame's
        I420): their luma, and the chroma rows whose filter reaches them."""
        assert self._into is not None
        h, w = bgra.shape[:2]
        c0 = max(0, first // 2 - self.CHROMA_REACH)
        c1 = min(h // 2, (end + 1) // 2 + self.CHROMA_REACH)
        b0, b1 = max(0, 2 * c0 - self.BAND_CONTEXT), min(h, 2 * c1 + self.BAND_CONTEXT)
        band = self._av.VideoFrame(w, b1 - b0, "bgra")
        plane_array(band.planes[0], b1 - b0, w * 4)[:] = bgra[b0:b1].reshape(b1 - b0, w * 4)
        yuv = self._convert.reformat(band, format="yuv420p", interpolation="BILINEAR",
                                     threads=1)  # fmt: skip
        flat = out.reshape(-1)
        out[first:end] = plane_array(yuv.planes[0], b1 - b0, w)[first - b0 : end - b0]
        for i, at in ((1, h * w), (2, h * w + (h // 2) * (w // 2))):
            chroma = flat[at : at + (h // 2) * (w // 2)].reshape(h // 2, w // 2)
            part = plane_array(yuv.planes[i], (b1 - b0) // 2, w // 2)
            chroma[c0:c1] = part[c0 - b0 // 2 : c1 - b0 // 2]
        self._into[first:end] = bgra[first:end]


def changed_runs(a: np.ndarray, b: np.ndarray, gap: int = 32) -> list[tuple[int, int]]:
    """The runs of rows (first, past-the-last) where two frames of one size differ, runs
    closer than `gap` rows merged; [] when they are equal."""
    ra, rb = _rows(a, b)
    differ = np.flatnonzero((ra != rb).any(axis=1))
    if differ.size == 0:
        return []
    cut = np.flatnonzero(np.diff(differ) > gap)
    firsts = [int(differ[0]), *(int(differ[i + 1]) for i in cut)]
    ends = [*(int(differ[i]) + 1 for i in cut), int(differ[-1]) + 1]
    return list(zip(firsts, ends, strict=True))


def _rows(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two frames of one shape as rows of 64-bit words where their memory allows (an eighth
    of the comparisons), else as rows of bytes."""
    h = max(a.shape[0], 1)
    if a.flags.c_contiguous and b.flags.c_contiguous and (a.nbytes // h) % 8 == 0:
        return a.reshape(h, -1).view(np.uint64), b.reshape(h, -1).view(np.uint64)
    return a.reshape(h, -1), b.reshape(h, -1)


_converters = threading.local()


def same_pixels(a: np.ndarray, b: np.ndarray | None) -> bool:
    """Two frames equal, pixel for pixel (~0.2 ms for 1280x720, compared as 64-bit words)."""
    if b is None or a.shape != b.shape:
        return False
    return bool(np.array_equal(*_rows(a, b)))


def plane_array(plane: Any, rows: int, row_bytes: int) -> np.ndarray:
    """A writable view of a PyAV frame plane's `rows` rows of `row_bytes` (past its padding)."""
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:rows, :row_bytes]


def compact(bgra: np.ndarray) -> np.ndarray:
    """The frame as the encoder takes it (I420: 1.5 bytes a pixel instead of 4), if the
    codec is loaded already; else the frame itself (the first frames of the agent's first
    call, read while it loads). Frames wait out the look-behind in this form. Never the
    reader's own memory when `bgra` is read-only (a view of memory it reuses)."""
    if _av is None:
        return bgra if bgra.flags.writeable else bgra.copy()
    convert = getattr(_converters, "convert", None)
    if convert is None:
        convert = _converters.convert = _ToI420(_av)
    return convert(bgra)


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
        av = _codecs()  # (and `compact` converts from now on)
        self._av = av
        cc = av.CodecContext.create("libx264", "w")
        cc.width, cc.height, cc.pix_fmt = width, height, "yuv420p"
        cc.time_base, cc.framerate = _MS, Fraction(fps)
        cc.options = dict(X264_OPTIONS, g=str(fps * 10))
        self._cc = cc
        self._packets: list[Packet] = []  # made since the last `take`

    def add(self, pixels: np.ndarray, t_ms: int) -> None:
        """Encode one frame shown at `t_ms` (ms since off-hook): BGRA (height, width, 4), or
        I420 as `compact` makes it (height * 3 / 2, width)."""
        if t_ms <= self.last_ms:
            t_ms = self.last_ms + 1  # PTS must increase strictly
        yuv = pixels if pixels.ndim == 2 else compact(pixels[: self.height, : self.width])
        if yuv.shape != (self.height * 3 // 2, self.width):
            raise ValueError("frame of another size")
        frame = self._i420_frame(yuv)
        frame.pts, frame.time_base = t_ms, _MS
        self._keep(self._cc.encode(frame))
        self.frames += 1
        self.last_ms = t_ms
        if self.first_ms is None:
            self.first_ms = t_ms

    def repeat(self, t_ms: int) -> None:
        """The last frame again, shown at `t_ms`: a repeat packet, nothing encoded."""
        if self.first_ms is None:
            raise ValueError("nothing to repeat yet")
        if t_ms <= self.last_ms:
            t_ms = self.last_ms + 1
        self._packets.append(Packet.repeat_at(t_ms))
        self.frames += 1
        self.last_ms = t_ms

    def _i420_frame(self, yuv: np.ndarray) -> Any:
        """A yuv420p frame holding `yuv` (its planes copied in whole, not row by row)."""
        w, h = self.width, self.height
        frame = self._av.VideoFrame(w, h, "yuv420p")
        y, u, v = frame.planes
        plane_array(y, h, w)[:] = yuv[:h]
        quarter = yuv[h:].reshape(2, h // 2, w // 2)  # I420: all of U, then all of V
        plane_array(u, h // 2, w // 2)[:] = quarter[0]
        plane_array(v, h // 2, w // 2)[:] = quarter[1]
        return frame

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
