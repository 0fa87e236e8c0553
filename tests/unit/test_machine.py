"""Machine-wide settings from an installer: every answer checked before anything is written;
`{user}` stands for the agent; per-user files win over machine-wide ones."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.agent.machine import MachineSettings, MachineSetupError, configure
from agentapp.agent.settings import settings, signing_key_path
from agentapp.core.config import ConfigError, parse_config, source_from_url
from agentapp.vault.keys import (
    KeyProblem,
    installed_public_key_path,
    public_key_path,
    write_public_key,
)


def _pem(key: X25519PrivateKey | Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


RECORDING = _pem(X25519PrivateKey.generate())
SIGNING = _pem(Ed25519PrivateKey.generate())


def test_source_urls_become_source_tables() -> None:
    assert source_from_url("hook") == {"kind": "hook"}
    assert source_from_url("baresip://127.0.0.1:4444?account=sip:{user}@pbx.example") == {
        "kind": "baresip", "host": "127.0.0.1", "port": 4444, "account": "sip:{user}@pbx.example"
    }  # fmt: skip
    assert source_from_url("ami://agentapp@pbx:5038?endpoint=PJSIP/{user}") == {
        "kind": "ami", "host": "pbx", "port": 5038, "username": "agentapp",
        "endpoint": "PJSIP/{user}",
    }  # fmt: skip
    esl = source_from_url("esl://pbx?extension={user}&internal_numbers=^[0-9]%7B3%7D+$")
    assert esl == {"kind": "esl", "host": "pbx", "port": 8021, "extension": "{user}",
                   "internal_numbers": "^[0-9]{3}+$"}  # fmt: skip


@pytest.mark.parametrize("url", ["sip://pbx", "baresip:/x", "ami://pbx:port", "hook://x",
                                 "esl://pbx?password=secret", "baresip://:4444"])  # fmt: skip
def test_bad_source_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        source_from_url(url)


def test_configure_writes_checked_public_files(tmp_path: Path) -> None:
    target = tmp_path / "etc"
    recording_line = RECORDING.splitlines()[1]  # the PEM's base64 line, as in a preseed
    signing_file = tmp_path / "signing.pem"
    signing_file.write_text(SIGNING)
    done = configure(target, MachineSettings(
        "/srv/agentapp-site", "baresip://127.0.0.1:4444?account=sip:{user}@pbx",
        recording_line, str(signing_file),
    ))  # fmt: skip
    assert len(done) == 3
    cfg = parse_config((target / "agent.toml").read_text())
    assert cfg.site == Path("/srv/agentapp-site")
    assert cfg.source.kind == "baresip" and cfg.source.account == "sip:{user}@pbx"
    assert (target / "recording-public-key.pem").read_text() == RECORDING
    assert (target / "policy-signing-public-key.pem").read_text() == SIGNING
    for f in target.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f
    assert not [f for f in target.iterdir() if f.name.endswith(".tmp")]


@pytest.mark.parametrize(("given", "named"), [
    (MachineSettings(recording_key=SIGNING), "recording public key"),
    (MachineSettings(signing_key=RECORDING), "policy-signing public key"),
    (MachineSettings(recording_key="not base64 !"), "neither a .pem file"),
    (MachineSettings(recording_key="/nowhere/key.pem"), "No such file"),
    (MachineSettings(site_folder="relative/site"), "absolute"),
    (MachineSettings(event_source="baresip://127.0.0.1:4444"), "needs 'account'"),
    (MachineSettings(event_source="esl://pbx?extension=1&internal_numbers=("), "regular"),
])  # fmt: skip
def test_one_bad_answer_writes_nothing(tmp_path: Path, given: MachineSettings, named: str) -> None:
    target = tmp_path / "etc"
    target.mkdir()
    (target / "agent.toml").write_text("# IT's own\n")
    good = MachineSettings(site_folder="/srv/site", recording_key=RECORDING)
    mixed = MachineSettings(*(b or a for a, b in zip(
        (good.site_folder, good.event_source, good.recording_key, good.signing_key),
        (given.site_folder, given.event_source, given.recording_key, given.signing_key),
        strict=True,
    )))  # fmt: skip
    with pytest.raises(MachineSetupError, match=named):
        configure(target, mixed)
    assert sorted(p.name for p in target.iterdir()) == ["agent.toml"]
    assert (target / "agent.toml").read_text() == "# IT's own\n"


def test_empty_settings_leave_files_alone(tmp_path: Path) -> None:
    target = tmp_path / "etc"
    target.mkdir()
    (target / "agent.toml").write_text("# IT's own\n")
    assert configure(target, MachineSettings()) == ["nothing given: nothing changed"]
    assert (target / "agent.toml").read_text() == "# IT's own\n"


def test_a_users_config_wins_but_the_keys_it_installed_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system, data = tmp_path / "etc", tmp_path / "data"
    monkeypatch.setenv("AGENTAPP_SYSTEM_DIR", str(system))
    configure(system, MachineSettings(
        "/srv/site", "esl://pbx:8021?extension=ext-{user}", RECORDING, SIGNING
    ))  # fmt: skip
    s = settings(str(data), agent="alice")
    assert s.config.site == Path("/srv/site") and s.config.source.extension == "ext-alice"
    assert installed_public_key_path(data) == system / "recording-public-key.pem"
    assert signing_key_path(data) == system / "policy-signing-public-key.pem"

    data.mkdir()
    (data / "agent.toml").write_text('agent = "bob"\n')
    write_public_key(X25519PrivateKey.generate().public_key(), public_key_path(data))
    s = settings(str(data))
    assert s.agent == "bob" and s.config.site is None and s.config.source.kind == "hook"
    with pytest.raises(KeyProblem, match="refused"):  # another key than IT's: not obeyed
        installed_public_key_path(data)
