"""The audit trail: every kind of tampering is found, and where (R8)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from agentapp.vault.audit import AuditLog
from tests.fakes import MemoryAuditKeys


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    log = AuditLog.in_dir(tmp_path, MemoryAuditKeys())
    for i in range(1, 6):
        log.append("carol", "export", f"rec-{i}", f"reason {i}", role="trainer")
    return log


def _rewrite(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("".join(line + "\n" for line in lines))


def test_intact_log_verifies(log: AuditLog) -> None:
    v = log.verify()
    assert v.ok and v.entries == 5, v.describe()
    assert [e["seq"] for e in log.entries()] == [1, 2, 3, 4, 5]
    assert log.entries()[0]["who"] == "carol" and log.entries()[0]["login"]


def test_edited_entry_is_found(log: AuditLog) -> None:
    lines = log.lines()
    e = json.loads(lines[2])
    e["reason"] = "something else"
    lines[2] = json.dumps(e)
    _rewrite(log, lines)
    v = log.verify()
    assert not v.ok and v.first_bad == 3 and "altered" in v.problem


def test_deleted_entry_is_found(log: AuditLog) -> None:
    lines = log.lines()
    del lines[1]
    _rewrite(log, lines)
    v = log.verify()
    assert not v.ok and v.first_bad == 2 and "missing" in v.problem


def test_reordered_entries_are_found(log: AuditLog) -> None:
    lines = log.lines()
    lines[1], lines[3] = lines[3], lines[1]
    _rewrite(log, lines)
    v = log.verify()
    assert not v.ok and v.first_bad == 2


def test_truncated_log_is_found(log: AuditLog) -> None:
    _rewrite(log, log.lines()[:3])
    v = log.verify()
    assert not v.ok and v.first_bad == 4 and "4–5 are missing" in v.problem


def test_emptied_or_deleted_log_is_found(log: AuditLog) -> None:
    log.path.unlink()
    v = log.verify()
    assert not v.ok and v.first_bad == 1


def test_garbage_line_is_found(log: AuditLog) -> None:
    lines = log.lines()
    lines.insert(2, "not json")
    _rewrite(log, lines)
    assert log.verify().first_bad == 3


def test_entry_forged_without_the_key_is_found(log: AuditLog, tmp_path: Path) -> None:
    """Someone rebuilding the chain with their own key cannot match the stored key."""
    forger = AuditLog(tmp_path / "forged.jsonl", MemoryAuditKeys())
    forger.keys._key = b"x" * 32  # type: ignore[attr-defined]
    for i in range(1, 6):
        forger.append("carol", "export", f"rec-{i}", "innocent", role="trainer")
    log.path.write_text(forger.path.read_text())
    v = log.verify()
    assert not v.ok and v.first_bad == 1


def test_append_after_damage_keeps_tracing_and_damage_stays_visible(log: AuditLog) -> None:
    lines = log.lines()
    _rewrite(log, [*lines[:-1], lines[-1][:20]])  # last line cut in half
    log.append("alice", "recording started", "rec-9")
    v = log.verify()
    assert not v.ok and v.first_bad == 5
    assert json.loads(log.lines()[-1])["seq"] == 6  # chained after the stored head


def test_head_lagging_after_a_crash_is_accepted(tmp_path: Path) -> None:
    keys = MemoryAuditKeys()
    log = AuditLog.in_dir(tmp_path, keys)
    log.append("a", "x")
    head = keys.stored
    log.append("a", "y")
    keys.stored = head  # stopped between the write and the head update
    assert log.verify().ok
    log.append("a", "z")
    assert log.verify().ok and log.verify().entries == 3


def test_concurrent_appends_never_fork_the_chain(tmp_path: Path) -> None:
    log = AuditLog.in_dir(tmp_path, MemoryAuditKeys())
    other = AuditLog(log.path, log.keys)  # a second writer on the same file (another process)

    def write(w: AuditLog, n: int) -> None:
        for i in range(40):
            w.append(f"w{n}", "list", str(i))

    threads = [threading.Thread(target=write, args=(w, n)) for n, w in enumerate([log, other])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    v = log.verify()
    assert v.ok and v.entries == 80, v.describe()


def test_long_reasons_are_cut_and_flattened(tmp_path: Path) -> None:
    log = AuditLog.in_dir(tmp_path, MemoryAuditKeys())
    e = log.append("a", "export", "r", "line one\nline two " + "x" * 2000)
    assert "\n" not in e["reason"] and len(e["reason"]) == 500
    assert log.path.stat().st_mode & 0o077 == 0


def test_a_reviewers_trail_at_a_site_is_named_by_person_and_key(tmp_path: Path) -> None:
    from agentapp.vault.audit import ReviewerTrail, key_id, trail_for, trails

    site = tmp_path / "site"
    (site / "policy").mkdir(parents=True)
    (site / "policy" / "policy.toml").write_text("version = 1\n")  # what makes it a site
    carol, erin = MemoryAuditKeys(), MemoryAuditKeys()
    erin._key = b"e" * 32
    a, b = ReviewerTrail(site, "carol", carol), ReviewerTrail(site, "erin/../x", erin)
    a.append("carol", "list", "1 recording(s)", role="trainer")
    b.append("erin", "list", "1 recording(s)", role="trainer")
    assert a.path == site / "audit" / f"carol-{key_id(b'k' * 32)}.jsonl"
    assert b.path.parent == site / "audit" and b.path.name.startswith("erin_.._x-")
    assert isinstance(trail_for(site, "carol"), ReviewerTrail)
    assert not isinstance(trail_for(tmp_path, "carol"), ReviewerTrail)  # a desk: its one trail
    found = {t.name: t.log.verify() for t in trails(a)}
    assert found[a.path.stem].signed and found[a.path.stem].ok  # the reader's own, in full
    assert not found[b.path.stem].signed and found[b.path.stem].ok  # another's: its chain


def test_a_chain_only_check_finds_a_removed_entry_not_an_edit(log: AuditLog) -> None:
    """What a reader without the trail's key can check (another reviewer's trail)."""
    from agentapp.core.auditchain import verify

    lines = log.lines()
    assert not verify(lines[:1] + lines[2:], None, None).ok
    e = json.loads(lines[2])
    e["reason"] = "something else"  # its hash changes: the next entry no longer follows it
    v = verify([*lines[:2], json.dumps(e), *lines[3:]], None, None)
    assert not v.ok and v.first_bad == 4 and not v.signed
    assert verify([*lines[:2], json.dumps(e)], None, None).ok  # the last one: needs the key


def test_only_well_formed_hub_checkpoints_are_read(log: AuditLog) -> None:
    from agentapp.core.auditchain import CHECKPOINT, checkpoints

    good = "ab" * 32
    log.append("agentapp", CHECKPOINT, "12", good, role="system")
    bad = [("-1", good), ("1e3", good), ("9" * 19, good), ("7", "AB" * 32), ("7", good[:-1]),
           ("7", good + "0"), ("", good), ("١٢", good)]  # fmt: skip
    for target, digest in bad:
        log.append("agentapp", CHECKPOINT, target, digest, role="system")
    log.append("bob", "recording not kept", "13", good)
    assert [(m.seq, m.hash) for m in checkpoints(log.entries())] == [(12, good)]


def test_appends_ask_the_key_store_for_the_head_only_when_the_file_cannot_say(
    tmp_path: Path,
) -> None:
    """Each question to a Secret Service costs a key exchange: an object that wrote the
    file's last entry chains after it without asking; a damaged last line, or another
    writer's later entry, is still handled as before."""

    class Counting(MemoryAuditKeys):
        asked = 0

        def head(self):  # type: ignore[no-untyped-def]
            Counting.asked += 1
            return super().head()

    keys = Counting()
    log = AuditLog.in_dir(tmp_path, keys)
    for i in range(10):
        log.append("alice", "recording started", f"rec-{i}")
    assert Counting.asked == 1  # the first append of this object only
    other = AuditLog(log.path, keys)  # another process appends: its entry is later
    other.append("bob", "notice acknowledged")
    log.append("alice", "recording stopped")
    assert log.verify().ok and log.verify().entries == 12
    lines = log.lines()
    _rewrite(log, [*lines[:-1], lines[-1][:20]])  # the last line cut: the stored head
    asked = Counting.asked
    log.append("alice", "recording started", "rec-x")
    assert Counting.asked == asked + 1
    assert json.loads(log.lines()[-1])["seq"] == 13  # chained after the stored head
