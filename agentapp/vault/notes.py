"""Trainers' analysis notes on a recording: sealed like the video, kept 1 year at most (R9).

Layout under `<data dir>/notes/` (folder 0700, files 0600):

    <note id>.json   who wrote it, when, about which recording and training, purge deadline
    <note id>.seal   the text, sealed for the recording public key

Threading: plain methods, called from one thread at a time.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from agentapp.core.names import is_note_id, shown
from agentapp.i18n import _
from agentapp.vault.sealing import SealError, seal, unseal
from agentapp.vault.store import VaultError, remove_for_good, write_atomic

MAX_NOTE = 20_000  # characters


@dataclass(slots=True)
class NoteMeta:
    id: str
    recording: str
    training: str
    author: str
    created_at: float
    purge_after: float
    at_s: float | None = None  # the moment of the recording it is about (None: the whole)


class NotesStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def add(
        self,
        recording: str,
        training: str,
        author: str,
        text: str,
        public_key: X25519PublicKey,
        now: float,
        retention_days: int,
        at_s: float | None = None,
    ) -> NoteMeta:
        if not text.strip():
            raise VaultError(_("the note is empty"))
        if len(text) > MAX_NOTE:
            raise VaultError(
                _("the note is longer than {MAX_NOTE} characters").format(MAX_NOTE=MAX_NOTE)
            )
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        nid = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%dT%H%M%SZ-n")
        nid += secrets.token_hex(4)
        meta = NoteMeta(nid, recording, training, author, now, now + retention_days * 86400,
                        None if at_s is None else round(max(0.0, at_s), 2))  # fmt: skip
        write_atomic(self.root / f"{nid}.seal", seal(text.encode(), public_key, {"note": nid}))
        write_atomic(self.root / f"{nid}.json", json.dumps(asdict(meta)).encode())
        return meta

    def notes(self) -> list[NoteMeta]:
        out = []
        for path in sorted(self.root.glob("*.json")) if self.root.exists() else []:
            try:
                note = NoteMeta(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue
            if note.id == path.stem and is_note_id(note.id):  # never a path elsewhere
                out.append(note)
        return out

    def path(self, nid: str, suffix: str) -> Path:
        """The note's file; VaultError when `nid` is not a note id (core/names.py)."""
        if not is_note_id(nid):
            raise VaultError(_("no note {nid}: not a note id").format(nid=shown(nid)))
        return self.root / f"{nid}{suffix}"

    def read(self, nid: str, private: X25519PrivateKey) -> str:
        try:
            header, plain = unseal(self.path(nid, ".seal").read_bytes(), private)
        except (OSError, SealError) as exc:
            raise VaultError(
                _("note {nid} cannot be opened: {exc}").format(nid=nid, exc=exc)
            ) from None
        if header.get("ctx") != {"note": nid}:
            raise VaultError(_("note {nid} holds another note's text (tampered?)").format(nid=nid))
        return plain.decode()

    def delete(self, nid: str) -> None:
        """Metadata first, so a stop half-way leaves only ciphertext that purge removes."""
        remove_for_good(self.path(nid, ".json"))
        remove_for_good(self.path(nid, ".seal"))

    def orphans(self) -> list[Path]:
        """Sealed texts whose metadata is gone (a stop during a delete)."""
        return [p for p in self.root.glob("*.seal") if not p.with_suffix(".json").exists()]
