"""Site: signed policies (tampered, unsigned, other key, rollback), sync, delivery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agentapp.core.policy import PolicyError
from agentapp.site.shipper import RecordingShipper
from agentapp.site.signing import parse_signed, sign
from agentapp.site.sync import PolicySync, site_policy_path
from agentapp.vault.store import Vault
from tests.policies import policy_text

KEY = Ed25519PrivateKey.generate()


def _signed(version: int = 1, agent: str = "alice", key: Ed25519PrivateKey = KEY) -> bytes:
    text = policy_text(agent).replace("version = 1", f"version = {version}")
    return sign(text.encode(), key)


def test_signed_policy_verifies_and_stays_toml() -> None:
    policy = parse_signed(_signed(3), KEY.public_key(), "site")
    assert policy.version == 3 and policy.enrolment_for("alice") is not None
    assert sign(_signed(3), KEY) == _signed(3)  # re-signing replaces, never stacks


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (lambda b: b.replace(b'agent = "alice"', b'agent = "mallory"'), "does not match"),
        (lambda b: b[: b.rfind(b"# signature")], "not signed"),
        (lambda b: _signed(1, key=Ed25519PrivateKey.generate()), "not with this site's"),
        (lambda b: b[:-10] + b"AAAAAAAAA\n", "does not match"),
    ],
)
def test_tampered_unsigned_or_foreign_policy_is_refused(mangle, why: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PolicyError, match=why):
        parse_signed(mangle(_signed()), KEY.public_key(), "site")


class _Sync:
    def __init__(self, tmp: Path) -> None:
        self.site = tmp / "site"
        self.local = tmp / "agent" / "policy.toml"
        self.problems: list[str | None] = []
        self.sync = PolicySync(self.site, self.local, KEY.public_key(), self.problems.append)

    def publish(self, data: bytes) -> None:
        path = site_policy_path(self.site)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)


def test_sync_installs_newer_refuses_rollback_and_tampering(tmp_path: Path) -> None:
    s = _Sync(tmp_path)
    assert "unreachable" in (s.sync.check() or "")
    s.publish(_signed(1))
    assert s.sync.check() is None and s.sync.in_force() == 1
    s.publish(_signed(2, agent="bob"))
    assert s.sync.check() is None and s.sync.in_force() == 2
    s.publish(_signed(1))  # an older signed policy put back: rollback
    assert "older than version 2" in (s.sync.check() or "")
    s.publish(_signed(3, agent="bob").replace(b'"bob"', b'"eve"'))  # edited after signing
    assert "does not match" in (s.sync.check() or "")
    s.publish(policy_text("alice").replace("version = 1", "version = 9").encode())  # unsigned
    assert "not signed" in (s.sync.check() or "") and s.sync.in_force() == 2
    assert parse_signed(s.local.read_bytes(), KEY.public_key(), "x").enrolment_for("bob")
    s.publish(_signed(4))
    assert s.sync.check() is None and s.sync.in_force() == 4
    assert s.problems[-1] is None  # the tray is told it is fine again


def test_same_version_with_other_text_is_refused(tmp_path: Path) -> None:
    s = _Sync(tmp_path)
    s.publish(_signed(2))
    s.sync.check()
    s.publish(_signed(2, agent="bob"))
    assert "changed but not its version" in (s.sync.check() or "")


def _finished(vault: Vault, n: int) -> list[str]:
    ids = []
    for i in range(n):
        w = vault.begin("alice", 1_790_000_000.0 + i, "CRM", 183, training="CRM onboarding")
        w.add_segment(b"sealed-%d" % i, 3)
        w.finish(3.0, [], "on-hook")
        ids.append(w.meta.id)
    return ids


def test_shipper_delivers_once_and_keeps_a_stub(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "agent" / "recordings")
    site = tmp_path / "site"
    ids = _finished(vault, 2)
    (vault.root / ids[1] / "voice-attached.seal").write_bytes(b"sealed voice")
    shipper = RecordingShipper(vault, site)
    assert shipper.ship_all() == 0 and "unreachable" in (shipper.problem or "")
    assert vault.segment_paths(ids[0])  # still here, sealed
    (site / "recordings").mkdir(parents=True)
    assert shipper.ship_all() == 2 and shipper.problem is None
    for rid in ids:
        assert (site / "recordings" / rid / "seg-000001.seal").read_bytes().startswith(b"sealed")
        assert vault.segment_paths(rid) == []
        assert vault.get(rid).status == "shipped"  # counted for the quota, purged on time
    assert shipper.ship_all() == 0
    assert sorted(p.name for p in (site / "recordings").iterdir()) == sorted(ids)
    # an attached voice goes with its recording, and no sealed file stays on the desk
    assert (site / "recordings" / ids[1] / "voice-attached.seal").read_bytes() == b"sealed voice"
    assert not (vault.root / ids[1] / "voice-attached.seal").exists()


def test_shipper_after_a_stop_between_rename_and_cleanup(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "agent" / "recordings")
    (site := tmp_path / "site" / "recordings").mkdir(parents=True)
    (rid,) = _finished(vault, 1)
    # the site already holds the complete copy; the local one was not cleaned up yet
    import shutil

    shutil.copytree(vault.root / rid, site / rid)
    (site / f".incoming-{rid}x").mkdir()  # debris of another attempt, ignored
    assert RecordingShipper(vault, site.parent).ship_all() == 1
    assert json.loads((site / rid / "recording.json").read_text())["status"] == "complete"
    assert vault.get(rid).status == "shipped"


def test_an_older_signed_policy_is_refused_on_the_desk_and_fetched_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The floor (the highest version adopted) lives outside the data folder: a properly
    signed but older policy copied onto the desk is refused, and the site's copy comes back."""
    from agentapp.agent.settings import Settings, signed_policy_loader
    from agentapp.core.config import AgentConfig
    from agentapp.site.floor import MemoryFloor
    from agentapp.site.signing import PUBLIC_FILE, write_public

    data = tmp_path / "data"
    write_public(KEY.public_key(), data / "keys" / PUBLIC_FILE)
    s = Settings(data, "alice", data / "policy.toml", AgentConfig(), "alice", "alice")
    floor = MemoryFloor()
    load = signed_policy_loader(s, floor)
    v1, v2 = _signed(1), _signed(2)
    (data / "policy.toml").write_bytes(v2)
    assert load().version == 2 and floor.version == 2
    (data / "policy.toml").write_bytes(v1)
    with pytest.raises(PolicyError, match="version 1 is older than version 2 already adopted"):
        load()
    site = tmp_path / "site"
    site_policy_path(site).parent.mkdir(parents=True)
    site_policy_path(site).write_bytes(v2)
    problems: list[str | None] = []
    sync = PolicySync(site, data / "policy.toml", KEY.public_key(), problems.append, floor=floor)
    assert sync.check() is None and load().version == 2  # repaired from the site
    site_policy_path(site).write_bytes(v1)  # and the site cannot roll it back either
    assert "older than version 2 already adopted" in (sync.check() or "")
