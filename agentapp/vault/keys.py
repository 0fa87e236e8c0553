"""The recording key pair and where its private half lives.

The private key lives in the OS key store (Secret Service, Windows Credential Manager,
macOS Keychain through `keyring`) or, for a trainer's laptop, in a passphrase-protected PEM
file. There is deliberately no plaintext fallback: a machine with no usable key store is told
so and nothing is stored.
"""

from __future__ import annotations

import base64
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from agentapp.core.errors import Refusal
from agentapp.files import layout
from agentapp.files.paths import ConflictingCopy, system_first
from agentapp.i18n import _
from agentapp.vault.sealing import fingerprint

SERVICE = "agentapp"
PUBLIC_KEY_FILE = "recording-public-key.pem"


class KeyProblem(Refusal):
    """A key cannot be created, found or read. The message says why and what to do."""


def public_key_path(data_dir: Path) -> Path:
    """Where `keys init` writes this user's copy of the recording public key."""
    return layout.keys(data_dir) / PUBLIC_KEY_FILE


def installed_public_key_path(data_dir: Path) -> Path:
    """The key recordings are sealed with: the one IT installed machine-wide, else this
    user's copy (`keys init`). Raises KeyProblem when the user's copy is another key."""
    try:
        return system_first(public_key_path(data_dir))
    except ConflictingCopy as exc:
        raise KeyProblem(_("recording key refused: {exc}").format(exc=exc)) from None


def write_public_key(pub: X25519PublicKey, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path.write_bytes(pem)
    path.chmod(0o644)


def load_public_key(path: Path) -> X25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError:
        raise KeyProblem(
            _(
                "no recording public key at {path}: IT installs the site's key "
                "there (the package's set-up, or 'agentapp machine configure "
                "--recording-key')"
            ).format(path=path)
        ) from None
    except (OSError, ValueError) as exc:
        raise KeyProblem(
            _("recording public key {path} is unreadable: {exc}").format(path=path, exc=exc)
        ) from None
    if not isinstance(key, X25519PublicKey):
        raise KeyProblem(_("{path} is not an X25519 recording public key").format(path=path))
    return key


# ------------------------------------------------------------------ OS key store


_chosen = False
_kept: Any = None  # the Secret Service back-end chosen here, when it was


def _keyring(again: bool = False) -> Any:
    """keyring, with the OS's own key store chosen by name: keyring's own detection imports
    every back-end, and its macOS one asks ctypes for the Security framework, which on Linux
    runs gcc (three compilers a command, their files left in /tmp). An explicit choice
    (PYTHON_KEYRING_BACKEND, keyringrc.cfg) is honoured as keyring would. On Linux the Secret
    Service is asked over one connection kept open (secretservice.py)."""
    global _chosen, _kept
    import keyring
    import keyring.core

    if _chosen and not again:
        return keyring
    _chosen = True
    if _kept is not None:
        _kept.close()  # (chosen again: its connection goes with it)
        _kept = None
    chosen = keyring.core.load_env() or keyring.core.load_config()
    if chosen is None and sys.platform.startswith("linux"):
        from keyring.backends import SecretService, fail

        try:
            SecretService.Keyring.priority  # noqa: B018 - raises when it cannot serve
            from agentapp.vault.secretservice import KeptSecretService

            chosen = _kept = KeptSecretService()
        except Exception:  # no Secret Service on the session bus: keystore_problem says so
            chosen = fail.Keyring()
    if chosen is None:  # Windows, macOS: their one back-end, as keyring finds it
        keyring.core.init_backend()
    else:
        keyring.set_keyring(chosen)
    return keyring


def keystore_problem() -> str | None:
    """None when a real OS key store is usable, else the reason it is not."""
    try:
        keyring = _keyring()
        from keyring.backends import fail
    except Exception as exc:  # pragma: no cover - keyring is a dependency
        return _("keyring is not importable ({exc})").format(exc=exc)
    try:
        backend = keyring.get_keyring()
    except Exception as exc:
        return _("the OS key store could not be opened ({exc})").format(exc=exc)
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if isinstance(backend, fail.Keyring) or name.startswith("keyring.backends.null"):
        return _(
            "no OS key store is available (no Secret Service on the session bus, e.g. "
            "gnome-keyring not running)"
        )
    if name.startswith("keyrings.alt") or "plaintext" in name.lower():
        return _(
            "the only key store is {name}, which keeps secrets in a plain file: refused"
        ).format(name=name)
    secret_service = name.startswith("keyring.backends.SecretService") or backend is _kept
    if secret_service and not _login_found:
        return _login_collection_problem()
    return None


_login_found = False  # once found unlocked, not asked again at every secret (off-hook's path)


def _login_collection_problem() -> str | None:
    """A Secret Service answers (D-Bus starts gnome-keyring on demand), but is there a login
    key store, unlocked? Asked without creating one: that would open a password prompt,
    which an autologin or kiosk session cannot answer. Asked until the answer is yes: three
    D-Bus calls on a connection of their own, ~10 ms of an off-hook's audit entries if asked
    at each secret."""
    global _login_found
    import secretstorage
    from secretstorage.collection import Collection
    from secretstorage.exceptions import ItemNotFoundException, SecretStorageException

    try:
        conn = secretstorage.dbus_init()
    except SecretStorageException as exc:
        return _("the OS key store could not be opened ({exc})").format(exc=exc)
    try:
        try:
            collection = Collection(conn)  # the "default" alias: the login key store
        except ItemNotFoundException:
            return _("the Secret Service has no login key store (an autologin or kiosk "
                     "session)")  # fmt: skip
        if collection.is_locked():
            return _("the login key store is locked (an autologin session, or not unlocked "
                     "at login)")  # fmt: skip
    except SecretStorageException as exc:
        return _("the OS key store could not be opened ({exc})").format(exc=exc)
    finally:
        conn.close()
    _login_found = True
    return None


@dataclass(frozen=True, slots=True)
class KeyStore:
    """Which key store this desk uses: "login" (the session's own), "kiosk" (the
    per-machine one, platform/kiosk.py) or "none" (`detail` says why; nothing records)."""

    kind: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.kind != "none"


def ensure_keystore(system: Path) -> KeyStore:
    """The session's key store; when there is none, the account's kiosk key store unlocked
    (the rule the agent's start and doctor share)."""
    import sys

    problem = keystore_problem()
    if not sys.platform.startswith("linux"):
        return KeyStore("login", _("the OS key store")) if problem is None else KeyStore(
            "none", problem)  # fmt: skip
    from agentapp.platform.kiosk import login_name, secret_path, unlock

    path = secret_path(system, login_name())
    if problem is None:
        also = _(" (this account's kiosk key store, {path}, unlocks it when it is not running)"
                 ).format(path=path) if path.exists() else ""  # fmt: skip
        return KeyStore("login", _("the session's key store (Secret Service)") + also)
    if not path.exists():
        return KeyStore("none", problem)
    why = unlock(path)
    if why is None:
        _keyring(again=True)  # the backend chosen before the daemon started was "none"
        again = keystore_problem()
        if again is None:
            return KeyStore("kiosk", _("the per-machine kiosk key store, unlocked with {path}")
                            .format(path=path))  # fmt: skip
        why = again
    return KeyStore("none", _("{problem}; the kiosk key store: {why}").format(
        problem=problem, why=why))  # fmt: skip


def _entry(fp: str) -> str:
    return f"recording-private-key:{fp}"


def store_private_in_keystore(private: X25519PrivateKey) -> str:
    problem = keystore_problem()
    if problem:
        raise KeyProblem(
            _(
                "{problem}. Start a key store, or use --private-out FILE with --passphrase-file"
            ).format(problem=problem)
        )
    keyring = _keyring()

    fp = fingerprint(private.public_key())
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    try:
        keyring.set_password(SERVICE, _entry(fp), base64.b64encode(raw).decode())
    except Exception as exc:
        raise KeyProblem(_("the OS key store refused the key ({exc})").format(exc=exc)) from None
    return fp


def load_private_from_keystore(fp: str) -> X25519PrivateKey:
    problem = keystore_problem()
    if problem:
        raise KeyProblem(
            _("{problem}; or give the private key file with --key").format(problem=problem)
        )
    keyring = _keyring()

    try:
        secret = keyring.get_password(SERVICE, _entry(fp))
    except Exception as exc:
        raise KeyProblem(_("the OS key store could not be read ({exc})").format(exc=exc)) from None
    if secret is None:
        raise KeyProblem(
            _("the private key {fp} is not in this machine's key store; use --key FILE").format(
                fp=fp
            )
        )
    return X25519PrivateKey.from_private_bytes(base64.b64decode(secret))


# ------------------------------------------------------------------ passphrase file


def write_private_file(private: X25519PrivateKey, path: Path, passphrase: bytes) -> None:
    if len(passphrase) < 8:
        raise KeyProblem(_("the passphrase must have at least 8 characters"))
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def load_private_file(path: Path, passphrase: bytes) -> X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except FileNotFoundError:
        raise KeyProblem(_("private key file not found: {path}").format(path=path)) from None
    except (ValueError, TypeError):
        raise KeyProblem(
            _("cannot open {path}: wrong passphrase or not a private key").format(path=path)
        ) from None
    if not isinstance(key, X25519PrivateKey):
        raise KeyProblem(_("{path} is not an X25519 recording private key").format(path=path))
    return key


# ------------------------------------------------------------------ other secrets


def store_secret(entry: str, value: str) -> None:
    """A secret of the agent's (PBX manager secret…) into the OS key store; no fallback."""
    problem = keystore_problem()
    if problem:
        raise KeyProblem(problem)
    keyring = _keyring()

    try:
        keyring.set_password(SERVICE, entry, value)
    except Exception as exc:
        raise KeyProblem(_("the OS key store refused the secret ({exc})").format(exc=exc)) from None


def load_optional_secret(entry: str) -> str | None:
    """A secret of the agent's, or None when the key store has no such entry."""
    problem = keystore_problem()
    if problem:
        raise KeyProblem(problem)
    keyring = _keyring()

    try:
        return keyring.get_password(SERVICE, entry)
    except Exception as exc:
        raise KeyProblem(_("the OS key store could not be read ({exc})").format(exc=exc)) from None


def load_secret(entry: str) -> str:
    value = load_optional_secret(entry)
    if value is None:
        raise KeyProblem(
            _("no secret '{entry}' in the key store: run 'agentapp source secret'").format(
                entry=entry
            )
        )
    return value
