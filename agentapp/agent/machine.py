"""`agentapp machine configure`: the machine-wide settings an installer writes.

The Linux package's postinst (from debconf answers) and the Windows installer (from its
command-line parameters) both call this, so one piece of code validates what IT gives and
writes `<system dir>/agent.toml` and the site's two public keys. Everything is checked before
anything is written: a bad answer leaves the machine as it was, and the message says which
answer is wrong. Public settings only (world-readable, 0644); secrets stay in the key store.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from agentapp.core.config import ConfigError, config_text, source_from_url
from agentapp.core.errors import Refusal
from agentapp.i18n import _
from agentapp.site.signing import PUBLIC_FILE as SIGNING_FILE
from agentapp.vault.keys import PUBLIC_KEY_FILE as RECORDING_FILE
from agentapp.vault.store import write_atomic


class MachineSetupError(Refusal, ValueError):
    """A setting IT gave cannot be used; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class MachineSettings:
    site_folder: str = ""
    event_source: str = ""
    recording_key: str = ""  # a PEM file's path, PEM text, or its one base64 line
    signing_key: str = ""


def public_key_pem(value: str, kind: type, what: str) -> bytes:
    """The PEM of a public key given as PEM text, as the PEM's base64 line (the middle line of
    the .pem file: easy to put in a preseed or on a command line), or as a .pem file's path."""
    value = value.strip()
    key = None
    if value.startswith("-----BEGIN"):
        pem = value.encode()
    else:
        if re.fullmatch(r"[A-Za-z0-9+/]{40,}={0,2}", value):
            try:
                key = serialization.load_der_public_key(base64.b64decode(value))
            except ValueError:
                key = None  # not a key after all: perhaps a file name
        try:
            pem = b"" if key is not None else Path(value).read_bytes()
        except OSError as exc:
            why = _("'{value}' is neither a .pem file ({strerror}) nor a base64 key").format(
                value=value[:60], strerror=exc.strerror
            )
            raise MachineSetupError(f"{what}: {why}") from None
    if key is None:
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError:
            raise MachineSetupError(_("{what}: not a PEM public key").format(what=what)) from None
    if not isinstance(key, kind):
        expected = kind.__name__.removesuffix("PublicKey")
        raise MachineSetupError(
            _("{what}: not an {expected} key (is it the other one?)").format(
                what=what, expected=expected
            )
        )
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def plan(settings: MachineSettings) -> dict[str, bytes]:
    """File name → content for what was given. Raises MachineSetupError."""
    files: dict[str, bytes] = {}
    site = settings.site_folder.strip() or None
    source = None
    try:
        if settings.event_source.strip():
            source = source_from_url(settings.event_source)
        if site or source:
            files["agent.toml"] = config_text(site, source).encode()
    except ConfigError as exc:
        raise MachineSetupError(str(exc)) from None
    if settings.recording_key.strip():
        files[RECORDING_FILE] = public_key_pem(
            settings.recording_key, X25519PublicKey, _("recording public key")
        )
    if settings.signing_key.strip():
        files[SIGNING_FILE] = public_key_pem(
            settings.signing_key, Ed25519PublicKey, _("policy-signing public key")
        )
    return files


def configure(target: Path, settings: MachineSettings) -> list[str]:
    """Check everything, then write each file atomically (0644 in a 0755 folder). Settings
    left empty leave their file as it is. Returns one line per file written."""
    files = plan(settings)
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o755)
        for name, content in files.items():
            write_atomic(target / name, content, mode=0o644)
            (target / name).chmod(0o644)  # whatever the installer's umask
    except OSError as exc:
        raise MachineSetupError(
            _("cannot write in {target}: {strerror} (run as root or administrator)").format(
                target=target, strerror=exc.strerror
            )
        ) from None
    return [f"wrote {target / name}" for name in files] or ["nothing given: nothing changed"]
