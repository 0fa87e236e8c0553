"""The files exported out of the vault, listed so that they share the recording's deadline
(R9): an export is readable video outside the vault, so the purge that deletes a recording
also removes its exports where it can reach them, and says which it cannot.

`<folder>/exports.jsonl` (the folder the review was done on: a desk's or the site's): one
JSON object per export, appended under a file lock before the file is written, so an export
that crashes half-way is still listed (the purge drops an entry whose file is gone). No
customer data: a path, a recording id, times, who, the machine.

Threading: any thread; appends and rewrites are serialised by the lock (across processes).
"""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

from agentapp.vault.filelock import locked
from agentapp.vault.store import append_durably, write_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExportRecord:
    path: str  # absolute, on `host`
    recording: str
    started_at: float  # the recording's, for a later, shorter retention policy
    purge_after: float  # the recording's deadline as stamped at its creation
    who: str
    host: str
    at: float


def this_host() -> str:
    return socket.gethostname()


class ExportsIndex:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _lock(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def add(self, record: ExportRecord) -> None:
        """OSError when it cannot be listed (the caller then exports nothing)."""
        with locked(self._lock()):
            append_durably(self.path, _line(record))

    def records(self) -> list[ExportRecord]:
        """The exports listed; a damaged line is skipped (and said in the log)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        out = []
        for n, line in enumerate(text.splitlines(), start=1):
            try:
                out.append(ExportRecord(**json.loads(line)))
            except (ValueError, TypeError):
                log.error("%s line %d is not an export record: skipped", self.path, n)
        return out

    def keep_only(self, gone: list[ExportRecord]) -> None:
        """Forget `gone` (removed, or found missing); entries added meanwhile stay."""
        if not gone:
            return
        with locked(self._lock()):
            left = [r for r in self.records() if r not in gone]
            write_atomic(self.path, b"".join(_line(r) for r in left))


def _line(record: ExportRecord) -> bytes:
    return (json.dumps(asdict(record), sort_keys=True) + "\n").encode()
