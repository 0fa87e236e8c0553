"""A recording shared with its own agent, for their own review on their desk (R7: trainees see
their own recordings).

The recording stays sealed for the site's recording key. A trainer who holds that key gives
each of its sealed files' data keys to the trainee's own key (vault/sealing.py `slip_for`):
the grant. The trainee's key pair is made on their desk, its private half in their key store;
its public half is registered in their own folder at the site (vault/people.py). Only
the grant's slips open anything: another agent's recording, or one not shared, has no slip
for this person's key, whatever a file in the shared folder says. Withdrawing the grant (or
the recording's purge) removes the slips.

Layout in the site folder:

    grants/<recording id>/<login>.json   the grant: who shared it, when, until, the slips

Threading: plain functions and methods, from one thread at a time.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from agentapp.core.errors import Refusal
from agentapp.core.names import is_recording_id, is_safe_component, is_segment_name, shown
from agentapp.i18n import _
from agentapp.vault.sealing import SealError, fingerprint, slip_for
from agentapp.vault.store import RecordingMeta, Vault, remove_for_good, write_atomic

DESCRIPTION = "description.seal"  # a teaching example's description (vault/examples.py)
MAX_GRANT = 4_000_000  # bytes: a grant of a 4-hour call (about 500 segments) is ~150 kB
LOGIN = re.compile(r"[a-z_][a-z0-9_.-]{0,31}\$?", re.IGNORECASE)  # a POSIX login name


class GrantError(Refusal):
    """A grant that cannot be made, read or used: one line for the person."""


@dataclass(frozen=True, slots=True)
class Grant:
    recording: str
    agent: str  # the trainee it is for (the recording's own agent, or a teaching example's viewer)
    kid: str  # the fingerprint of the trainee's key the slips are for
    by: str  # the trainer who shared it
    at: float
    until: float  # the recording's deadline: the grant goes with it
    slips: dict[str, dict[str, str]] = field(default_factory=dict)  # sealed file name → slip


def is_login(name: object) -> bool:
    return isinstance(name, str) and is_safe_component(name) and LOGIN.fullmatch(name) is not None


class Grants:
    def __init__(self, site: Path) -> None:
        self.root = site / "grants"

    def _path(self, rid: str, login: str) -> Path:
        if not is_recording_id(rid) or not is_login(login):
            raise GrantError(_("no grant for {rid}").format(rid=shown(rid)))
        return self.root / rid / f"{login}.json"

    def make(
        self,
        vault: Vault,
        meta: RecordingMeta,
        private: X25519PrivateKey,
        trainee: X25519PublicKey,
        by: str,
        now: float,
        viewer: str | None = None,
    ) -> Grant:
        """Slips for every sealed file of `meta` (segments, the attached voice, a teaching
        example's description) for the key `trainee` of `viewer` (default: the recording's
        own agent); written, replacing an earlier grant."""
        viewer = viewer or meta.agent
        files = [*vault.sealed_files(meta.id), vault.folder(meta.id) / DESCRIPTION]
        slips = {}
        for path in (p for p in files if p.is_file()):
            try:
                slips[path.name] = slip_for(path.read_bytes(), private, trainee)
            except (OSError, SealError) as exc:
                raise GrantError(
                    _("{name} cannot be shared: {exc}").format(name=path.name, exc=exc)
                ) from None
        if not slips:
            raise GrantError(_("recording {id} has no sealed segment").format(id=meta.id))
        grant = Grant(meta.id, viewer, fingerprint(trainee), by, now, meta.purge_after, slips)
        path = self._path(meta.id, viewer)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        write_atomic(path, json.dumps(asdict(grant)).encode(), mode=0o644)
        return grant

    def withdraw(self, rid: str, login: str) -> bool:
        path = self._path(rid, login)
        if not path.exists():
            return False
        remove_for_good(path)
        try:
            path.parent.rmdir()
        except OSError:
            pass  # another person's grant on it is still there
        return True

    def get(self, rid: str, login: str) -> Grant | None:
        return _read(self._path(rid, login), rid, login)

    def for_person(self, login: str) -> list[Grant]:
        """The grants made for `login`, well-formed and naming them (others are skipped)."""
        if not is_login(login) or not self.root.is_dir():
            return []
        out = []
        for folder in sorted(self.root.iterdir()):
            if is_recording_id(folder.name):
                g = _read(folder / f"{login}.json", folder.name, login)
                if g is not None:
                    out.append(g)
        return out

    def all(self) -> list[tuple[str, str]]:
        """(recording id, login) of every grant file (for the purge)."""
        if not self.root.is_dir():
            return []
        return [(f.name, p.stem) for f in sorted(self.root.iterdir()) if is_recording_id(f.name)
                for p in sorted(f.glob("*.json")) if is_login(p.stem)]  # fmt: skip


def _read(path: Path, rid: str, login: str) -> Grant | None:
    """A grant file, checked: its size, its fields' types, that it names this recording and
    this person, that its slips name sealed files; None otherwise (or when there is none)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            data = json.loads(f.read(MAX_GRANT + 1)[:MAX_GRANT])
        g = Grant(**data)
    except (OSError, ValueError, TypeError):
        return None
    slips_ok = isinstance(g.slips, dict) and all(
        (is_segment_name(name) or name == DESCRIPTION) and isinstance(s, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in s.items())
        for name, s in g.slips.items()
    )  # fmt: skip
    fields_ok = all(isinstance(v, str) for v in (g.kid, g.by)) and all(
        isinstance(v, int | float) for v in (g.at, g.until)
    )
    if (g.recording, g.agent) != (rid, login) or not slips_ok or not fields_ok:
        return None
    return g
