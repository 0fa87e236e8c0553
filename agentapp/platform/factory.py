"""Pick this session's desktop (platform/base.py Desktop: its window source, frame reader,
page watcher, session lock and hotkey); no work at import time."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from agentapp.core.clock import Clock
from agentapp.platform.base import (
    Desktop,
    LocatorError,
    NoPages,
    NullLocator,
    PageWatcher,
    SessionLock,
    WindowLocator,
)

if TYPE_CHECKING:
    from agentapp.core.policy import SoftphoneRule
    from agentapp.platform.pulse import Softphone, Speaker


def create_desktop() -> Desktop:
    """The desktop this session runs: X11 (python-xlib, MIT-SHM, mss, AT-SPI, pynput), or GNOME
    Shell under Wayland with the agent's desk extension (gnome.py: its window source, Mutter's
    ScreenCast for the pixels). Elsewhere its window source says why nothing can be recorded
    here (`create_locator`), so the agent records nothing and the tray says why."""
    from agentapp.capture.grabber import Grabber
    from agentapp.platform.hotkey import HotkeyListener

    if wayland():
        from agentapp.capture.screencast import ScreenCastReader
        from agentapp.platform.gnome import NoScreen, ShellIndicator, ShellPauseKey

        return Desktop("GNOME Wayland", create_locator, ScreenCastReader, NoScreen,
                       create_page_watcher, create_session_lock, ShellPauseKey,
                       ShellIndicator)  # fmt: skip
    from agentapp.capture.xshm import ShmReader

    name = "X11" if sys.platform.startswith("linux") and os.environ.get("DISPLAY") else "none"
    return Desktop(name, create_locator, ShmReader, Grabber, create_page_watcher,
                   create_session_lock, HotkeyListener)  # fmt: skip


def wayland() -> bool:
    """A Wayland session (its applications' windows are not X windows, even with Xwayland)."""
    return sys.platform.startswith("linux") and (
        bool(os.environ.get("WAYLAND_DISPLAY")) or os.environ.get("XDG_SESSION_TYPE") == "wayland"
    )


def wayland_problem() -> str | None:
    """Why this Wayland desktop cannot be recorded at all (None: it is GNOME, whose desk
    extension the window source then asks)."""
    desktop = os.environ.get("XDG_CURRENT_DESKTOP", "").upper().split(":")
    if "GNOME" in desktop:
        return None
    name = next((d for d in desktop if d), "this desktop")
    if "KDE" in desktop:
        how = "KDE Plasma lets only a program registered with it stream a single window"
    else:
        how = f"{name.title()} offers no way to read one window alone"
    return (
        f"Wayland session on {how}: nothing can be recorded here. IT can give this desk a "
        "GNOME session with the agentapp desk extension, or an X11 (Xorg) session"
    )


def create_locator() -> WindowLocator:
    """A working locator, or a NullLocator whose `reason` says why none can run here."""
    if sys.platform.startswith("linux"):
        if wayland():
            problem = wayland_problem()
            if problem:
                return NullLocator(problem)
            from agentapp.platform.gnome import GnomeLocator

            try:
                return GnomeLocator()  # (one connection: it asks the extension once here)
            except LocatorError as exc:
                return NullLocator(
                    f"GNOME on Wayland: {exc}. IT can enable the agentapp desk extension "
                    "(installed with the package), or give this desk an X11 (Xorg) session"
                )
        if not os.environ.get("DISPLAY"):
            return NullLocator("no display: DISPLAY is not set")
        try:
            from agentapp.platform.x11 import X11Locator

            return X11Locator()
        except LocatorError as exc:
            return NullLocator(str(exc))
    return NullLocator(f"no window locator for {sys.platform} yet")


def create_page_watcher(clock: Clock) -> PageWatcher:
    """What reads the page a browser window shows (URL and field rules), or a stand-in
    that says why none can run here (then such rules record nothing)."""
    if sys.platform.startswith("linux"):
        try:
            from agentapp.platform.atspi import AtspiPages
        except ImportError as exc:  # jeepney missing from a broken install
            return NoPages(f"web pages cannot be checked on this desk ({exc})")
        return AtspiPages(clock)
    return NoPages(f"web pages cannot be checked on {sys.platform} yet")


def create_session_lock() -> SessionLock | None:
    """What hears the desktop say the session is locked (None: nothing to hear here)."""
    if sys.platform.startswith("linux"):
        try:
            from agentapp.platform.session_lock import SessionLockWatcher
        except ImportError:
            return None
        return SessionLockWatcher()
    return None


def create_softphone_sound(rule: SoftphoneRule) -> Softphone | None:
    """Where the softphone's own sound streams are found (None: not on this desk, or the
    sound server's tools are missing; the video is then recorded without voice)."""
    if sys.platform.startswith("linux"):
        from agentapp.platform import pulse

        if pulse.available() is None:
            return pulse.Softphone(rule)
    return None


def create_speaker() -> Speaker | None:
    """The player's sound output (None: none here; the player then says so and is silent)."""
    if sys.platform.startswith("linux"):
        from agentapp.platform import pulse

        return pulse.speaker()
    return None
