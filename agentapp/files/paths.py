"""Where agentapp keeps its state. Light on purpose: the hook command imports only this."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from agentapp.core.errors import Refusal
from agentapp.i18n import _


def default_data_dir() -> Path:
    env = os.environ.get("AGENTAPP_DATA_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("agentapp", appauthor=False))


def system_dir() -> Path:
    """The machine-wide settings IT installs: agent.toml and the site's public keys.

    `/etc/agentapp` on Linux, `%PROGRAMDATA%\\agentapp` on Windows; `$AGENTAPP_SYSTEM_DIR`
    overrides both (tests, and packagers with another layout)."""
    env = os.environ.get("AGENTAPP_SYSTEM_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "agentapp"
    return Path("/etc/agentapp")


def local_or_system(local: Path) -> Path:
    """A per-user file when it exists, else the machine-wide one of the same name."""
    return local if local.exists() else system_dir() / local.name


class ConflictingCopy(Refusal):
    """A per-user file differs from the one IT installed machine-wide."""


def system_first(local: Path) -> Path:
    """The machine-wide file IT installed when there is one, else the per-user file. A
    per-user copy that differs from the machine-wide one is refused (ConflictingCopy):
    whoever can write the user's data folder must not pick the keys (R12)."""
    system = system_dir() / local.name
    if not system.exists():
        return local
    try:
        differs = local.exists() and local.read_bytes() != system.read_bytes()
    except OSError:
        differs = True
    if differs:
        raise ConflictingCopy(
            _(
                "{local} differs from the {name} IT installed in {parent}: the "
                "machine-wide one is the one obeyed, and the other copy is "
                "refused — remove it"
            ).format(local=local, name=local.name, parent=system.parent)
        )
    return system
