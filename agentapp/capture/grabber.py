"""Grab one rectangle of the screen with mss. Nothing outside that rectangle is read.

Threading: mss keeps per-thread X resources; create a Grabber on the thread that uses it.
"""

from __future__ import annotations

import numpy as np

from agentapp.core.geometry import Rect


class Grabber:
    def __init__(self) -> None:
        import mss  # lazy: needs a display

        self._sct = mss.MSS()

    def grab(self, rect: Rect) -> np.ndarray:
        """BGRA pixels of `rect` (already clipped to the screen), shape (h, w, 4)."""
        shot = self._sct.grab({"left": rect.x, "top": rect.y, "width": rect.w, "height": rect.h})
        return np.frombuffer(shot.raw, dtype=np.uint8).reshape(shot.height, shot.width, 4)

    def close(self) -> None:
        self._sct.close()
