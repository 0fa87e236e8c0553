"""A data folder no one else controls (R12): each way another user could reach into it is
refused with one line, checked on real files, links and owners (these tests run as root and
hand parts to `nobody`)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agentapp.files.datafolder import UnsafeFolder, check, problem

NOBODY = 65534


def _folder(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    (d / "recordings" / "20261201T100000Z-ab").mkdir(parents=True, mode=0o700)
    (d / "run").mkdir(mode=0o700)
    (d / "audit.jsonl").write_text("")
    os.chmod(d / "audit.jsonl", 0o600)
    os.chmod(d, 0o700)
    os.chmod(d / "recordings", 0o700)
    return d


def _link_recordings(d: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    os.rename(d / "recordings", tmp_path / "elsewhere" / "recordings")
    (d / "recordings").symlink_to(tmp_path / "elsewhere" / "recordings")


def _link_run(d: Path, tmp_path: Path) -> None:
    os.rmdir(d / "run")
    (tmp_path / "their-run").mkdir()
    (d / "run").symlink_to(tmp_path / "their-run")


def _link_trail(d: Path, tmp_path: Path) -> None:
    (d / "audit.jsonl").unlink()
    (d / "audit.jsonl").symlink_to(tmp_path / "their-trail.jsonl")


def _world_writable(d: Path, tmp_path: Path) -> None:
    os.chmod(d, 0o777)


def _someone_elses(d: Path, tmp_path: Path) -> None:
    os.chown(d, NOBODY, NOBODY)


def _their_key(d: Path, tmp_path: Path) -> None:
    (d / "keys").mkdir(mode=0o700)
    key = d / "keys" / "recording-public-key.pem"
    key.write_text("their key")
    os.chown(key, NOBODY, NOBODY)


def _writable_recording(d: Path, tmp_path: Path) -> None:
    os.chmod(d / "recordings" / "20261201T100000Z-ab", 0o777)


def _open_parent(d: Path, tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o777)  # anyone could rename the data folder away and put theirs


@pytest.mark.parametrize(
    ("attack", "says"),
    [
        (_link_recordings, "recordings is a symbolic link"),
        (_link_run, "run is a symbolic link"),
        (_link_trail, "audit.jsonl is a symbolic link"),
        (_world_writable, "can be changed by other users (mode 0777)"),
        (_someone_elses, "belongs to another user (nobody)"),
        (_their_key, "recording-public-key.pem belongs to another user"),
        (_writable_recording, "20261201T100000Z-ab can be changed by other users"),
        (_open_parent, "can be changed by anyone (mode 0777)"),
    ],
)
def test_each_way_in_is_refused_with_one_line(
    tmp_path: Path, attack: Callable[[Path, Path], None], says: str
) -> None:
    d = _folder(tmp_path)
    assert problem(str(d)) is None
    attack(d, tmp_path)
    with pytest.raises(UnsafeFolder) as err:
        check(str(d))
    assert says in str(err.value) and "\n" not in str(err.value)
    assert "not safe to use" in str(err.value)


def test_a_folder_others_may_read_is_made_private(tmp_path: Path) -> None:
    d = _folder(tmp_path)
    os.chmod(d, 0o755)
    check(str(d))
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700


def test_a_missing_folder_is_made_private(tmp_path: Path) -> None:
    check(str(tmp_path / "new" / "data"))
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "data").st_mode) == 0o700


def test_the_agent_and_the_hook_refuse_a_linked_folder(tmp_path: Path) -> None:
    """The real commands: one line, no traceback, nothing sent to a socket someone else may
    have put there."""
    d = _folder(tmp_path)
    _link_run(d, tmp_path)
    env = dict(os.environ, AGENTAPP_DATA_DIR=str(d), AGENTAPP_AGENT="alice")
    hook = ["hook", "off-hook", "--call-id", "c1"]
    for args, code in ((["status"], 2), (["run", "--headless"], 2), (hook, 3)):
        r = subprocess.run([sys.executable, "-m", "agentapp", *args], env=env,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
        assert r.returncode == code, (args, r.stderr)
        assert "run is a symbolic link" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_keys_it_installed_win_over_a_users_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen: a user who owned the data folder put their own recording key there and the
    per-user copy won, so they could read the segment. Now the machine-wide key is obeyed
    and a different per-user copy is refused, said in the agent's status."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from agentapp.agent.settings import signing_key_path
    from agentapp.core.policy import PolicyError
    from agentapp.site.signing import PUBLIC_FILE, write_public
    from agentapp.vault.keys import (
        KeyProblem,
        installed_public_key_path,
        public_key_path,
        write_public_key,
    )

    system, data = tmp_path / "etc", tmp_path / "data"
    monkeypatch.setenv("AGENTAPP_SYSTEM_DIR", str(system))
    site_key = X25519PrivateKey.generate().public_key()
    write_public_key(site_key, system / "recording-public-key.pem")
    assert installed_public_key_path(data) == system / "recording-public-key.pem"
    write_public_key(site_key, public_key_path(data))  # the same key: harmless
    assert installed_public_key_path(data) == system / "recording-public-key.pem"
    write_public_key(X25519PrivateKey.generate().public_key(), public_key_path(data))
    with pytest.raises(KeyProblem, match=r"recording key refused: .* differs from"):
        installed_public_key_path(data)

    write_public(Ed25519PrivateKey.generate().public_key(), system / PUBLIC_FILE)
    assert signing_key_path(data) == system / PUBLIC_FILE
    write_public(Ed25519PrivateKey.generate().public_key(), data / "keys" / PUBLIC_FILE)
    with pytest.raises(PolicyError, match="policy-signing key refused"):
        signing_key_path(data)


def test_files_written_and_renamed_meanwhile_never_break_the_check(tmp_path: Path) -> None:
    """The agent writes its status beside the hook's socket by a temporary file renamed into
    place, many times a second: a name listed and gone before it is looked at is no danger
    (and no traceback for the hook): the check goes on with what is there."""
    import threading

    d = _folder(tmp_path)
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            for i in range(20):
                tmp = d / "run" / f".status.json.{i}.tmp"
                tmp.write_text("{}")
                os.replace(tmp, d / "run" / "status.json")

    writer = threading.Thread(target=churn)
    writer.start()
    try:
        for _ in range(3000):
            assert problem(str(d), deep=False) is None
            assert problem(str(d)) is None
    finally:
        stop.set()
        writer.join(timeout=10)
