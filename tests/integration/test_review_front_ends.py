"""One review module (vault/review.py) behind both front ends: the same acts by the same
people through the command line and through the trainer console leave the same audit
trail, line by line, refusals and failures included (R7, R8).

Two sample sites (real key store, one sealed recording of alice each): one reviewed with
`agentapp` commands (run in-process, its data folder the site's), the other with the
console's model. The trails are compared with the recording's id written as <rec>.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp import cli
from agentapp.agent.settings import Settings
from agentapp.core.config import AgentConfig
from agentapp.demo.run import make_sample_site
from agentapp.trainer.console import ConsoleError, ConsoleModel
from agentapp.vault.keys import keystore_problem, load_private_from_keystore
from agentapp.vault.store import Vault
from tests.fakes import site_trail_entries
from tests.integration.conftest import need
from tests.policies import ACCESS, policy_text

POLICY = policy_text("alice", extra=ACCESS)  # carol trains alice's training; bob is an agent
Act = tuple[str, str]  # (who, what)
ACTS: list[Act] = [
    ("carol", "list"),
    ("carol", "export"),
    ("carol", "export anonymised"),
    ("carol", "add note"),
    ("carol", "export with a key that does not open it"),
    ("bob", "add note"),
    ("bob", "export"),
    ("bob", "export anonymised"),
    ("carol", "export with no reason"),
]


def _sample(tmp: Path) -> tuple[Path, Path, str]:
    trainer, site = tmp / "trainer", tmp / "site"
    make_sample_site(trainer, site, POLICY, "alice")
    (rid,) = [m.id for m in Vault(site / "recordings").recordings()]
    return trainer, site, rid


def _wrong_key(tmp: Path) -> tuple[Path, Path]:
    pw = tmp / "pass"
    pw.write_text("a long enough passphrase\n")
    key = tmp / "wrong.key"
    key.write_bytes(X25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"a long enough passphrase")))  # fmt: skip
    return key, pw


def _by_cli(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[tuple[str, ...]], str]:
    trainer, site, rid = _sample(tmp)
    (site / "policy.toml").write_text(POLICY)  # the site folder read as a desk's data folder
    shutil.copytree(trainer / "keys", site / "keys", dirs_exist_ok=True)
    out = tmp / "out"
    out.mkdir()
    key, pw = _wrong_key(tmp)
    note = tmp / "note.txt"
    note.write_text("good opening, missed the account check")
    d = ["--data-dir", str(site)]
    commands: dict[str, list[str]] = {
        "list": ["recordings", "list", *d],
        "export": ["recordings", "export", rid, "--out", str(out / "{who}.mp4"),
                   "--reason", "review 1", *d],
        "export anonymised": ["recordings", "export", rid, "--anonymise", "--out", str(out),
                              "--reason", "review 1", *d],
        "add note": ["notes", "add", rid, "--file", str(note), *d],
        "export with a key that does not open it": [
            "recordings", "export", rid, "--out", str(out / "wrong.mp4"), "--key", str(key),
            "--passphrase-file", str(pw), "--reason", "review 1", *d],
        "export with no reason": ["recordings", "export", rid, "--out", str(out / "x.mp4"),
                                  "--reason", "", *d],
    }  # fmt: skip
    for who, what in ACTS:
        monkeypatch.setenv("AGENTAPP_USER", who)
        argv = [a.replace("{who}", who) for a in commands[what]]
        code = cli.main(argv)
        assert (code == 0) == _allowed(who, what), (who, what, code)
    return _trail(site_trail_entries(site), rid), rid


def _by_console(tmp: Path) -> tuple[list[tuple[str, ...]], str]:
    trainer, site, rid = _sample(tmp)
    out = tmp / "out"
    out.mkdir()
    wrong = X25519PrivateKey.generate()
    for who, what in ACTS:
        model = ConsoleModel(Settings(trainer, who, trainer / "policy.toml", AgentConfig(), who),
                             site)  # fmt: skip
        try:
            _console_act(model, what, rid, out, wrong)
            done = True
        except ConsoleError:
            done = False
        assert done == _allowed(who, what), (who, what)
    return _trail(site_trail_entries(site), rid), rid


def _console_act(model: ConsoleModel, what: str, rid: str, out: Path, wrong: X25519PrivateKey
                 ) -> None:  # fmt: skip
    keystore: Callable[[str], object] = load_private_from_keystore
    if what == "list":
        model.recordings()
    elif what == "add note":
        model.notes.add(rid, "good opening, missed the account check")
    elif what == "export with a key that does not open it":
        model.export(rid, "review 1", out, False, lambda _: wrong)
    elif what == "export with no reason":
        model.export(rid, "", out, False, keystore)
    else:
        model.export(rid, "review 1", out, what == "export anonymised", keystore)


def _allowed(who: str, what: str) -> bool:
    return who == "carol" and what in ("list", "export", "export anonymised", "add note")


def _trail(entries: list[dict[str, Any]], rid: str) -> list[tuple[str, ...]]:
    """Who, role, act, target, reason of every entry (a failure's cause is the library's
    words, compared only as present). The console marks what it did itself ("console")."""
    out = []
    for e in entries:
        reason = "" if e["reason"] == "console" else str(e["reason"])
        if e["action"].endswith(" failed"):
            reason = "<cause>" if reason else ""
        if e["action"] == "export file":  # the path is each front end's; checked apart
            assert Path(e["target"]).is_absolute() and e["target"].endswith(".mp4"), e
            e = {**e, "target": "<file>"}
            reason = re.sub(r"\d{4}-\d{2}-\d{2}$", "<date>", reason.replace(rid, "<rec>"))
        out.append((e["who"], e["role"], e["action"], str(e["target"]).replace(rid, "<rec>"),
                    reason))  # fmt: skip
    return out


def test_every_review_act_is_checked_and_traced_the_same_from_both_front_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need(keystore_problem() is None, "no real key store (run under scripts/test.sh)")
    by_cli, _ = _by_cli(tmp_path / "cli", monkeypatch)
    by_console, _ = _by_console(tmp_path / "console")
    refused = "only a trainer of 'CRM onboarding' may do this"
    listed = ("carol", "trainer", "export file", "<file>", "<rec>, removed with it on <date>")
    assert by_cli == [
        ("carol", "trainer", "list", "1 recording(s)", ""),
        ("carol", "trainer", "export", "<rec>", "review 1"),
        listed,
        ("carol", "trainer", "export anonymised", "<rec>", "review 1"),
        listed,
        ("carol", "trainer", "add note", "<rec>", ""),
        ("carol", "trainer", "export", "<rec>", "review 1"),
        listed,  # listed before it is written: the purge forgets what was never made
        ("carol", "trainer", "export failed", "<rec>", "<cause>"),
        ("bob", "agent", "refused notes", "<rec>", refused),
        ("bob", "agent", "refused export", "<rec>",
         "this recording is not yours and you are not a trainer of its training"),
        ("bob", "agent", "refused export anonymised", "<rec>", refused),
    ]  # fmt: skip
    assert by_console == by_cli
