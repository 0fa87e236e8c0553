"""A desk with no login key store (autologin, kiosk): the agent records nothing
and says why; IT gives the account a per-machine key store; the agent unlocks it at its
start (a real gnome-keyring on a real session bus of the test's own) and records, its audit
trail signed with the key kept there. Needs root (the secret is made as root for the
account)."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agentapp.demo.virtual_display import VirtualDesktop
from tests.integration.conftest import Agent, Windows, need
from tests.policies import ACCESS, policy_text


@pytest.fixture
def bare_session(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A session bus with no login key store on it (D-Bus starts gnome-keyring on demand, as
    on any desk, but it holds no login keyring), and the folders gnome-keyring uses."""
    need(os.geteuid() == 0, "making a kiosk secret for an account needs root")
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        need(shutil.which(tool) is not None, f"{tool} is not installed")
    run = tmp_path / "xdg-run"
    run.mkdir(mode=0o700)
    folders = {"XDG_RUNTIME_DIR": str(run), "XDG_DATA_HOME": str(tmp_path / "xdg-data")}
    # the bus starts the key store on demand with the bus's own environment, as a desk's does
    r = subprocess.run(["dbus-daemon", "--session", "--fork", "--print-address=1",
                        "--print-pid=1"], capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, **folders))  # fmt: skip
    address, pid = r.stdout.split()
    env = {"DBUS_SESSION_BUS_ADDRESS": address, **folders,
           "AGENTAPP_SYSTEM_DIR": str(tmp_path / "system")}  # fmt: skip
    try:
        yield env
    finally:
        os.kill(int(pid), signal.SIGTERM)
        for proc in Path("/proc").glob("[0-9]*"):  # the key store started on that bus
            try:
                if (b"gnome-keyring" in (proc / "cmdline").read_bytes()
                        and address.encode() in (proc / "environ").read_bytes()):  # fmt: skip
                    os.kill(int(proc.name), signal.SIGTERM)
            except (OSError, ValueError):
                continue


def test_a_kiosk_desk_records_only_once_it_has_a_per_machine_key_store(
    desktop: VirtualDesktop, keystore: None, windows: Windows, bare_session: dict[str, str],
    make_agent: Callable[..., Agent], tmp_path: Path,
) -> None:  # fmt: skip
    agent = make_agent(policy_text("alice", extra=ACCESS), env=desktop.env, ack=False)
    agent.env.update(bare_session)
    agent.cli("notice", "acknowledge", check=False)

    def key_store() -> dict[str, object]:
        checks = json.loads(agent.cli("doctor", "--json", check=False).stdout)
        return {c["name"]: c for c in checks}["key store"]  # type: ignore[no-any-return]

    # 1. No key store: nothing records, and doctor says what IT can do.
    before = key_store()
    assert not before["ok"] and "no login key store" in str(before["detail"]), before
    assert "sudo agentapp machine kiosk-keystore USER" in str(before["fix"])
    agent.start()
    assert agent.hook("off-hook", "kiosk-1").startswith("ok: not recording")
    agent.hook("on-hook", "kiosk-1")
    agent.stop()
    assert not list((agent.data / "recordings").glob("*"))  # (listing needs the trail too)

    # 2. IT gives the account its secret (root, once per desk account).
    system = Path(bare_session["AGENTAPP_SYSTEM_DIR"])
    user = getpass.getuser()
    out = agent.cli("machine", "kiosk-keystore", user, "--system-dir", str(system)).stdout
    secret = system / "kiosk" / f"{user}.secret"
    assert f"made {secret}" in out and oct(secret.stat().st_mode & 0o777) == "0o600"
    assert agent.cli("machine", "kiosk-keystore", "no-such-account-x", check=False).returncode
    # a secret others can read is refused, and nothing is unlocked with it
    secret.chmod(0o644)
    refused = key_store()
    assert not refused["ok"] and "can be read by others" in str(refused["detail"])
    secret.chmod(0o600)

    # 3. The agent unlocks it at its start, records, and its trail is signed and intact.
    agent.start()
    agent.wait_log("key store: kiosk")
    rec = agent.call("kiosk-2", 1.5)
    assert rec["status"] == "complete"
    assert "intact" in agent.cli("audit", "verify", user="dan").stdout
    after = key_store()
    assert after["ok"] and str(secret) in str(after["detail"])
    keyrings = Path(bare_session["XDG_DATA_HOME"]) / "keyrings"
    assert any(keyrings.glob("*.keyring"))  # gnome-keyring's own encrypted file, not ours
