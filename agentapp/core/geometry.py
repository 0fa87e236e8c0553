"""Rectangles on the screen, in root (virtual screen) pixel coordinates."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def empty(self) -> bool:
        return self.w <= 0 or self.h <= 0

    def intersect(self, other: Rect) -> Rect:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1 = min(self.x + self.w, other.x + other.w)
        y1 = min(self.y + self.h, other.y + other.h)
        return Rect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def relative_to(self, origin: Rect) -> Rect:
        return Rect(self.x - origin.x, self.y - origin.y, self.w, self.h)

    def even(self) -> Rect:
        """Shrink to even width and height (4:2:0 video needs them); never grows."""
        return Rect(self.x, self.y, self.w - self.w % 2, self.h - self.h % 2)


def mask_boxes(target: Rect, occluders: tuple[Rect, ...]) -> list[Rect]:
    """The parts of `target` covered by occluders, relative to target's origin."""
    out = []
    for o in occluders:
        part = o.intersect(target)
        if not part.empty:
            out.append(part.relative_to(target))
    return out
