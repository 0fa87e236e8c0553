"""A data folder no one else controls (R12): checked before agentapp reads or writes in it.

Another user who can write into the data folder, or into a folder above it, or who owns a
part of it, could swap in their own recording key, redirect recordings or the hook socket
through a symbolic link, or rewrite the trail. So agentapp refuses, with one line saying
what is wrong, a data folder when:

* it, or anything in it (one level into its sub-folders: recordings, run, keys, notes), is
  a symbolic link, belongs to another user, or can be written by group or others;
* a folder above it belongs to a user other than root and its owner, or can be written by
  others without the sticky bit (/tmp has it: others cannot rename what is ours there).

A folder of ours that others can merely read is made private (0700) instead: nothing is lost.

One part is meant for others to write: a site folder's `people/`, where each trainee puts
their own public key (vault/grants.py). It is left out when it is a folder of ours (or
root's) with the sticky bit, so that no one can replace another's file there; whose each key
file is, is checked when a trainer shares a recording, never assumed.
POSIX only; on Windows the installer sets the folder's ACLs.

Only `os` is used, so that the hook command (agentapp/telephony/hookcli.py) can ask too. Threading:
plain functions.
"""

from __future__ import annotations

import os
import stat

from agentapp.core.errors import Refusal
from agentapp.i18n import _


class UnsafeFolder(Refusal):
    """The data folder could be changed by someone else: agentapp will not use it."""


def problem(root: str, deep: bool = True) -> str | None:
    """What makes `root` unsafe, in a few words, or None (creating it, 0700, when missing).
    `deep` False looks only at the folder, the folders above it and its run/ (the hook). A
    folder that cannot be looked at is unsafe, said with the system's reason."""
    try:
        return _problem(root, deep)
    except OSError as exc:
        return f"it cannot be checked ({exc.strerror or exc})"


def _problem(root: str, deep: bool) -> str | None:
    if os.name != "posix":
        return None
    uid = os.geteuid()
    root = os.path.abspath(root)
    why = _parents(os.path.dirname(root), uid)
    if why:
        return why
    if os.path.islink(root):
        return f"{root} is a symbolic link"
    os.makedirs(root, mode=0o700, exist_ok=True)
    top = os.lstat(root)
    why = _own(root, top, uid)
    if why:
        return why
    if stat.S_IMODE(top.st_mode) & 0o077:
        os.chmod(root, 0o700)
    names = os.listdir(root) if deep else [n for n in ("run",) if os.path.lexists(f"{root}/run")]
    for name in names:
        path = os.path.join(root, name)
        st = _still_there(path)
        if st is None or (name == PEOPLE and _sticky_folder(st, uid)):
            continue
        why = _part(path, st, uid)
        if why:
            return why
        if stat.S_ISDIR(st.st_mode):
            for sub in _names(path):
                sub_st = _still_there(os.path.join(path, sub))
                why = None if sub_st is None else _part(os.path.join(path, sub), sub_st, uid)
                if why:
                    return why
    return None


# The agent writes its files by a temporary one renamed into place, while the hook and the
# commands check the folder: a name listed and gone before it is looked at was no danger, and
# what replaced it is looked at by the next check.
def _still_there(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _names(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


def check(root: str, deep: bool = True) -> None:
    """Raises UnsafeFolder with the line to show."""
    why = problem(root, deep)
    if why:
        raise UnsafeFolder(
            _(
                "the data folder {root} is not safe to use: {why}. Nothing is "
                "recorded or read until it is fixed (ask IT)"
            ).format(root=root, why=why)
        )


PEOPLE = "people"  # a site's trainees' public keys (vault/grants.py)


def _sticky_folder(st: os.stat_result, uid: int) -> bool:
    return stat.S_ISDIR(st.st_mode) and st.st_uid in (0, uid) and bool(st.st_mode & stat.S_ISVTX)


def _parents(folder: str, uid: int) -> str | None:
    while not os.path.lexists(folder):  # to be made: what matters is what is there already
        folder = os.path.dirname(folder)
    while True:
        st = os.stat(folder)  # a link above is the system's layout (/var -> ...), not a part
        mode = stat.S_IMODE(st.st_mode)
        if st.st_uid not in (0, uid):
            return f"the folder above it, {folder}, belongs to another user ({_name(st.st_uid)})"
        if mode & 0o002 and not mode & stat.S_ISVTX:
            return f"the folder above it, {folder}, can be changed by anyone (mode {mode:04o})"
        if mode & 0o020 and st.st_gid != os.getegid() and not mode & stat.S_ISVTX:
            return f"the folder above it, {folder}, can be changed by its group (mode {mode:04o})"
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _own(path: str, st: os.stat_result, uid: int) -> str | None:
    if st.st_uid != uid:
        return f"{path} belongs to another user ({_name(st.st_uid)})"
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        return f"{path} can be changed by other users (mode {mode:04o})"
    return None


def _part(path: str, st: os.stat_result, uid: int) -> str | None:
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link"
    if stat.S_ISSOCK(st.st_mode) and st.st_uid == uid:
        return None  # a socket's mode bits say who may connect; its folder (0700) decides
    return _own(path, st, uid)


def _name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"
