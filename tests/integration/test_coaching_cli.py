"""The coaching record through the real command line, a real key store and a sample site (R1,
R7–R9, R11): the trainer's analysis and the trainee's own review side by side with the next
steps, sealed; read by the training's trainers alone, each act traced; a text-only PDF (read
back by an independent PDF library: its words, and no image in it), listed for the purge; the
record outlives its recording and goes at its year. The trainee is this test's own login (two
OS accounts: integration/test_sharing_x11.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import pwd
import shutil
from pathlib import Path

import pypdf
import pytest
import tomlkit
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.core.policy import parse_policy
from agentapp.demo.run import make_sample_site
from agentapp.vault.analyses import AnalysesStore
from agentapp.vault.audit import AuditLog
from agentapp.vault.coaching import CoachingStore
from agentapp.vault.keys import keystore_problem, store_private_in_keystore
from agentapp.vault.people import register_key
from agentapp.vault.purge import purge_expired
from agentapp.vault.store import Vault
from tests.fakes import site_trail_entries
from tests.integration.conftest import need, run_cli
from tests.policies import ACCESS, GRID, policy_text

MINE = "The caller waited while I searched the account"
THEIRS = "I searched too long for the account"
# (ff, fi, fl: letters a font would join into one glyph; a reader copying an id or a word
# from the PDF must get the letters themselves)
STEPS = "Open the account search before greeting.\nListen back to two calls next week.\n"
FLAT = "Ask the office for the fine print: ff16fd3c."


def _form(path: Path, comment: str, level: str) -> Path:
    doc = tomlkit.parse(path.read_text())
    doc["mark"][0].update(level=level, comment=comment)  # type: ignore[index, union-attr]
    path.write_text(tomlkit.dumps(doc))
    return path


def test_a_coaching_record_holds_both_reviews_and_prints_as_text_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    need(keystore_problem() is None, "no real key store (run under scripts/test.sh)")
    me = pwd.getpwuid(os.geteuid()).pw_name  # the trainee
    policy = policy_text(me, extra=ACCESS + GRID)  # carol trains; bob is an agent
    trainer, site, desk = tmp_path / "trainer", tmp_path / "site", tmp_path / "desk"
    make_sample_site(trainer, site, policy, me)
    (site / "policy.toml").write_text(policy)
    shutil.copytree(trainer / "keys", site / "keys", dirs_exist_ok=True)
    (rid,) = [m.id for m in Vault(site / "recordings").recordings()]
    monkeypatch.chdir(tmp_path)

    # the trainer's analysis
    form = tmp_path / "trainer-form.toml"
    assert run_cli("carol", site, monkeypatch, capsys, "analysis", "form", rid, "--out",
                str(form))[0] == 0  # fmt: skip
    assert run_cli("carol", site, monkeypatch, capsys, "analysis", "add", rid,
                str(_form(form, MINE, "à travailler")))[0] == 0  # fmt: skip
    (mine,) = AnalysesStore(site / "analyses").analyses()
    # the trainee's own review, on their desk, of the call shared with them
    own = X25519PrivateKey.generate()
    store_private_in_keystore(own)
    (site / "people").mkdir()
    (site / "people").chmod(0o1777)
    register_key(site, me, own.public_key())
    assert run_cli("carol", site, monkeypatch, capsys, "share", "add", rid, "--reason",
                "own review before coaching")[0] == 0  # fmt: skip
    desk.mkdir(mode=0o700)
    shutil.copytree(trainer / "keys", desk / "keys")
    shutil.copyfile(site / "policy" / "policy.toml", desk / "policy.toml")
    (desk / "agent.toml").write_text(f'[site]\nfolder = "{site}"\n')
    # a desk whose policy cannot be read says so, not that the training has no grid
    signed = (desk / "policy.toml").read_text()
    (desk / "policy.toml").write_text(signed.replace("CRM", "CRN", 1))
    code, out = run_cli(me, desk, monkeypatch, capsys, "mine", "form", rid)
    assert code != 0 and "the policy cannot be read" in out and "grid" not in out, out
    (desk / "policy.toml").write_text(signed)
    code, out = run_cli(me, desk, monkeypatch, capsys, "mine", "form", rid)
    assert code == 0, out
    review = tmp_path / "own-form.toml"
    review.write_text(out)
    code, out = run_cli(me, desk, monkeypatch, capsys, "mine", "review", rid,
                     str(_form(review, THEIRS, "en cours")))  # fmt: skip
    assert code == 0, out
    (theirs,) = AnalysesStore(site / "people" / me).analyses()

    # the record of the session
    steps = tmp_path / "steps.txt"
    steps.write_text(STEPS + FLAT)
    today = dt.date.today().isoformat()
    code, out = run_cli("carol", site, monkeypatch, capsys, "coaching", "add", rid, "--session",
                     today, "--next-steps", str(steps), "--analysis", mine.id,
                     "--self-review", theirs.id)  # fmt: skip
    assert code == 0 and "sealed" in out, out
    (record,) = CoachingStore(site / "coaching").metas()
    sealed = (site / "coaching" / f"{record.id}.seal").read_bytes()
    assert MINE.encode() not in sealed and b"next week" not in sealed
    code, out = run_cli("carol", site, monkeypatch, capsys, "coaching", "show", record.id,
                     "--reason", "preparing the session")  # fmt: skip
    assert code == 0 and MINE in out and THEIRS in out and "Listen back" in out, out
    assert "trainer: to work on" in out and "trainee: in progress" in out

    # the PDF for the session: its words, read back by pypdf, and no image in it
    pdf = tmp_path / "session.pdf"
    code, out = run_cli("carol", site, monkeypatch, capsys, "coaching", "pdf", record.id, "--out",
                     str(pdf), "--reason", "printed for the session")  # fmt: skip
    assert code == 0, out
    reader = pypdf.PdfReader(pdf)
    text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
    for words in ("Coaching record", "Greeting", "to work on", "in progress", MINE, THEIRS,
                  "Open the account search before greeting", FLAT, me, rid):  # fmt: skip
        assert words in text, (words, text)
    assert all(not page.images for page in reader.pages)
    assert b"/Subtype /Image" not in pdf.read_bytes() and b"/Subtype/Image" not in pdf.read_bytes()
    assert pdf.stat().st_mode & 0o077 == 0
    listed = [json.loads(x) for x in (site / "exports.jsonl").read_text().splitlines()]
    assert str(pdf) in [e["path"] for e in listed]  # the purge removes it
    code, out = run_cli("carol", site, monkeypatch, capsys, "coaching", "pdf", record.id, "--out",
                     str(pdf), "--reason", "printed for the session")  # fmt: skip
    assert code != 0 and "new .pdf" in out  # never over another file

    # bob is no trainer of it: refused, traced, nothing read
    code, out = run_cli("bob", site, monkeypatch, capsys, "coaching", "show", record.id,
                     "--reason", "just curious")  # fmt: skip
    assert code != 0 and MINE not in out
    assert "no coaching record visible" in run_cli("bob", site, monkeypatch, capsys, "coaching",
                                                 "list")[1]  # fmt: skip
    # a session long before the call, empty next steps: refused in one line, nothing kept
    code, out = run_cli("carol", site, monkeypatch, capsys, "coaching", "add", rid, "--session",
                     "2001-01-01", "--next-steps", str(steps))  # fmt: skip
    assert code != 0 and "between the call" in out, out
    steps.write_text("   \n")
    code, out = run_cli("carol", site, monkeypatch, capsys, "coaching", "add", rid, "--session",
                     today, "--next-steps", str(steps))  # fmt: skip
    assert code != 0 and "write the next steps" in out, out
    assert len(CoachingStore(site / "coaching").metas()) == 1
    acts = [(e["who"], e["action"]) for e in site_trail_entries(site)]
    for act in (("carol", "add coaching record"), ("carol", "view coaching record"),
                ("carol", "export file"), ("bob", "refused analysis")):  # fmt: skip
        assert act in acts, act

    # the recording goes at six months, the PDF with its deadline, the record at its year
    p, audit = parse_policy(policy), AuditLog(tmp_path / "purge-trail.jsonl")
    meta = Vault(site / "recordings").get(rid)
    gone = purge_expired(site, meta.purge_after + 1, p, audit)
    assert {x.kind for x in gone} >= {"recording", "share"} and CoachingStore(
        site / "coaching").metas()  # fmt: skip
    gone = purge_expired(site, record.purge_after + 1, p, audit)
    assert ("coaching", record.id) in [(x.kind, x.id) for x in gone]
    assert not pdf.exists()
    assert ("purge", f"coaching {record.id}") in [(e["action"], e["target"])
                                                   for e in audit.entries()]  # fmt: skip
