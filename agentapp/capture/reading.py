"""Reading the business window's pixels, one of two ways chosen by the locator:

* composite (per-window capture): the window's own pixmap is read (capture/xshm.py); no other
  window's pixel is read, so what lies above it never reaches this process. Child windows of
  another X client inside it are blacked out; the application's own pop-ups are drawn from
  their own pixmaps only where its rule allows (`popups = true`).
* masked (fallback, said in the status, the metadata and the trail): its rectangle on the
  screen is grabbed and everything above it is blacked out, and so is every region another
  window just left until the application has repainted it.

Threading: the capture thread only; it makes the reader or grabber and closes it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agentapp.capture.encoder import apply_mask
from agentapp.core.geometry import Rect, mask_boxes
from agentapp.platform.base import (
    CaptureMode,
    Changes,
    FrameReader,
    ReaderUnavailable,
    ScreenGrabber,
    WindowLocator,
    WindowView,
)


class PixelReader:
    def __init__(
        self,
        locator: WindowLocator,
        grabber_factory: Callable[[], ScreenGrabber],
        reader_factory: Callable[[], FrameReader] | None,
    ) -> None:
        """The reader for the locator's mode; masked capture if per-window cannot run (the
        locator is told, and `reason` says why)."""
        self._reader: FrameReader | None = None
        self._grabber: ScreenGrabber | None = None
        if locator.mode is CaptureMode.COMPOSITE and reader_factory is not None:
            try:
                self._reader = reader_factory()
            except ReaderUnavailable as exc:
                locator.use_masked(str(exc))
        elif locator.mode is CaptureMode.COMPOSITE:
            locator.use_masked("no per-window reader")
        if self._reader is None:
            self._grabber = grabber_factory()
        self.mode = CaptureMode.COMPOSITE if self._reader is not None else CaptureMode.MASKED
        self.reason = "" if self._reader is not None else locator.mode_reason

    @property
    def per_window(self) -> bool:
        return self._reader is not None

    def read(self, view: WindowView, changes: Changes) -> np.ndarray | None:
        """The frame as it may be recorded: per-window pixels, or the masked rectangle."""
        if self._reader is not None:
            return self._own_pixels(self._reader, view)
        assert self._grabber is not None
        pixels = self._grabber.grab(view.rect)
        if not pixels.flags.writeable:
            pixels = pixels.copy()
        ox, oy = view.origin
        stale = tuple(Rect(ox + r.x, oy + r.y, r.w, r.h) for r in changes.stale)
        apply_mask(pixels, mask_boxes(view.rect, view.occluders + stale))
        return pixels

    @staticmethod
    def _own_pixels(reader: FrameReader, view: WindowView) -> np.ndarray | None:
        w, h = view.rect.w, view.rect.h
        # nothing to draw on it (most frames): the shared memory itself, converted once
        alone = not view.layers and not view.blackout
        ix, iy = view.inset
        if ix or iy:  # (the shadow around it is read by the reader, never kept)
            around = reader.read(view.pixmap, w + ix, h + iy, copy=False)
            pixels = None if around is None else np.ascontiguousarray(around[iy:, ix:])
        else:
            pixels = reader.read(view.pixmap, w, h, copy=not alone)
        if pixels is None or alone:
            return pixels
        frame = Rect(0, 0, w, h)
        for layer in view.layers:
            part = layer.rect.intersect(frame)
            if part.empty:
                continue
            lp = reader.read(layer.drawable, layer.rect.w, layer.rect.h)
            if lp is None:
                return None
            dx, dy = part.x - layer.rect.x, part.y - layer.rect.y
            pixels[part.y : part.y + part.h, part.x : part.x + part.w] = lp[
                dy : dy + part.h, dx : dx + part.w
            ]
        apply_mask(pixels, mask_boxes(frame, view.blackout))
        return pixels

    def all_stale(self, view: WindowView, changes: Changes) -> bool:
        """Masked: nothing of the window is the application's own yet (just mapped)."""
        whole = Rect(0, 0, view.rect.w, view.rect.h)
        return self._reader is None and any(r.intersect(whole) == whole for r in changes.stale)

    def close(self) -> None:
        for closer in (self._reader, self._grabber):
            if closer is not None:
                closer.close()
