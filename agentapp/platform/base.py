"""What a desktop provides the agent, as interfaces every desktop adapter implements:

* a window source (`WindowLocator`): which window is the business one, its identity, its
  changes (damage), the view of it that may be read, and the locks the window system shows;
* a frame reader (`FrameReader`): the window's own pixels, never another window's; and, where
  the desktop allows it, the masked fallback (`ScreenGrabber`: its rectangle on the screen,
  everything above it blacked out);
* a page watcher (`PageWatcher`): the page a browser window shows, for URL and field rules;
* a session lock (`SessionLock`): the desktop's own word that the session is locked;
* a pause hotkey (`PauseHotkey`): the trainee's secure pause, from any application;
* an indicator (`Indicator`): drawn by the desktop's shell, where the shell draws it (else the
  agent's own badge, ui/indicator.py, shows that a call is recorded).

`Desktop` bundles one desktop's makers; platform/factory.py picks the one for this session
(docs/design.md, "Adding a desktop").

Threading: a locator instance holds a connection to the window system and is used by ONE
thread only (the capture thread creates its own through the factory). Calls block for at
most a few round trips to the display server; none waits for user input.
"""

from __future__ import annotations

import abc
import contextlib
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from agentapp.core.errors import Refusal
from agentapp.core.geometry import Rect
from agentapp.core.policy import Page, WindowRule
from agentapp.i18n import _

if TYPE_CHECKING:
    import numpy as np

    from agentapp.core.clock import Clock


class LocatorError(Refusal):
    """The window system cannot be used at all (display gone, unsupported session)."""


@dataclass(frozen=True, slots=True)
class WindowInfo:
    handle: int
    wm_class: tuple[str, ...]
    executable: str | None
    title: str | None
    pid: int | None


class CaptureMode(enum.Enum):
    """How the business window's pixels are read.

    COMPOSITE: the window's own off-screen pixmap (XComposite); no other window's pixel is
    ever read. MASKED (fallback): its rectangle on the screen, everything above it blacked out.
    """

    COMPOSITE = "composite"
    MASKED = "masked"


@dataclass(frozen=True, slots=True)
class Layer:
    """A pop-up of the business application itself, read from its own pixmap and drawn at
    its place (`rect`, relative to the business window's client area)."""

    drawable: int
    rect: Rect


@dataclass(frozen=True, slots=True)
class WindowView:
    """Where the business window is this instant and what may be read of it.

    `visible` False means no frame may be written; `why_not` says why.
    `rect` is the client area in root coordinates (masked mode: clipped to the screen).
    Masked mode: `occluders` are every other window (frames, title bars, pop-ups) stacked
    above it, in root coordinates. Composite mode: `pixmap` is the window's own pixmap, of
    `rect`'s size; `ready` is False until the window drew into a newly named pixmap (first
    reads can be black); `blackout` are parts (relative to the client area) that show
    another X client's child windows; `layers` are the application's own pop-ups.
    `origin` is the client area's top-left corner in root coordinates (before clipping).
    `inset`: where the window's own pixels start in what the frame reader gives for `pixmap`
    (a shadow the desktop draws around it comes first; (0, 0) on X11).
    `serial` counts the structural changes the locator saw (not compared).
    """

    visible: bool
    why_not: str = ""
    rect: Rect = Rect(0, 0, 0, 0)  # noqa: RUF009 - frozen, shared safely
    occluders: tuple[Rect, ...] = ()
    origin: tuple[int, int] = (0, 0)
    pixmap: int = 0
    ready: bool = True
    blackout: tuple[Rect, ...] = ()
    layers: tuple[Layer, ...] = ()
    inset: tuple[int, int] = (0, 0)
    serial: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Changes:
    """What happened to a tracked window's content since the last `take_changes`.

    `damaged`: it drew something (None: this locator cannot tell; grab every tick).
    `stale`: masked mode only, parts of the client area (relative) that another window left
    and that the application has not repainted since: the screen may still hold that
    window's pixels there, so they stay masked.
    """

    damaged: bool | None
    stale: tuple[Rect, ...] = ()


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
        raise LocatorError(_("picking a window by clicking is not supported here"))

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

    @property
    def mode(self) -> CaptureMode:
        """How `view` lets the capture read pixels (default: the masked fallback)."""
        return CaptureMode.MASKED

    @property
    def mode_reason(self) -> str:
        """Why the mode is MASKED where per-window capture was expected ("" otherwise)."""
        return "per-window capture is not available on this platform"

    def describe(self, window: WindowInfo) -> WindowInfo | None:
        """The window's identity now (title, class, executable), or None once it is gone."""
        for info in self.windows():
            if info.handle == window.handle:
                return info
        return None

    def track(self, window: WindowInfo, popups: bool) -> None:  # noqa: B027 - optional hook
        """Start following the window for capture (per-window capture, damage, exposures);
        `popups`: its application's own pop-ups may be shown. Default: nothing to do."""

    def identity_serial(self, window: WindowInfo) -> int:
        """Counts every change the window system reported to the window's identity (title,
        class, pid) since `track`, matching or not: a value that changed and changed back
        between two looks still moves it. Default: 0 (never reported)."""
        return 0

    def locked(self, window: WindowInfo) -> str | None:
        """Why the screen looks locked (or the window covered by another program's full-screen
        window), in words for the trainee; None when it does not. Cheap: asked every tick.
        Default: cannot tell (None)."""
        return None

    def take_changes(self, window: WindowInfo) -> Changes:
        """Damage and stale regions since the last call (default: unknown, grab always)."""
        return Changes(None)

    def one_look(self, fresh: bool = True) -> contextlib.AbstractContextManager[None]:
        """Inside `with locator.one_look():` every answer comes from one look at the window
        system, taken at the first question: the capture thread asks about a dozen questions
        before a read and again after it, and each look is a round trip. Outside, each
        question takes a fresh look. `fresh` False: no new look, what is known answers
        (right after `quiet`). Default: nothing is shared."""
        return contextlib.nullcontext()

    def quiet(self) -> bool:
        """Nothing happened since the last look: no event the window system already sent
        changed an answer or damaged a tracked window, and no answer is due for a refresh.
        Costs no round trip (an event still on its way is seen at a later tick, well inside
        the look-behind). Inside it, `one_look(fresh=False)` answers from what is known.
        Default: False (always take a fresh look)."""
        return False

    def fileno(self) -> int | None:
        """A descriptor that turns readable when the window system has news (an event), so
        that a quiet capture loop can sleep until then; None: it cannot be waited on."""
        return None

    def use_masked(self, reason: str) -> None:  # noqa: B027 - optional hook
        """Per-window pixels cannot be read after all: give masked views from now on."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the window-system connection."""


@dataclass(frozen=True, slots=True)
class PageState:
    """The latest look at the followed window's page.

    `page` None: not known (`why` says why, in words for the trainee). `serial` moves at
    every change seen. `checked_at` is when the look that gave it started (the caller's
    clock): what was on screen before that moment is vouched for by it.
    """

    page: Page | None
    why: str = ""
    serial: int = 0
    checked_at: float = float("-inf")


class PageWatcher(abc.ABC):
    """Follows the page a browser window shows (its URL, its input fields).

    Threading: looks happen on the watcher's own thread (a browser may answer slowly); `follow`
    and `state` may be called from any thread and never wait on the browser.
    """

    @abc.abstractmethod
    def follow(self, window: WindowInfo | None, fields: bool) -> None:
        """Look at this window's page from now on (its title may have changed: it is how the
        window is found in the tree); `fields`: also list the input fields shown."""

    @abc.abstractmethod
    def state(self) -> PageState:
        """The latest look (never blocks)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Stop looking and release the connection."""


class NoPages(PageWatcher):
    """Where no page can be read: every look says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def follow(self, window: WindowInfo | None, fields: bool) -> None:
        pass

    def state(self) -> PageState:
        return PageState(None, self.reason)


class SessionLock(abc.ABC):
    """The desktop session's own word that it is locked (beyond what the window system shows).

    Threading: `locked` may be called from any thread and never blocks."""

    @abc.abstractmethod
    def locked(self) -> str | None:
        """Why the session is locked, in words for the trainee; None when it is not."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Stop listening."""


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


class FrameReader(Protocol):
    """Reads one drawable (a window's own pixels) as BGRA; None when refused. `copy` False:
    the pixels may be a read-only view, valid until the next read. Made and used on the
    capture thread; raises ReaderUnavailable when it cannot work on this display."""

    def read(
        self, drawable: int, width: int, height: int, copy: bool = True
    ) -> np.ndarray | None: ...

    def close(self) -> None: ...


class ScreenGrabber(Protocol):
    """The masked fallback: reads a rectangle of the screen as BGRA (the capture blacks out
    what lies above the business window). Made and used on the capture thread."""

    def grab(self, rect: Rect) -> np.ndarray: ...

    def close(self) -> None: ...


class ReaderUnavailable(RuntimeError):
    """The reader cannot work on this display (the capture falls back to masked capture)."""


class PauseHotkey(abc.ABC):
    """The secure-pause key combination, heard whatever application has the focus.

    Threading: `start` and `stop` from the thread that wires the agent; the callback it was
    given runs on the hotkey's own thread and must be thread-safe (Engine.toggle_pause is)."""

    @abc.abstractmethod
    def start(self) -> str | None:
        """Start listening; None when it works, else why it cannot (said in the tray)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop listening."""


class Indicator(abc.ABC):
    """What the desktop's shell shows while a call is recorded, where no window can cover it.

    Threading: any thread; never blocks."""

    @abc.abstractmethod
    def show(self, text: str) -> None:
        """Show (or update) the indicator's words."""

    @abc.abstractmethod
    def hide(self) -> None:
        """Nothing is recorded now."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """The agent stops: hide it and let its connection go."""


@dataclass(frozen=True, slots=True)
class Desktop:
    """One desktop's makers: each capture thread makes its own window source, reader and
    lock watcher (their connections are not shared between threads)."""

    name: str
    windows: Callable[[], WindowLocator]
    frames: Callable[[], FrameReader] | None  # None: the masked fallback only
    screen: Callable[[], ScreenGrabber]
    pages: Callable[[Clock], PageWatcher]
    session_lock: Callable[[], SessionLock | None]
    hotkey: Callable[[str, Callable[[], object]], PauseHotkey]  # (combo, on_press)
    indicator: Callable[[], Indicator] | None = None  # None: the agent's badge shows it
