"""Which version of the information notice this agent acknowledged, and when (R2).

One small JSON file per data folder, written atomically. Thread-safe enough for its use: the
engine writes it under its own lock.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from agentapp.vault.store import write_atomic


class AcknowledgementStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def acknowledged(self, agent: str, digest: str) -> bool:
        entry = self._read().get(agent)
        return isinstance(entry, dict) and entry.get("digest") == digest

    def record(self, agent: str, digest: str, language: str, at: float) -> None:
        data = self._read()
        data[agent] = {
            "digest": digest,
            "language": language,
            "at": dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.path, json.dumps(data, indent=1).encode())
