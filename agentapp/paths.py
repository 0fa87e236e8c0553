"""Where agentapp keeps its state. Light on purpose: the hook command imports only this."""

from __future__ import annotations

import os
import sys
from pathlib import Path


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
