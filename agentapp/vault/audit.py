"""The tamper-evident audit trail (docs/rules.md R8): who did what, when and why.

`<data dir>/audit.jsonl` on a desk, one hash-chained, HMAC-signed entry per line (see
core/auditchain.py). At a site (a shared folder several trainers review), each reviewer
writes a trail of their own, `<site>/audit/<person>-<key id>.jsonl` (`ReviewerTrail`): one
chain per signing key, so two trainers never break each other's chain, and `trails` lets
`audit verify` check every trail there and say whose is broken.

The signing key and the head (last sequence number and hash) live in the OS key store, so
an entry cannot be edited, removed, reordered or the log truncated without `agentapp audit
verify` saying where. Entries hold no video and no customer data: recording ids, actions,
names of people and the reasons they typed.

Every writer (agent, CLI) goes through `AuditLog.append`, which holds a file lock across
read-head → write-line → store-head, so processes never fork the chain.

Threading: an AuditLog may be shared between threads; appends are serialised by the lock.
"""

from __future__ import annotations

import base64
import datetime as dt
import getpass
import hashlib
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from agentapp.core.auditchain import Head, Verdict, head_of, parse_line, seal_entry, verify
from agentapp.core.errors import Refusal
from agentapp.files import layout
from agentapp.i18n import _
from agentapp.vault.filelock import locked
from agentapp.vault.store import append_durably

log = logging.getLogger(__name__)

AUDIT_FILE = layout.AUDIT
MAX_TEXT = 500  # a reason longer than this is cut: the trail is not a place for documents


class AuditError(Refusal):
    """The trail cannot be written or read. The message says why; the caller fails closed."""


class AuditKeys(Protocol):
    """Where the signing key and the head live (the OS key store in production)."""

    def key(self, create: bool = True) -> bytes: ...
    def head(self) -> Head | None: ...
    def set_head(self, head: Head) -> None: ...


class KeyringAuditKeys:
    """Signing key and head in the OS key store, named after the log's absolute path (or,
    for a reviewer's trail at a site, after the site and the person: `for_reviewer`)."""

    def __init__(self, log_path: Path, tag: str | None = None) -> None:
        tag = tag or hashlib.sha256(str(log_path.absolute()).encode()).hexdigest()[:16]
        self._key_entry = f"audit-key:{tag}"
        self._head_entry = f"audit-head:{tag}"
        self._key: bytes | None = None

    def key(self, create: bool = True) -> bytes:
        if self._key is None:
            from agentapp.vault.keys import KeyProblem, load_optional_secret, store_secret

            try:
                value = load_optional_secret(self._key_entry)
                if value is None and not create:
                    raise AuditError(_("the audit trail's signing key is not in this key store"))
                if value is None:
                    value = base64.b64encode(secrets.token_bytes(32)).decode()
                    store_secret(self._key_entry, value)
            except KeyProblem as exc:
                raise AuditError(
                    _("the audit trail cannot be signed: {exc}").format(exc=exc)
                ) from None
            self._key = base64.b64decode(value)
        return self._key

    @classmethod
    def for_reviewer(cls, site: Path, who: str) -> KeyringAuditKeys:
        tag = hashlib.sha256(f"site:{site.absolute()}:{who}".encode()).hexdigest()[:16]
        return cls(site, tag)

    def head(self) -> Head | None:
        from agentapp.vault.keys import KeyProblem, load_optional_secret

        try:
            value = load_optional_secret(self._head_entry)
        except KeyProblem as exc:
            raise AuditError(
                _("the audit trail's head cannot be read: {exc}").format(exc=exc)
            ) from None
        return None if value is None else Head.load(value)

    def set_head(self, head: Head) -> None:
        from agentapp.vault.keys import KeyProblem, store_secret

        try:
            store_secret(self._head_entry, head.dump())
        except KeyProblem as exc:
            raise AuditError(
                _("the audit trail's head cannot be stored: {exc}").format(exc=exc)
            ) from None


def login_name() -> str:
    """Who the OS says runs this process ($USER and $LOGNAME can be set by anyone)."""
    try:
        if os.name == "posix":
            import pwd

            return pwd.getpwuid(os.geteuid()).pw_name
        return getpass.getuser()
    except Exception:  # no login name (service without passwd entry)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


class AuditLog:
    def __init__(self, path: Path, keys: AuditKeys | None = None) -> None:
        self._path = path
        self.keys: AuditKeys = keys or KeyringAuditKeys(path)
        self._lock = threading.Lock()
        self._written: Head | None = None  # the head this object stored last

    @property
    def path(self) -> Path:
        return self._path

    @classmethod
    def in_dir(cls, data_dir: Path, keys: AuditKeys | None = None) -> AuditLog:
        return cls(data_dir / AUDIT_FILE, keys)

    def append(
        self, who: str, action: str, target: str = "", reason: str = "", role: str = "agent"
    ) -> dict[str, Any]:
        """Write one entry; raises AuditError (nothing written) when the trail is unusable."""
        fields = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            "who": who[:MAX_TEXT],
            "login": login_name(),
            "role": role,
            "action": action,
            "target": target[:MAX_TEXT],
            "reason": " ".join(reason.split())[:MAX_TEXT],
        }
        with self._lock, locked(self.path.with_name(self.path.name + ".lock")):
            key = self.keys.key()
            entry = seal_entry(key, self._last(), fields)
            line = _dumps(entry) + "\n"
            try:
                append_durably(self.path, line.encode())
            except OSError as exc:
                raise AuditError(
                    _("cannot write the audit trail {path}: {exc}").format(path=self.path, exc=exc)
                ) from None
            self.keys.set_head(head_of(entry))
            self._written = head_of(entry)
        return entry

    def trace(self, who: str, action: str, target: str, reason: str) -> None:
        """`append`, for a step that goes on when the trail cannot be written (a call, a
        notice read): the failure is logged, and `verify` shows the gap later."""
        try:
            self.append(who, action, target, reason)
        except AuditError as exc:
            log.error("not written to the audit trail (%s %s): %s", action, target, exc)

    def _last(self) -> Head | None:
        """The entry to chain after: the file's last line, or the head kept in the key store
        when that line is damaged or the file is gone (verify then reports the damage, and
        recording goes on being traced). When the file's last line is the entry this object
        wrote last, or a later one (another process appended), the key store is not asked:
        each question to a Secret Service costs a key exchange (about 15 ms of CPU here), and
        an agent appends a few entries at every call."""
        try:
            with open(self.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 8192))
                tail = f.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            tail = []
        except OSError as exc:
            raise AuditError(
                _("cannot read the audit trail {path}: {exc}").format(path=self.path, exc=exc)
            ) from None
        entry = parse_line(tail[-1]) if tail else None
        mine = self._written
        if entry is not None and mine is not None and entry["seq"] >= mine.seq:
            return head_of(entry)
        stored = self.keys.head()
        if entry is not None and (stored is None or entry["seq"] >= stored.seq):
            return head_of(entry)
        return stored

    def lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise AuditError(
                _("cannot read the audit trail {path}: {exc}").format(path=self.path, exc=exc)
            ) from None

    def entries(self) -> list[dict[str, Any]]:
        """Well-formed entries (verify first to know they are authentic)."""
        return [e for e in (parse_line(line) for line in self.lines()) if e is not None]

    def verify(self) -> Verdict:
        lines, head = self.lines(), self.keys.head()
        if isinstance(self.keys, _ChainOnly):
            return verify(lines, None, None)
        if not lines and head is None:
            return Verdict(True, 0)
        return verify(lines, self.keys.key(create=False), head)


def key_id(key: bytes) -> str:
    """A short name for a signing key (a hash of it: the key itself never leaves the store)."""
    return hashlib.sha256(b"agentapp audit key id\0" + key).hexdigest()[:8]


def is_site(folder: Path) -> bool:
    """A site's shared folder (it holds the signed site policy), not a desk's data folder."""
    return layout.site_policy(folder).is_file()


class ReviewerTrail(AuditLog):
    """One reviewer's own trail at a site: `<site>/audit/<person>-<key id>.jsonl`, signed
    with a key of their key store named after the site and the person. The file is named on
    first use (its key id needs the key: made then if this key store has none)."""

    def __init__(self, site: Path, who: str, keys: AuditKeys | None = None) -> None:
        super().__init__(layout.site_trails(site), keys or KeyringAuditKeys.for_reviewer(site, who))
        self.site, self.who = site, who
        self._named = False

    @property
    def path(self) -> Path:
        if not self._named:
            person = re.sub(r"[^A-Za-z0-9._-]+", "_", self.who).strip("._")[:48] or "someone"
            folder = layout.site_trails(self.site)
            try:
                folder.mkdir(exist_ok=True)
            except OSError as exc:
                raise AuditError(
                    _("cannot write the audit trail in {folder}: {exc}").format(
                        folder=folder, exc=exc
                    )
                ) from None
            self._path = folder / f"{person}-{key_id(self.keys.key())}.jsonl"
            self._named = True
        return self._path


def trail_for(folder: Path, who: str) -> AuditLog:
    """The trail `who` writes to when working on `folder`: their own at a site, else the
    desk's (the agent and the desk's own commands share one key store)."""
    return ReviewerTrail(folder, who) if is_site(folder) else AuditLog.in_dir(folder)


@dataclass(frozen=True, slots=True)
class Trail:
    name: str  # the trail's file name without .jsonl (<person>-<key id>); "" on a desk
    log: AuditLog


def trails(log: AuditLog) -> list[Trail]:
    """Every trail `log`'s reader may check: at a site all of them (`log`'s own verified
    with its key and head, the others' chains only: their keys are in their owners' key
    stores; one written before per-reviewer trails, `<site>/audit.jsonl`, like a desk's, with
    this key store); on a desk its one trail."""
    if not isinstance(log, ReviewerTrail):
        return [Trail("", log)]
    mine = log.path
    old = log.site / AUDIT_FILE
    paths = ([old] if old.exists() else []) + sorted(layout.site_trails(log.site).glob("*.jsonl"))
    return [
        Trail(
            path.stem,
            log if path == mine else AuditLog(path, None if path == old else _ChainOnly()),
        )
        for path in paths
    ]


def chain_only(path: Path) -> AuditLog:
    """A trail whose signing key is in someone else's key store: its chain can be checked
    and its entries read, nothing written."""
    return AuditLog(path, _ChainOnly())


class _ChainOnly:
    """Keys for a trail whose signing key is elsewhere: verify checks its chain only."""

    def key(self, create: bool = True) -> bytes:
        raise AuditError(_("this trail is signed in another person's key store"))

    def head(self) -> Head | None:
        return None

    def set_head(self, head: Head) -> None:
        raise AuditError(_("this trail is signed in another person's key store"))


def _dumps(entry: dict[str, Any]) -> str:
    import json

    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
