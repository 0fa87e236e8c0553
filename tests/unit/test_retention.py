"""Retention (R9): recordings go at their deadline, notes at one year, derogations honoured."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.core.notice import build_notice
from agentapp.core.policy import PolicyError, parse_policy
from agentapp.vault.audit import AuditLog
from agentapp.vault.notes import NotesStore
from agentapp.vault.purge import purge_expired
from agentapp.vault.store import Vault
from tests.fakes import MemoryAuditKeys
from tests.policies import policy_text

DAY = 86400.0
T0 = 1_790_000_000.0  # a fixed moment: the clock is ours
DEROGATION = """
[derogation]
reference = "CSE agreement 2026-07"
reason = "long onboarding cycles for the mortgage desk"
"""


def _recording(data: Path, days: int, at: float = T0) -> str:
    w = Vault(data / "recordings").begin("alice", at, "CRM", days, training="CRM onboarding")
    w.add_segment(b"sealed bytes", 3)
    w.finish(4.0, [], "on-hook")
    return w.meta.id


def _left(data: Path) -> list[str]:
    return [m.id for m in Vault(data / "recordings").recordings()]


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog.in_dir(tmp_path, MemoryAuditKeys())


def test_recording_purged_at_exactly_six_months(tmp_path: Path, audit: AuditLog) -> None:
    policy = parse_policy(policy_text())
    assert policy.retention_days == 183
    rid = _recording(tmp_path, policy.retention_days)
    assert purge_expired(tmp_path, T0 + 183 * DAY - 1, policy, audit) == []
    assert _left(tmp_path) == [rid]
    gone = purge_expired(tmp_path, T0 + 183 * DAY, policy, audit)
    assert [g.id for g in gone] == [rid]
    assert _left(tmp_path) == [] and not any((tmp_path / "recordings").iterdir())
    purge = [e for e in audit.entries() if e["action"] == "purge"]
    assert purge and purge[0]["target"] == f"recording {rid}" and audit.verify().ok


def test_notes_purged_at_one_year_recording_before(tmp_path: Path, audit: AuditLog) -> None:
    policy = parse_policy(policy_text())
    rid = _recording(tmp_path, policy.retention_days)
    notes = NotesStore(tmp_path / "notes")
    key = X25519PrivateKey.generate()
    note = notes.add(rid, "CRM onboarding", "carol", "good greeting; slow on the search form",
                     key.public_key(), T0 + 60, policy.notes_retention_days)  # fmt: skip
    assert notes.read(note.id, key) == "good greeting; slow on the search form"
    purge_expired(tmp_path, T0 + 200 * DAY, policy, audit)
    assert _left(tmp_path) == [] and [n.id for n in notes.notes()] == [note.id]
    assert purge_expired(tmp_path, T0 + 60 + 365 * DAY - 1, policy, audit) == []
    gone = purge_expired(tmp_path, T0 + 60 + 365 * DAY, policy, audit)
    assert [g.kind for g in gone] == ["note"] and notes.notes() == []
    assert not any((tmp_path / "notes").iterdir())


def test_seven_months_without_derogation_is_refused() -> None:
    with pytest.raises(PolicyError, match=r"retention_days = 213 .*\[derogation\]"):
        parse_policy(policy_text(retention_days=213))
    with pytest.raises(PolicyError, match=r"notes_retention_days = 400"):
        parse_policy(policy_text(notes_retention_days=400))
    with pytest.raises(PolicyError, match="reference"):
        parse_policy(policy_text(retention_days=213, extra=DEROGATION.replace(
            "long onboarding cycles for the mortgage desk", "x")))  # fmt: skip


def test_derogation_is_honoured_and_shown(tmp_path: Path, audit: AuditLog) -> None:
    policy = parse_policy(policy_text(retention_days=365, extra=DEROGATION))
    assert policy.derogation is not None and policy.retention_days == 365
    rid = _recording(tmp_path, policy.retention_days)
    assert purge_expired(tmp_path, T0 + 250 * DAY, policy, audit) == []
    assert _left(tmp_path) == [rid]
    assert [g.id for g in purge_expired(tmp_path, T0 + 365 * DAY, policy, audit)] == [rid]
    for lang in ("en", "fr"):
        text = build_notice(policy, "alice", lang).as_text()
        assert "CSE agreement 2026-07" in text and "mortgage desk" in text


def test_a_shorter_policy_applies_to_what_is_kept_a_longer_one_does_not(
    tmp_path: Path, audit: AuditLog
) -> None:
    rid = _recording(tmp_path, 183)
    shorter = parse_policy(policy_text(retention_days=30))
    assert [g.id for g in purge_expired(tmp_path, T0 + 30 * DAY, shorter, audit)] == [rid]
    rid = _recording(tmp_path, 30)
    longer = parse_policy(policy_text(retention_days=365, extra=DEROGATION))
    assert [g.id for g in purge_expired(tmp_path, T0 + 30 * DAY, longer, audit)] == [rid]


def test_damaged_metadata_does_not_escape_the_purge(tmp_path: Path, audit: AuditLog) -> None:
    rid = _recording(tmp_path, 183)
    (tmp_path / "recordings" / rid / "recording.json").write_text("{garbage")
    assert _left(tmp_path) == []  # not listed…
    assert purge_expired(tmp_path, T0 + 100 * DAY, None, audit) == []
    gone = purge_expired(tmp_path, T0 + 183 * DAY, None, audit)  # …but purged on time
    assert [g.id for g in gone] == [rid] and not (tmp_path / "recordings" / rid).exists()


def test_half_deleted_folders_are_finished_at_start(tmp_path: Path) -> None:
    rid = _recording(tmp_path, 183)
    root = tmp_path / "recordings"
    (root / rid).rename(root / f".gone-{rid}")  # a stop between rename and removal
    assert Vault(root).recover_interrupted() == []
    assert not any(root.iterdir())


def test_recordings_are_listed_in_call_order_within_one_second(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "recordings")
    ids = [vault.begin("alice", T0 + 0.1 * i, "CRM", 183).meta.id for i in range(8)]
    assert [m.id for m in vault.recordings()] == ids  # same second, random suffixes
