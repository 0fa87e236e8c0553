"""At a site, each reviewer's trail is a file of its own (R8): two trainers reviewing the same
site's recordings never break each other's chain, and `audit verify` there checks every trail
and says whose is broken. Real key store; the command line run in-process on the site folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentapp import cli
from agentapp.demo.run import make_sample_site
from agentapp.vault.keys import keystore_problem
from agentapp.vault.store import Vault
from tests.integration.conftest import need
from tests.policies import ACCESS, policy_text

POLICY = policy_text("alice", extra=ACCESS + """
[[trainer]]
name = "erin"
trainings = ["CRM onboarding"]
minutes_per_week = 300
""")  # fmt: skip


def _as(monkeypatch: pytest.MonkeyPatch, who: str, *argv: str) -> int:
    monkeypatch.setenv("AGENTAPP_USER", who)
    return cli.main(list(argv))


def test_two_trainers_at_one_site_keep_two_intact_trails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    need(keystore_problem() is None, "no real key store (run under scripts/test.sh)")
    trainer, site = tmp_path / "trainer", tmp_path / "site"
    make_sample_site(trainer, site, POLICY, "alice")
    (site / "policy.toml").write_text(POLICY)  # the site folder read as a data folder
    (rid,) = [m.id for m in Vault(site / "recordings").recordings()]
    d = ("--data-dir", str(site))
    for who in ("carol", "erin", "carol", "erin", "carol"):  # interleaved, as on a real day
        assert _as(monkeypatch, who, "recordings", "list", "--reason", "weekly review", *d) == 0
    assert _as(monkeypatch, "erin", "recordings", "delete", rid, "--reason", "asked by alice",
               *d) == 0  # fmt: skip
    capsys.readouterr()

    assert _as(monkeypatch, "carol", "audit", "verify", *d) != 0  # carol is no admin: refused
    assert _as(monkeypatch, "dan", "audit", "verify", *d) == 0
    lines = capsys.readouterr().out.splitlines()
    trails = sorted(p.stem for p in (site / "audit").glob("*.jsonl"))
    assert [ln.split(":")[0] for ln in lines] == [t for t in trails if not t.startswith("dan-")]
    assert all("chain intact" in ln for ln in lines), lines
    carol = next(t for t in trails if t.startswith("carol-"))
    erin = next(t for t in trails if t.startswith("erin-"))
    assert len((site / "audit" / f"{carol}.jsonl").read_text().splitlines()) == 4  # 3 + refusal
    assert len((site / "audit" / f"{erin}.jsonl").read_text().splitlines()) == 3

    assert _as(monkeypatch, "dan", "audit", "show", *d) == 0  # every trail, in time order
    shown = capsys.readouterr().out.splitlines()
    who = [ln.split("]")[0][1:].split("-")[0] for ln in shown]
    assert who[:6] == ["carol", "erin", "carol", "erin", "carol", "erin"], shown

    path = site / "audit" / f"{erin}.jsonl"  # someone removes erin's second entry
    kept = path.read_text().splitlines()
    path.write_text("\n".join(kept[:1] + kept[2:]) + "\n")
    assert _as(monkeypatch, "dan", "audit", "verify", *d) == 1
    out = capsys.readouterr().out
    assert f"{erin}: audit trail BROKEN at entry 2" in out, out
    assert f"{carol}: audit trail chain intact" in out, out


def test_exports_are_listed_and_removed_with_their_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """R9 reaches outside the vault: an exported file shares its recording's deadline. The
    purge removes it where this machine reaches it, and says which it cannot remove."""
    import dataclasses
    import time

    from agentapp.vault.audit import ReviewerTrail
    from agentapp.vault.exports import ExportsIndex
    from agentapp.vault.purge import purge_expired

    need(keystore_problem() is None, "no real key store (run under scripts/test.sh)")
    trainer, site = tmp_path / "trainer", tmp_path / "site"
    make_sample_site(trainer, site, POLICY, "alice")
    (site / "policy.toml").write_text(POLICY)
    (meta,) = Vault(site / "recordings").recordings()
    out = tmp_path / "out"
    out.mkdir()
    d = ("--data-dir", str(site))
    for name in ("a.mp4", "b.mp4"):
        assert _as(monkeypatch, "carol", "recordings", "export", meta.id, "--out",
                   str(out / name), "--reason", "session review", *d) == 0  # fmt: skip
    index = ExportsIndex(site / "exports.jsonl")
    listed = index.records()
    assert [r.path for r in listed] == [str(out / "a.mp4"), str(out / "b.mp4")]
    assert {r.purge_after for r in listed} == {meta.purge_after} and listed[0].who == "carol"
    (out / "b.mp4").unlink()  # removed by hand: forgotten without a word
    index.add(dataclasses.replace(listed[0], path="/srv/elsewhere.mp4", host="another-pc"))

    trail = ReviewerTrail(site, "carol")
    assert purge_expired(site, time.time(), None, trail) == []  # not yet: nothing is touched
    assert (out / "a.mp4").exists()
    gone = purge_expired(site, meta.purge_after + 1, None, trail)
    assert {(g.kind, g.id, g.problem) for g in gone} == {
        ("recording", meta.id, ""),
        ("export", str(out / "a.mp4"), ""),
        ("export", "/srv/elsewhere.mp4", "it is on another-pc: remove it there"),
    }
    assert not (out / "a.mp4").exists()
    assert [r.path for r in index.records()] == ["/srv/elsewhere.mp4"]  # said again next time
    acts = [(e["action"], e["target"]) for e in trail.entries()]
    assert ("purge", f"export {out / 'a.mp4'}") in acts
    assert ("purge failed", "export /srv/elsewhere.mp4") in acts
