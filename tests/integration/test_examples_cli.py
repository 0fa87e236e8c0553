"""Teaching examples through the real command line and key store (R7): a trainer makes an
anonymised extract of alice's call — blurred where asked, no voice, no name, sealed — and
offers it to another trainee of the training, who plays it in « Mes enregistrements »: its
pixels blurred, its description readable with their share only. Offered to someone outside
the training: refused. (The other trainee is this test's own login.)"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pwd
import shutil
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.agent.settings import Settings
from agentapp.cli.sharing import MyRecordings, mine_list
from agentapp.core.config import AgentConfig
from agentapp.core.policy import parse_policy
from agentapp.demo.run import make_sample_site
from agentapp.files import layout
from agentapp.vault.examples import described
from agentapp.vault.grants import Grants
from agentapp.vault.keys import (
    keystore_problem,
    load_private_from_keystore,
    store_private_in_keystore,
)
from agentapp.vault.people import register_key
from agentapp.vault.purge import purge_expired
from agentapp.vault.sealing import SlipKeys
from agentapp.vault.store import Vault
from tests.fakes import site_trail_entries
from tests.integration.conftest import need, run_cli
from tests.policies import ACCESS, policy_text

DESCRIBED = "A calm greeting, then the account search while talking"


def test_a_teaching_example_is_anonymised_sealed_and_offered_to_a_trainee_of_the_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    need(keystore_problem() is None, "no real key store (run under scripts/test.sh)")
    me = pwd.getpwuid(os.geteuid()).pw_name  # another trainee of alice's training
    today = dt.date.today()
    mine = (f'\n[[enrolment]]\nagent = "{me}"\ntraining = "CRM onboarding"\n'
            f"start = {today}\nend = {today + dt.timedelta(days=30)}\n")  # fmt: skip
    policy = policy_text("alice", extra=ACCESS + mine)
    trainer, site, desk = tmp_path / "trainer", tmp_path / "site", tmp_path / "desk"
    make_sample_site(trainer, site, policy, "alice")
    (site / "policy.toml").write_text(policy)
    shutil.copytree(trainer / "keys", site / "keys", dirs_exist_ok=True)
    (rid,) = [m.id for m in Vault(site / "recordings").recordings()]
    monkeypatch.chdir(tmp_path)

    code, out = run_cli("carol", site, monkeypatch, capsys, "examples", "add", rid,
                     "--description", DESCRIBED, "--blur", "0,0,160,200", "--reason",
                     "teach the account search")  # fmt: skip
    assert code == 0 and "anonymised" in out, out
    (example,) = Vault(layout.examples(site)).recordings()
    assert example.agent == "" and example.training == "CRM onboarding" and example.voice == ""
    folder = layout.examples(site) / example.id
    everything = b"".join(p.read_bytes() for p in folder.iterdir())
    assert b"alice" not in everything and DESCRIBED.encode() not in everything
    assert example.purge_after <= Vault(site / "recordings").get(rid).purge_after
    code, out = run_cli("bob", site, monkeypatch, capsys, "examples", "add", rid,
                     "--description", "x", "--reason", "i want one too")  # fmt: skip
    assert code != 0 and "only a trainer" in out, out

    # offered to me (a trainee of the training, my key registered), refused for dan (not one)
    own = X25519PrivateKey.generate()
    store_private_in_keystore(own)
    (site / "people").mkdir()
    (site / "people").chmod(0o1777)
    register_key(site, me, own.public_key())
    code, out = run_cli("carol", site, monkeypatch, capsys, "examples", "offer", example.id,
                     "--to", me, "--reason", "to see a good search")  # fmt: skip
    assert code == 0 and f"offered to {me}" in out, out
    outsider = "daemon"  # an account with its own key at the site, in no training
    register_key(site, outsider, X25519PrivateKey.generate().public_key())
    for path in (site / "people" / outsider, site / "people" / outsider / "key.pem"):
        os.chown(path, pwd.getpwnam(outsider).pw_uid, -1)
    code, out = run_cli("carol", site, monkeypatch, capsys, "examples", "offer", example.id,
                     "--to", outsider, "--reason", "to see it")  # fmt: skip
    assert code != 0 and "is not a trainee of 'CRM onboarding'" in out, out
    assert Grants(site).get(example.id, outsider) is None

    # my desk: the example is in my list and plays, blurred on the left, clear on the right
    desk.mkdir(mode=0o700)
    shutil.copytree(trainer / "keys", desk / "keys")
    shutil.copyfile(site / "policy" / "policy.toml", desk / "policy.toml")
    mine_s = Settings(desk, me, desk / "policy.toml", AgentConfig(site=site), me)
    mine_now = MyRecordings(mine_s)
    assert [m.id for m in mine_now.listed()] == [example.id]
    # what it shows, in the trainer's words, beside it (opened with my slips)
    assert mine_now.about(example.id) == DESCRIBED
    capsys.readouterr()
    assert mine_list(argparse.Namespace(json=False), mine_s) == 0
    assert f"teaching example: {DESCRIBED}" in capsys.readouterr().out
    playback = mine_now.opened(example.id)
    from agentapp.vault.export import iter_frames

    frames = [bgr for seg in playback.segments for _t, bgr in iter_frames(seg)]
    assert frames, "no frame decoded"
    last = frames[-1].astype(int)
    white = (last >= 235).all(axis=2)  # the sample's white bar, 20..240 wide at the end
    assert white[22:34, 170:230].mean() > 0.9  # outside the blur: the bar as it was
    assert not white[:200, :150].any()  # under the blur: not one of its pixels left
    grant = Grants(site).get(example.id, me)
    assert grant is not None
    keys = SlipKeys(load_private_from_keystore(grant.kid), list(grant.slips.values()))
    assert described(Vault(layout.examples(site)), example.id, keys) == DESCRIBED
    acts = [(e["who"], e["action"]) for e in site_trail_entries(site)]
    assert ("carol", "make teaching example") in acts and (
        "carol",
        "offer teaching example",
    ) in acts
    assert ("bob", "refused export anonymised") in acts
    assert np.asarray(last).shape[2] == 3

    # its source's deadline: the example and its share go, traced
    gone = purge_expired(site, example.purge_after + 1, parse_policy(policy), None)
    assert {("example", example.id), ("share", f"{example.id} with {me}")} <= {
        (x.kind, x.id) for x in gone}  # fmt: skip
    assert not (layout.examples(site) / example.id).exists() and mine_now.listed() == []
