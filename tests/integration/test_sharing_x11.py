"""A recording shared with its own trainee and watched on their desk (R7), with three people on
one machine, each with a real key store: the trainer (this test's login) and two trainees (OS
accounts of their own, their commands run as them).

The site folder is readable by the trainees, as a shared folder mounted on every desk is: the
recordings in it are ciphertext, and only the slips of a grant open one for one person's key.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tomlkit

from agentapp import cli
from agentapp.core.policy import parse_policy
from agentapp.demo.run import make_sample_site
from agentapp.demo.virtual_display import VirtualDesktop
from agentapp.vault.analyses import AnalysesStore
from agentapp.vault.purge import purge_expired
from agentapp.vault.store import Vault
from tests.fakes import site_trail_entries
from tests.integration.conftest import need, window_shot
from tests.people import OsUser, os_user
from tests.policies import ACCESS, GRID, policy_text

SELF_COMMENT = "I greeted too fast; I will slow down"
GREEN = (60, 160, 40)  # the sample recording's business window (BGR, as the screen is read)


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder the trainees may enter (pytest's own is root's alone)."""
    need(shutil.which("xdotool") is not None, "xdotool is not installed")
    folder = Path(tempfile.mkdtemp(prefix="agentapp-share-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _desk(user: OsUser, site: Path, keys: Path) -> None:
    """A trainee's desk data folder: theirs alone, the site folder in its agent.toml, the
    site's public keys (recording, policy signing) as the desk's package installs them, and
    the site's signed policy as the desk's sync copies it."""
    data = user.home / "data"
    data.mkdir(mode=0o700)
    shutil.copytree(keys, data / "keys")
    (data / "agent.toml").write_text(f'[site]\nfolder = "{site}"\n')
    shutil.copyfile(site / "policy" / "policy.toml", data / "policy.toml")
    subprocess.run(["chown", "-R", f"{user.login}:{user.login}", str(data)], check=True)
    user.env["AGENTAPP_DATA_DIR"] = str(data)


def _carol(site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
           *argv: str) -> tuple[int, str]:  # fmt: skip
    """`agentapp ARGV` as carol, at the site; then the shared folder's own permissions again
    (every desk reads it; the trainer's commands keep a folder of their own at 0700)."""
    monkeypatch.setenv("AGENTAPP_USER", "carol")
    code = cli.main([*argv, "--data-dir", str(site)])
    out = capsys.readouterr()
    subprocess.run(["chmod", "-R", "a+rX", str(site)], check=True)
    return code, out.out + out.err


def _green_in_player(user: OsUser, rid: str, desktop: VirtualDesktop) -> float:
    """Play `rid` as `user` (`mine view`), then the share of the player window's pixels that
    are the recording's business window."""
    player = user.popen("mine", "view", rid, "--reason", "my own review")
    try:
        shot = window_shot(f"agentapp — my recording {rid}", desktop.env,
                           lambda: player.poll() is None)  # fmt: skip
    finally:
        if player.poll() is None:
            player.terminate()
        player.wait(timeout=10)
    if not isinstance(shot, np.ndarray):
        return -1.0  # refused, or failed (the caller reads why)
    return float((np.abs(shot.astype(int) - GREEN).max(axis=2) < 30).mean())


def test_a_recording_shared_with_its_trainee_plays_on_their_desk_and_nowhere_else(
    base: Path, desktop: VirtualDesktop, keystore: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    display = {"DISPLAY": desktop.env["DISPLAY"], "QT_QPA_PLATFORM": "xcb"}
    with os_user("agtrainee", base, display) as alice, os_user("agother", base, display) as bob:
        policy = policy_text(alice.login, extra=ACCESS + GRID)  # carol trains alice's training
        trainer, site = base / "trainer", base / "site"
        make_sample_site(trainer, site, policy, alice.login)
        (site / "policy.toml").write_text(policy)
        shutil.copytree(trainer / "keys", site / "keys", dirs_exist_ok=True)
        (rid,) = [m.id for m in Vault(site / "recordings").recordings()]
        subprocess.run(["chmod", "-R", "a+rX", str(site)], check=True)  # a shared folder
        (site / "people").mkdir(mode=0o755)
        (site / "people").chmod(0o1777)  # as IT makes it: each writes their own key file
        for u in (alice, bob):
            _desk(u, site, trainer / "keys")

        # nothing is shared yet: the trainee's list is empty, the share needs her key
        r = alice.agentapp("mine", "list")
        assert r.returncode == 0 and "no recording is shared with you yet" in r.stdout, r.stderr
        code, out = _carol(site, monkeypatch, capsys, "share", "add", rid, "--reason",
                           "her own review")  # fmt: skip
        assert code != 0 and "has not registered a key" in out, out
        r = alice.agentapp("share", "key")
        assert r.returncode == 0 and "registered at" in r.stdout, r.stderr
        r = bob.agentapp("share", "key")
        assert r.returncode == 0, r.stderr
        bobs_kid = re.search(r"your key ([0-9a-f]{16})", r.stdout)
        assert bobs_kid is not None, r.stdout
        code, out = _carol(site, monkeypatch, capsys, "share", "add", rid, "--reason",
                           "her own review")  # fmt: skip
        assert code == 0 and f"shared with {alice.login}" in out, out

        # alice sees it and plays it on her desk: the recording's own pixels
        r = alice.agentapp("mine", "list")
        assert rid in r.stdout, r.stdout + r.stderr
        green = _green_in_player(alice, rid, desktop)
        assert green > 0.2, green

        # alice reviews her own call on the training's grid: it reaches carol, sealed
        r = alice.agentapp("mine", "form", rid)
        assert r.returncode == 0 and "Greeting" in r.stdout, r.stderr
        form = tomlkit.parse(r.stdout)
        form["mark"][0].update(level="en cours", comment=SELF_COMMENT)  # type: ignore[index, union-attr]
        filled = alice.home / "filled.toml"
        filled.write_text(tomlkit.dumps(form))
        r = alice.agentapp("mine", "review", rid, str(filled))
        assert r.returncode == 0 and "sealed for your trainers" in r.stdout, r.stderr
        reviews = list((site / "people" / alice.login).glob("*.seal"))
        assert len(reviews) == 1 and SELF_COMMENT.encode() not in reviews[0].read_bytes()
        code, out = _carol(site, monkeypatch, capsys, "analysis", "list")
        (line,) = [x for x in out.splitlines() if f"by {alice.login}" in x]
        code, out = _carol(site, monkeypatch, capsys, "analysis", "show", line.split()[0],
                           "--reason", "coaching session with her")  # fmt: skip
        assert code == 0 and SELF_COMMENT in out and "Greeting — in progress" in out, out

        # bob cannot: refused and traced, and his own key opens none of the slips
        r = bob.agentapp("mine", "view", rid, "--reason", "curious")
        assert r.returncode != 0 and "not shared with you" in r.stderr, r.stderr
        shutil.copyfile(filled, bob.home / "filled.toml")
        r = bob.agentapp("mine", "review", rid, str(bob.home / "filled.toml"))
        assert r.returncode != 0 and "not shared with you" in r.stderr, r.stderr
        assert bob.agentapp("mine", "list").stdout.strip() == "no recording is shared with you yet"
        raw = bob.run("/usr/bin/python3", "-c", RAW_ATTEMPT, str(site), rid, alice.login,
                      bobs_kid[1])  # fmt: skip
        assert raw.stdout.split() == ["refused"] * 3, raw.stdout + raw.stderr

        # withdrawn: gone from her list, and nothing opens it any more
        code, out = _carol(site, monkeypatch, capsys, "share", "withdraw", rid, "--reason",
                           "review done")  # fmt: skip
        assert code == 0, out
        assert rid not in alice.agentapp("mine", "list").stdout
        r = alice.agentapp("mine", "view", rid)
        assert r.returncode != 0 and "not shared with you" in r.stderr, r.stderr

        # shared again, then the recording's deadline: the purge takes the share with it
        assert _carol(site, monkeypatch, capsys, "share", "add", rid, "--reason",
                      "her own review")[0] == 0  # fmt: skip
        assert rid in alice.agentapp("mine", "list").stdout
        meta = Vault(site / "recordings").get(rid)
        done = purge_expired(site, meta.purge_after + 1, parse_policy(policy), None)
        assert sorted(p.kind for p in done) == ["recording", "share"]
        assert not (site / "grants" / rid).exists()
        assert rid not in alice.agentapp("mine", "list").stdout
        (review,) = AnalysesStore(site / "people" / alice.login).analyses()  # kept to its year
        done = purge_expired(site, review.purge_after + 1, parse_policy(policy), None)
        assert [(p.kind, p.id) for p in done] == [("analysis", review.id)]

        acts = [(e["who"], e["action"], e["target"]) for e in site_trail_entries(site)]
        assert ("carol", "share", rid) in acts and ("carol", "withdraw share", rid) in acts
        mine = [(e["action"], e["target"]) for e in _desk_trail(alice)]
        assert ("view shared", rid) in mine and ("refused view", rid) in mine
        assert ("refused view", rid) in [(e["action"], e["target"]) for e in _desk_trail(bob)]


def test_a_key_or_a_self_review_planted_under_a_trainees_name_is_refused(
    base: Path, keystore: None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    with os_user("agvictim", base) as alice, os_user("agplanter", base) as bob:
        policy = policy_text(alice.login, extra=ACCESS + GRID)
        trainer, site = base / "trainer", base / "site"
        make_sample_site(trainer, site, policy, alice.login)
        (site / "policy.toml").write_text(policy)
        shutil.copytree(trainer / "keys", site / "keys", dirs_exist_ok=True)
        (rid,) = [m.id for m in Vault(site / "recordings").recordings()]
        subprocess.run(["chmod", "-R", "a+rX", str(site)], check=True)
        (site / "people").mkdir(mode=0o755)
        (site / "people").chmod(0o1777)
        _desk(bob, site, trainer / "keys")
        # bob registers his own key under alice's name (anyone may make a folder there), and a
        # self-review that says it is hers
        planted = bob.run("/usr/bin/python3", "-c", PLANT, str(site), alice.login, rid)
        assert planted.returncode == 0, planted.stderr
        assert len(list((site / "people" / alice.login).glob("*.seal"))) == 1
        code, out = _carol(site, monkeypatch, capsys, "analysis", "list")
        assert code == 0 and "no analysis visible" in out, out  # not hers: not read
        code, out = _carol(site, monkeypatch, capsys, "share", "add", rid, "--reason",
                           "her own review")  # fmt: skip
        assert code != 0 and "not theirs alone" in out, out
        assert not (site / "grants").exists() or not any((site / "grants").rglob("*.json"))


def _desk_trail(user: OsUser) -> list[dict[str, object]]:
    trail = user.home / "data" / "audit.jsonl"
    return [json.loads(line) for line in trail.read_text().splitlines() if line.strip()]


# Run as bob: his own key (from his key store) against alice's grant and the segment itself.
RAW_ATTEMPT = """
import json, sys
from pathlib import Path
from agentapp.vault.keys import load_private_from_keystore
from agentapp.vault.sealing import SealError, SlipKeys, open_segment
site, rid, alice, kid = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
mine = load_private_from_keystore(kid)
seg = sorted((site / "recordings" / rid).glob("seg-*.seal"))[0].read_bytes()
grant = json.loads((site / "grants" / rid / f"{alice}.json").read_text())
slips = list(grant["slips"].values())
for opener in (mine, SlipKeys(mine, slips), SlipKeys(mine, [dict(s, kid=kid) for s in slips])):
    try:
        open_segment(seg, opener)
        print("OPENED")
    except SealError:
        print("refused")
"""

PLANT = """
import sys, time
from pathlib import Path
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from agentapp.core.analysis import Analysis, Mark
from agentapp.core.grid import Criterion, Grid
from agentapp.vault.analyses import AnalysesStore
from agentapp.vault.keys import load_public_key
from agentapp.vault.people import register_key
site, alice, rid = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
register_key(site, alice, X25519PrivateKey.generate().public_key())
grid = Grid("CRM onboarding", (Criterion("Greeting", ""),))
said = Analysis(rid, grid, (Mark("Greeting", "to_work_on", "planted"),), "self-review")
key = load_public_key(site / "keys" / "recording-public-key.pem")
AnalysesStore(site / "people" / alice).add(said, alice, key, time.time(), 365)
"""
