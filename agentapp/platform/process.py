"""What a window's process runs, from /proc: the pid is the one identity a window cannot
choose for another program (the window system gives it), on X11 and under GNOME alike."""

from __future__ import annotations

import os
import sys


def executable(pid: int | None) -> str | None:
    """The file name of the program process `pid` runs (None: no such process here)."""
    if not pid:
        return None
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        try:
            with open(f"/proc/{pid}/comm") as f:
                return f.read().strip() or None
        except OSError:
            return None


def own_command(*args: str) -> list[str]:
    """This program run again with `args`: the bundle's own executable (the .deb ships a
    frozen one), or this interpreter with the package."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "agentapp", *args]
