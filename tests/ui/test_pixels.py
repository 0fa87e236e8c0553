"""The pixel work that replaced OpenCV, judged by OpenCV itself, a library other
than the one that made the pixels: the colour conversion the encoder takes, the blur of an
anonymised extract, the watermark's text drawn by Qt."""

from __future__ import annotations

import cv2
import numpy as np

from agentapp.capture.encoder import SegmentEncoder, compact
from agentapp.core.geometry import Rect
from agentapp.ui.watermark import qt_mark, watermark_band
from agentapp.vault.export import BAND, blur


def _screen(w: int, h: int) -> np.ndarray:
    """BGRA: flat colours, a gradient and black text on white, like a business form."""
    img = np.zeros((h, w, 4), np.uint8)
    img[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    img[: h // 2, :, 1] = 200
    img[:, : w // 3, 2] = 240
    img[h // 2 :, w // 2 :, :3] = 255
    cv2.putText(img, "4970 1011 1234", (w // 2 + 4, h - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                (0, 0, 0, 255), 2)  # fmt: skip
    return img


def test_the_conversion_matches_opencv_bt601(qapp: object) -> None:
    SegmentEncoder(2, 2, 10)  # loads the codec: `compact` converts from now on
    for w, h in ((1280, 720), (642, 358), (1366, 768)):
        img = _screen(w, h)
        ours = compact(img).astype(int)
        ref = cv2.cvtColor(img, cv2.COLOR_BGRA2YUV_I420).astype(int)
        assert ours.shape == ref.shape == (h * 3 // 2, w)
        assert np.abs(ours[:h] - ref[:h]).max() <= 1  # luma: the same limited-range BT.601
        assert np.abs(ours[h:] - ref[h:]).mean() < 1.0  # chroma: both average 2x2 pixels


def test_an_unchanged_frame_is_not_converted_again_and_a_changed_one_is(qapp: object) -> None:
    SegmentEncoder(2, 2, 10)
    img = _screen(1280, 720)
    first = compact(img)
    again = compact(img.copy())  # the same pixels, read again into other memory
    assert again is first and not first.flags.writeable
    img[700, 1279, 2] ^= 0xFF  # one pixel of the last row changes
    changed = compact(img)
    assert changed is not first
    ref = cv2.cvtColor(img, cv2.COLOR_BGRA2YUV_I420).astype(int)
    assert np.abs(changed[:720].astype(int) - ref[:720]).max() <= 1  # converted, not cached
    assert int(changed[700, 1279]) != int(first[700, 1279])
    assert compact(_screen(1280, 720)) is not changed  # and back: converted again


def test_converting_the_changed_rows_alone_gives_the_whole_frames_conversion(
    qapp: object,
) -> None:
    """Random pixels (the hardest case for the chroma filter), changed a band at a time at
    random rows, sizes whose chroma planes do not fill whole rows of the I420 array: each
    result is bit for bit what a converter that saw only that frame makes."""
    from agentapp.capture.encoder import _codecs, _ToI420

    av = _codecs()
    rng = np.random.default_rng(7)
    for w, h in ((1280, 720), (642, 358)):
        frame = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        bands = _ToI420(av)
        bands(frame)
        for _ in range(40):
            first = int(rng.integers(0, h))
            end = min(h, first + int(rng.integers(1, 30)))
            x = int(rng.integers(0, w - 8))
            frame = frame.copy()
            frame[first:end, x : x + 8] = rng.integers(0, 256, (end - first, 8, 4), dtype=np.uint8)
            if rng.integers(0, 2):  # and a second change far from it (a clock, a status bar)
                frame[h - 6 :, :40] = rng.integers(0, 256, (6, 40, 4), dtype=np.uint8)
            assert np.array_equal(bands(frame), _ToI420(av)(frame)), (w, h, first, end)


def test_the_blur_leaves_nothing_readable_and_nothing_else_changed(qapp: object) -> None:
    img = np.ascontiguousarray(_screen(640, 360)[..., :3])
    before = img.copy()
    secret = Rect(320, 300, 320, 60)
    blur(img, secret)
    inside = img[300:360, 320:640]
    grey = cv2.cvtColor(inside, cv2.COLOR_BGR2GRAY)
    sharp = cv2.cvtColor(before[300:360, 320:640], cv2.COLOR_BGR2GRAY)
    assert cv2.Laplacian(grey, cv2.CV_64F).var() < cv2.Laplacian(sharp, cv2.CV_64F).var() / 100
    outside = np.ones(img.shape[:2], bool)
    outside[300:360, 320:640] = False
    assert (img[outside] == before[outside]).all()
    # What was in a block is gone: the same blocks' means, the same result whatever the
    # pixels were (here each 16-pixel block turned upside down and back to front).
    shuffled = before.copy()
    for y in range(300, 360, 16):
        for x in range(320, 640, 16):
            block = shuffled[y : min(y + 16, 360), x : x + 16]
            block[:] = block[::-1, ::-1].copy()
    assert not (shuffled == before).all()
    blur(shuffled, secret)
    assert np.abs(shuffled.astype(int) - img.astype(int)).max() <= 1
    blur(img, Rect(600, 340, 100, 100))  # past the edges: clipped, no error
    blur(img, Rect(700, 400, 10, 10))  # wholly outside: nothing


def test_the_watermark_is_drawn_in_the_band_and_fits(qapp: object) -> None:
    text = "Amélie Martin - exported by carol 2026-12-02 16:40 UTC - training only"
    wide = watermark_band(text, 640)
    assert wide.shape == (BAND, 640, 3) and wide.dtype == np.uint8
    lit = np.nonzero((wide > 200).any(axis=(0, 2)))[0]
    assert lit.min() >= 4 and lit.max() < 640 - 4  # all of it, inside the band
    assert (wide[0, -1] == (32, 32, 32)).all()
    assert not (watermark_band(text.replace("é", "e"), 640) == wide).all()  # the accent drawn
    narrow = watermark_band(text, 200)  # smaller letters, the end cut off
    assert (narrow > 200).any() and narrow.shape == (BAND, 200, 3)
    assert qt_mark(text).band(320).shape == (BAND, 320, 3)


def test_the_watermark_needs_no_display(tmp_path: object) -> None:
    """The CLI's export draws its watermark off-screen: a display that is gone (a desk's
    stale DISPLAY) or none at all must not make Qt abort the export."""
    import os
    import subprocess
    import sys

    code = ("from agentapp.ui.watermark import watermark_band\n"
            "from PySide6.QtWidgets import QLabel\n"
            "assert (watermark_band('Amélie', 120) > 200).any()\n"
            "QLabel('a window can still be made afterwards')\n")  # fmt: skip
    for display in (":97", None):
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
        if display:
            env["DISPLAY"] = display
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
        assert r.returncode == 0, (display, r.stderr[-2000:])
