"""A per-machine key store for desks that have no login key store (autologin, kiosks): IT
gives the desk's account a random secret (`agentapp machine kiosk-keystore USER`), kept in
`<system dir>/kiosk/USER.secret`, owned by that account, 0600; at start, the agent (and
doctor) unlocks gnome-keyring with it, on the session bus, when no key store answers.

The trust is the login key store's: what the account can open, the account's user can (R8's
trail key and R12's recording keys are the desk user's either way; the site hub is where
a trail no desk can rewrite belongs). A secret anyone else can read is refused.

Threading: plain functions, on the caller's thread (the agent's start, doctor).
"""

from __future__ import annotations

import base64
import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

from agentapp.core.errors import Refusal
from agentapp.i18n import _


class KioskError(Refusal):
    pass


def secret_path(system: Path, user: str) -> Path:
    return system / "kiosk" / f"{user}.secret"


def login_name() -> str:
    """The OS account this process runs as (not AGENTAPP_USER: the secret is the account's)."""
    return pwd.getpwuid(os.getuid()).pw_name


def provision(system: Path, user: str) -> tuple[Path, bool]:
    """The account's secret (made if missing; IT, as root). (path, made now)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise KioskError(_("no account named {user} on this machine").format(user=user)) from None
    if os.geteuid() != 0:
        raise KioskError(_("only root can give an account a kiosk key store (run it with sudo)"))
    folder = system / "kiosk"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o711)  # each account finds its own file, lists none
    path = secret_path(system, user)
    if path.exists():
        os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(path, 0o600)
        return path, False
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secret)
        os.fchown(fd, entry.pw_uid, entry.pw_gid)
    finally:
        os.close(fd)
    return path, True


def remove(system: Path, user: str) -> bool:
    path = secret_path(system, user)
    if not path.exists():
        return False
    path.unlink()
    return True


def secret_problem(path: Path) -> str | None:
    """None when `path` is this account's secret, readable by it alone."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return _("no kiosk key store for this account ({path})").format(path=path)
    if not path.is_file() or path.is_symlink():
        return _("{path} is not a plain file: refused").format(path=path)
    if st.st_uid != os.getuid():
        return _("{path} belongs to another account: refused").format(path=path)
    if st.st_mode & 0o077:
        return _("{path} can be read by others than its account: refused (chmod 600)").format(
            path=path
        )
    return None


def unlock(path: Path) -> str | None:
    """Start (or unlock) gnome-keyring's Secret Service on this session's bus with the
    secret at `path`; None when done, else why not."""
    problem = secret_problem(path)
    if problem:
        return problem
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return _("no session bus to start the key store on (not in a desktop session)")
    daemon = shutil.which("gnome-keyring-daemon")
    if daemon is None:
        return _("gnome-keyring is not installed (apt-get install gnome-keyring)")
    try:
        # --replace: D-Bus may have started one on demand already, holding no login keyring
        r = subprocess.run([daemon, "--replace", "--unlock", "--components=secrets"],
                           input=path.read_bytes(),
                           capture_output=True, timeout=15, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return _("gnome-keyring did not start: {exc}").format(exc=exc)
    if r.returncode != 0:
        return _("gnome-keyring did not start: {err}").format(
            err=r.stderr.decode(errors="replace").strip()[:200] or r.returncode
        )
    return None
