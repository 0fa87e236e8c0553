"""Append-only access trace: who, what, when, why. No video, no customer data.

The tamper-evident, hash-chained audit trail replaces this plain JSON-lines file (issue 5);
every caller already goes through `append` so the change stays in one place.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path


def append(data_dir: Path, who: str, action: str, detail: str) -> None:
    entry = {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "who": who,
        "action": action,
        "detail": detail,
    }
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(data_dir / "audit.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")
