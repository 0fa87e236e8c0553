"""R13: a recording keeps the fields it needs and nothing more. The list is fixed here, so a
new field is a decision someone writes down (and the register and docs/rules.md follow)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from agentapp.vault.store import Vault

FIELDS = {
    "id", "agent", "started_at", "started_at_iso", "application", "purge_after", "purpose",
    "training", "status", "duration_s", "frames", "unchanged_frames", "dropped_frames",
    "late_ticks", "capture_mode", "capture_note", "segments", "size_bytes", "sha256",
    "paused_spans", "end_reason", "voice",
}  # fmt: skip


def test_a_recording_keeps_exactly_these_fields(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "recordings")
    w = vault.begin("alice", time.time(), "CRM", 183, training="CRM onboarding")
    meta = w.finish(12.5, [(3.0, 4.5)], "on-hook")
    on_disk = json.loads((tmp_path / "recordings" / meta.id / "recording.json").read_text())
    assert set(on_disk) == FIELDS
    assert set(meta.to_json()) == FIELDS
    # nothing about the call or the caller: no number, no call id, no customer
    text = json.dumps(on_disk).lower()
    for word in ("caller", "call_id", "number", "customer", "phone"):
        assert word not in text, word
