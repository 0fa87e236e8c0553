"""The command line as a person meets it: one clear line, the right exit code, no traceback,
and a safe state after bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import Agent
from tests.policies import policy_text
from tests.sockets import send_raw


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentapp", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def no_display_env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return dict(env, AGENTAPP_DATA_DIR=str(data), AGENTAPP_AGENT="alice")


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["hook", "off-hook"], 2, "--call-id"),
        (["hook", "off-hook", "--call-id", "has space"], 2, "invalid call id"),
        (["hook", "dance", "--call-id", "x"], 2, "unknown event"),
        (["policy", "check", "/nonexistent.toml"], 1, "policy file not found"),
        (["recordings", "export", "r1", "--out", "x.mp4"], 2, "--reason"),
        (["control", "explode"], 2, "unknown action"),
        (["keys"], 2, "ACTION"),
    ],
)
def test_bad_arguments_give_one_line(tmp_path: Path, args: list[str], code: int, says: str) -> None:
    r = cli(*args, env=no_display_env(tmp_path))
    assert r.returncode == code
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["hook", "off-hook"], 2, "ces arguments sont obligatoires : --call-id"),
        (["hook", "dance", "--call-id", "x"], 2, "événement inconnu"),
        (["policy", "check", "/nonexistent.toml"], 1, "fichier de règles introuvable"),
        (["recordings", "export", "r1", "--out", "x.mp4"], 2, "sont obligatoires : --reason"),
        (["keys"], 2, "erreur : ces arguments sont obligatoires : ACTION"),
    ],
)
def test_bad_arguments_are_told_in_french_on_a_french_desk(
    tmp_path: Path, args: list[str], code: int, says: str
) -> None:
    env = dict(no_display_env(tmp_path), AGENTAPP_LANG="", LANG="fr_FR.UTF-8")
    r = cli(*args, env=env)
    assert r.returncode == code
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], r.stderr


def test_help_and_a_policy_summary_in_french(tmp_path: Path) -> None:
    env = dict(no_display_env(tmp_path), AGENTAPP_LANG="fr")
    r = cli("recordings", "export", "--help", env=env)
    assert r.returncode == 0
    assert r.stdout.startswith("utilisation : agentapp recordings export")
    assert "afficher cette aide et quitter" in r.stdout
    assert "déchiffrer un enregistrement" not in r.stdout  # the group's help, not this one's
    assert "pourquoi vous devez le voir (tracé)" in r.stdout
    good = tmp_path / "good.toml"
    good.write_text(policy_text())
    r = cli("policy", "check", str(good), env=env)
    assert r.returncode == 0 and "inscrit(e) : alice à" in r.stdout, r.stdout
    assert "des appels, au plus" in r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(policy_text(quota=None))
    r = cli("policy", "check", str(bad), env=env)
    assert r.returncode == 1 and "sans limite" in r.stderr, r.stderr


def test_hook_without_agent_says_so(tmp_path: Path) -> None:
    r = cli("hook", "off-hook", "--call-id", "c1", env=no_display_env(tmp_path))
    assert r.returncode == 3 and "not running" in r.stderr


def test_policy_check_reports_refusal_and_summary(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(policy_text(quota=None))
    r = cli("policy", "check", str(bad))
    assert r.returncode == 1 and "without bound" in r.stderr
    good = tmp_path / "good.toml"
    good.write_text(policy_text())
    r = cli("policy", "check", str(good))
    assert r.returncode == 0 and "enrolled: alice" in r.stdout


def test_policy_check_refuses_a_scored_grid_in_one_line_and_shows_a_good_one(
    tmp_path: Path,
) -> None:
    grid = '\n[[grid]]\ntraining = "CRM onboarding"\n\n[[grid.criterion]]\nname = "Accueil"\n'
    good = tmp_path / "good.toml"
    good.write_text(policy_text(extra=grid))
    r = cli("policy", "check", str(good))
    assert r.returncode == 0 and "analysis grid of 'CRM onboarding': Accueil" in r.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(policy_text(extra=grid + "points = 5\n"))
    r = cli("policy", "check", str(bad))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "never scored" in r.stderr, r.stderr


def test_keys_init_refuses_without_a_key_store(tmp_path: Path) -> None:
    env = dict(no_display_env(tmp_path), DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent/bus")
    r = cli("keys", "init", env=env)
    assert r.returncode == 1 and "no OS key store" in r.stderr
    assert not (tmp_path / "keys").exists()  # no key, and certainly no plaintext fallback


def test_passphrase_key_file_and_export_checks(tmp_path: Path) -> None:
    env = no_display_env(tmp_path / "d")
    pw = tmp_path / "pw"
    pw.write_text("a long passphrase")
    key = tmp_path / "k.pem"
    r = cli("keys", "init", "--private-out", str(key), "--passphrase-file", str(pw), env=env)
    assert r.returncode == 0, r.stderr
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    r = cli("keys", "init", env=env)
    assert r.returncode == 1 and "already exists" in r.stderr
    r = cli(
        "recordings", "export", "nope", "--out", str(tmp_path / "o.mp4"), "--reason", "ok?", env=env
    )
    assert r.returncode == 2 and "real reason" in r.stderr
    key_args = ["--key", str(key), "--passphrase-file", str(pw)]
    out = str(tmp_path / "o.mp4")
    r = cli("recordings", "export", "nope", "--out", out, "--reason", "review", *key_args, env=env)
    assert r.returncode == 1 and "no recording nope" in r.stderr


def test_agent_without_display_fails_closed_and_survives_garbage(
    tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    agent = make_agent(policy_text("alice"), env=no_display_env(tmp_path), keys=False)
    pw = tmp_path / "pw"
    pw.write_text("a long passphrase")
    agent.cli(
        "keys", "init", "--private-out", str(tmp_path / "k.pem"), "--passphrase-file", str(pw)
    )
    agent.start()
    sock = agent.data / "run" / "hook.sock"
    for junk in (b"\xff\xfe\x00garbage\n", b"{" * 5000, b'{"v":1,"event":"off-hook"}\n'):
        assert send_raw(sock, junk).startswith("error:")
    agent.hook("off-hook", "c1")
    deadline = time.monotonic() + 10
    status: dict[str, str] = {}
    while time.monotonic() < deadline:
        status = json.loads(agent.cli("status").stdout)
        if status["state"] == "cannot_record":
            break
        time.sleep(0.1)
    assert status["state"] == "cannot_record" and "no display" in status["detail"]
    agent.hook("on-hook", "c1")
    assert agent.recordings() == []
    assert agent.proc is not None and agent.proc.poll() is None  # still running
    assert agent.log().count("hook: refused a message") == 3
    second = subprocess.run(
        [sys.executable, "-m", "agentapp", "run", "--headless"],
        env=agent.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 1 and "already running" in second.stderr


def test_hook_ignores_the_number_a_softphone_appends(
    tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    agent = make_agent(policy_text("bob"), env=no_display_env(tmp_path), keys=False).start()
    r = agent.cli("hook", "off-hook", "--call-id", "microsip", "0612345678")
    assert r.stdout.strip().startswith("ok: not recording (not enrolled")
    agent.cli("hook", "on-hook", "--call-id", "microsip", "0612345678")
    agent.stop()
    everything = "".join(
        p.read_text(errors="replace")
        for p in agent.data.rglob("*")
        if p.is_file() and p.suffix != ".sock"
    )
    assert "0612345678" not in everything


def test_doctor_says_what_is_missing_then_what_works(
    tmp_path: Path, make_agent: Callable[..., Agent]
) -> None:
    agent = make_agent(policy_text("alice"), env=no_display_env(tmp_path), keys=False)
    r = agent.cli("doctor", "--json", check=False)
    checks = {c["name"]: c for c in json.loads(r.stdout)}
    assert r.returncode == 1
    assert not checks["display"]["ok"] and "DISPLAY" in checks["display"]["detail"]
    assert not checks["recording key"]["ok"] and checks["policy"]["ok"]
    assert not checks["event source"]["ok"] and "not running" in checks["event source"]["detail"]
    # an agent's desk: the fix is IT's set-up, never a private key made there
    assert checks["desk"]["detail"] == "agent desk"
    assert "dpkg-reconfigure" in checks["recording key"]["fix"]
    assert "keys init" not in checks["recording key"]["fix"] + checks["recording key"]["detail"]
    assert "register" not in checks  # the register is the trainers' and the DPO's business
    french = agent.cli("doctor", check=False, env_extra={"AGENTAPP_LANG": "fr"})
    assert "ÉCHEC clé d'enregistrement" in french.stdout, french.stdout
    assert "un poste d'agent ne détient jamais de clé privée" in french.stdout
    agent.start()
    checks = {c["name"]: c for c in json.loads(agent.cli("doctor", "--json", check=False).stdout)}
    assert checks["event source"]["ok"]
    (agent.data / "agent.toml").write_text('[source]\nkind = "esl"\nextension = "1001"\n')
    r = agent.cli("doctor", check=False)
    assert "configuration refused" not in r.stderr and r.returncode == 1
    (agent.data / "agent.toml").write_text('[source]\nkind = "sip"\n')
    r = agent.cli("doctor", check=False)
    assert r.returncode == 1 and "configuration refused" in r.stderr and "kind must be" in r.stderr


def test_doctor_on_a_trainer_desk_warns_while_the_register_is_incomplete(tmp_path: Path) -> None:
    from tests.policies import ACCESS

    data = tmp_path / "data"
    data.mkdir()
    (data / "policy.toml").write_text(policy_text("alice", extra=ACCESS))
    env = dict(no_display_env(data), AGENTAPP_USER="carol")
    checks = {c["name"]: c for c in json.loads(cli("doctor", "--json", env=env).stdout)}
    assert checks["desk"]["detail"] == "trainer desk (carol)"
    register = checks["register"]
    assert not register["ok"] and "the DPO's opinion" in register["detail"]
    assert "keys init" in checks["recording key"]["fix"]  # here the pair may be made
    done = ('[register]\nstaff_consulted_on = 2026-10-12\nstaff_body = "CSE"\n'
            'dpo_opinion_on = 2026-10-20\ndpo_opinion = "favourable"\n'
            'dpia_reference = "AIPD-2026-04"\n')  # fmt: skip
    (data / "policy.toml").write_text(policy_text("alice", extra=ACCESS + done))
    checks = {c["name"]: c for c in json.loads(cli("doctor", "--json", env=env).stdout)}
    assert checks["register"]["ok"]


def test_nobody_acknowledges_the_notice_for_an_agent(tmp_path: Path) -> None:
    """Seen: anyone could run `notice acknowledge --agent alice` and the trail said alice
    read it. Only alice's own session can (here bob's session, played as tests do)."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "policy.toml").write_text(policy_text("alice"))
    env = dict(no_display_env(data), AGENTAPP_USER="bob")
    env.pop("AGENTAPP_AGENT")
    r = cli("notice", "acknowledge", "--agent", "alice", env=env)
    assert r.returncode == 1 and "only alice can acknowledge their notice" in r.stderr, r.stderr
    assert not (data / "notice-acknowledgements.json").exists()
    own = cli("notice", "acknowledge", env=dict(env, AGENTAPP_USER="alice"))
    assert own.returncode == 0, own.stderr


def test_a_packaged_build_takes_the_person_from_the_os_login(tmp_path: Path) -> None:
    """AGENTAPP_USER and AGENTAPP_POLICY let tests play a person; a packaged build (frozen, as
    PyInstaller makes it) refuses them with one line, so nobody becomes admin by a variable.
    (The installed .deb itself is run without them: tests/integration/test_package_deb.py.)"""
    data = tmp_path / "data"
    code = "import sys; sys.frozen = True; from agentapp.cli import main; sys.exit(main())"
    for var, value in (("AGENTAPP_USER", "dan"), ("AGENTAPP_POLICY", str(tmp_path / "mine"))):
        env = dict(no_display_env(data), **{var: value})
        r = subprocess.run([sys.executable, "-c", code, "recordings", "list"], env=env,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
        assert r.returncode != 0 and f"{var} is set: it is for tests only" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr


def test_headless_records_only_where_the_policy_allows_it(tmp_path: Path) -> None:
    """Seen: headless mode recorded with no indicator and no notice on screen. Without a
    tray the agent records only on desks the policy names (kiosks with their own light)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from agentapp.agent.app import build_engine
    from agentapp.agent.settings import settings
    from agentapp.core.events import CallEvent, EventKind
    from agentapp.vault.keys import public_key_path, write_public_key

    data = tmp_path / "data"
    data.mkdir()
    (data / "policy.toml").write_text(policy_text("alice", headless=False))
    write_public_key(X25519PrivateKey.generate().public_key(), public_key_path(data))
    engine = build_engine(settings(str(data), "alice"), headless=True)
    assert "without its tray" in engine.refresh().detail
    answer = engine.handle_event(CallEvent(EventKind.OFF_HOOK, "k1", time.time()))
    assert answer == "ok: not recording (no recording indicator on this desk)"
    assert engine.vault.recordings() == []
    (data / "policy.toml").write_text(policy_text("alice"))  # this desk is listed
    assert "without its tray" not in engine.refresh().detail


def test_a_key_store_command_runs_no_compiler(tmp_path: Path, keystore: None) -> None:
    """keyring's own detection imports its macOS back-end, which asks ctypes for a framework
    and so runs gcc on Linux (three times a command, files left in /tmp): the back-end is
    chosen by name instead. Compilers that note their runs stand first on the PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ran = tmp_path / "ran"
    for name in ("gcc", "cc", "x86_64-linux-gnu-gcc"):
        (bin_dir / name).write_text(f'#!/bin/sh\necho "$0" >> {ran}\nexit 1\n')
        (bin_dir / name).chmod(0o755)
    env = dict(no_display_env(tmp_path / "data"), PATH=f"{bin_dir}:{os.environ['PATH']}")
    r = cli("keys", "init", env=env)
    assert r.returncode == 0, r.stderr
    assert not ran.exists(), ran.read_text()
