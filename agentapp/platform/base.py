"""The window locator interface every OS adapter implements.

Threading: a locator instance holds a connection to the window system and is used by ONE
thread only (the capture thread creates its own through the factory). Calls block for at
most a few round trips to the display server; none waits for user input.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from agentapp.core.geometry import Rect
from agentapp.core.policy import WindowRule


class LocatorError(RuntimeError):
    """The window system cannot be used at all (display gone, unsupported session)."""


@dataclass(frozen=True, slots=True)
class WindowInfo:
    handle: int
    wm_class: tuple[str, ...]
    executable: str | None
    title: str | None
    pid: int | None


@dataclass(frozen=True, slots=True)
class WindowView:
    """Where the business window is this instant and what covers it.

    `visible` False means no frame may be written; `why_not` says why. `rect` is the client
    area clipped to the screen; `occluders` are every other window (frames, title bars,
    pop-ups) stacked above it, in root coordinates.
    """

    visible: bool
    why_not: str = ""
    rect: Rect = Rect(0, 0, 0, 0)  # noqa: RUF009 - frozen, shared safely
    occluders: tuple[Rect, ...] = ()


class WindowLocator(abc.ABC):
    @abc.abstractmethod
    def find(self, rules: tuple[WindowRule, ...]) -> tuple[WindowInfo, WindowRule] | None:
        """The topmost managed window matching a whitelist rule, with that rule."""

    @abc.abstractmethod
    def view(self, window: WindowInfo) -> WindowView:
        """Current geometry, visibility and occluders of a window found by `find`."""

    @abc.abstractmethod
    def windows(self) -> list[WindowInfo]:
        """Every managed top-level window (for `policy check` and the window picker)."""

    def pick(self, timeout: float = 30.0) -> WindowInfo | None:
        """Wait for the person to click on a window; that window (None: cancelled, timed out
        or not a managed window). Blocks the calling thread. Default: not supported."""
        raise LocatorError("picking a window by clicking is not supported here")

    def find_visible(self, rules: tuple[WindowRule, ...]) -> tuple[WindowInfo, WindowRule] | None:
        """A window matching a rule that is visible now (sensitive windows). Must be cheap:
        the capture thread asks before every frame."""
        for info in self.windows():
            for rule in rules:
                if rule.matches(info.wm_class, info.executable, info.title) and self.is_visible(
                    info
                ):
                    return info, rule
        return None

    @abc.abstractmethod
    def is_visible(self, window: WindowInfo) -> bool:
        """Mapped, not minimised, on the current desktop (occlusion not considered)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the window-system connection."""


class NullLocator(WindowLocator):
    """Stands in where no window can be located; says why, records nothing."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def find(self, rules: tuple[WindowRule, ...]) -> tuple[WindowInfo, WindowRule] | None:
        return None

    def view(self, window: WindowInfo) -> WindowView:
        return WindowView(False, self.reason)

    def windows(self) -> list[WindowInfo]:
        return []

    def is_visible(self, window: WindowInfo) -> bool:
        return False
