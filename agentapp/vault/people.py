"""A trainee's own folder at the site: `<site>/people/<login>/`, made by them on their desk,
theirs alone (owned by their login, writable by no one else). It holds their public key
(`key.pem`, for the recordings a trainer shares with them: vault/grants.py) and their
self-reviews of those recordings (sealed analyses, vault/analyses.py).

`people/` itself is sticky (IT makes it 1777): anyone may make a folder there and no one may
touch another's. Whose a folder or a file is comes from the file system, checked each time it
is read, never from what the file says: a key or a self-review planted under someone else's
name is refused.

Threading: plain functions.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from agentapp.core.names import shown
from agentapp.files.datafolder import PEOPLE
from agentapp.i18n import _
from agentapp.vault.grants import GrantError, is_login
from agentapp.vault.store import write_atomic

KEY = "key.pem"


def folder_of(site: Path, login: str) -> Path:
    if not is_login(login):
        raise GrantError(_("{name} is not a login name").format(name=shown(login)))
    return site / PEOPLE / login


def make_own_folder(site: Path, login: str) -> Path:
    """This person's folder at the site (made if need be: 0755, theirs)."""
    folder = folder_of(site, login)
    try:
        folder.mkdir(mode=0o755, exist_ok=True)
    except OSError as exc:
        raise GrantError(
            _(
                "your folder at the site cannot be made ({exc}): IT makes {people} with mode 1777"
            ).format(exc=exc, people=folder.parent)
        ) from None
    return folder


def register_key(site: Path, login: str, public: X25519PublicKey) -> Path:
    """Write this person's public key into their own folder at the site (0644)."""
    path = make_own_folder(site, login) / KEY
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        write_atomic(path, pem, mode=0o644)
    except OSError as exc:
        raise GrantError(
            _("your key cannot be registered at the site ({exc})").format(exc=exc)
        ) from None
    return path


def uid_of(login: str) -> int:
    try:
        return pwd.getpwnam(login).pw_uid
    except KeyError:
        raise GrantError(_("{login} has no account on this machine").format(login=login)) from None


def theirs_alone(st: os.stat_result, uid: int) -> bool:
    """Owned by `uid`, and no one else may write it."""
    return st.st_uid == uid and not st.st_mode & 0o022


def own_folder(site: Path, login: str) -> Path | None:
    """`login`'s folder at the site, if it is a folder (not a link) that is theirs alone."""
    folder = folder_of(site, login)
    try:
        st = os.lstat(folder)
    except OSError:
        return None
    return folder if stat.S_ISDIR(st.st_mode) and theirs_alone(st, uid_of(login)) else None


def registered_key(site: Path, login: str) -> X25519PublicKey:
    """The key `login` registered, if its folder and its file are theirs alone (a key planted
    by someone else would give them the recording)."""
    uid = uid_of(login)
    folder = folder_of(site, login)
    try:
        st = os.lstat(folder)
        fd = os.open(folder / KEY, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # (a FIFO)
    except OSError:
        raise GrantError(
            _(
                "{login} has not registered a key at the site yet (on their desk: agentapp share "
                "key)"
            ).format(login=login)
        ) from None
    with os.fdopen(fd, "rb") as f:
        fst = os.fstat(f.fileno())
        if not (stat.S_ISDIR(st.st_mode) and theirs_alone(st, uid) and stat.S_ISREG(fst.st_mode)
                and theirs_alone(fst, uid)):  # fmt: skip
            raise GrantError(
                _(
                    "the key registered for {login} is not theirs alone (its owner or its "
                    "permissions): they must register it again"
                ).format(login=login)
            )
        data = f.read(4096)
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        key = None
    if not isinstance(key, X25519PublicKey):
        raise GrantError(_("the key registered for {login} is not a key").format(login=login))
    return key


def folders(site: Path) -> list[tuple[str, Path]]:
    """(login, folder) of every folder under people/ that is its login's alone."""
    root = site / PEOPLE
    if not root.is_dir():
        return []
    out = []
    for entry in sorted(root.iterdir()):
        if is_login(entry.name):
            try:
                folder = own_folder(site, entry.name)
            except GrantError:  # no such login here: nobody's
                continue
            if folder is not None:
                out.append((entry.name, folder))
    return out
