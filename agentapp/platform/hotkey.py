"""The global secure-pause hotkey (pynput). Works with or without the tray.

Threading: pynput runs its own listener thread and calls `callback` there; the callback must
be thread-safe (Engine.toggle_pause is). Without a display, pynput cannot even be imported:
`start()` then returns the reason and nothing listens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from agentapp.platform.base import PauseHotkey

log = logging.getLogger(__name__)


class HotkeyListener(PauseHotkey):
    def __init__(self, combo: str, callback: Callable[[], object]) -> None:
        self.combo = combo
        self._callback = callback
        self._listener: Any = None

    def start(self) -> str | None:
        """Start listening; None when it works, else why it cannot."""
        try:
            from pynput import keyboard
        except Exception as exc:  # ImportError without a display, Xlib errors …
            first = (str(exc).strip().splitlines() or [""])[0]
            return f"global hotkey unavailable ({type(exc).__name__}: {first})"
        try:
            self._listener = keyboard.GlobalHotKeys({self.combo: self._fire})
            self._listener.start()
            self._listener.wait()
        except Exception as exc:
            return f"global hotkey {self.combo} unavailable ({exc})"
        return None

    def _fire(self) -> None:
        try:
            log.info("secure-pause hotkey: %s", self._callback())
        except Exception:
            log.exception("secure-pause hotkey failed")

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None


def human(combo: str) -> str:
    """'<ctrl>+<alt>+p' → 'Ctrl+Alt+P'."""
    return "+".join(part.strip("<>").capitalize() for part in combo.split("+"))
