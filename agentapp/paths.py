"""Where agentapp keeps its state. Light on purpose: the hook command imports only this."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    env = os.environ.get("AGENTAPP_DATA_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("agentapp", appauthor=False))
