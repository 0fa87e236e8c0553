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
from typing import Generic, TypeVar

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from agentapp.core.names import is_note_id, shown
from agentapp.i18n import N_, _
from agentapp.vault.sealing import SealError, seal, unseal
from agentapp.vault.store import VaultError, remove_for_good, write_atomic

MAX_NOTE = 20_000  # characters


@dataclass(slots=True)
class DocMeta:
    """What every sealed document's metadata holds."""

    id: str
    recording: str
    training: str
    author: str
    created_at: float
    purge_after: float


@dataclass(slots=True)
class NoteMeta(DocMeta):
    at_s: float | None = None  # the moment of the recording it is about (None: the whole)


M = TypeVar("M", bound=DocMeta)


class SealedDocs(Generic[M]):
    """Documents of one kind in one folder: metadata `<id>.json` beside its sealed text
    `<id>.seal`, whose header names the document (`ctx`: {kind: id}), so that a text moved
    under another document's name is refused. Ids are checked before they become paths."""

    kind = "note"
    meta_type: type[M]
    # (the words for each kind, so that each language can say them its own way)
    not_an_id = N_("no note {id}: not a note id")
    unreadable = N_("note {id} cannot be opened: {exc}")
    swapped = N_("note {id} holds another note's text (tampered?)")

    def __init__(self, root: Path) -> None:
        self.root = root

    def _valid_id(self, did: object) -> bool:
        return is_note_id(did)

    def _new_id(self, now: float) -> str:
        """The document's UTC time of writing, then its kind's letter and 8 random digits."""
        did = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y%m%dT%H%M%SZ-")
        return did + self.kind[0] + secrets.token_hex(4)

    def _write(self, meta: M, plain: bytes, public_key: X25519PublicKey) -> M:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        did = meta.id
        write_atomic(self.root / f"{did}.seal", seal(plain, public_key, {self.kind: did}))
        write_atomic(self.root / f"{did}.json", json.dumps(asdict(meta)).encode())
        return meta

    def metas(self) -> list[M]:
        out = []
        for path in sorted(self.root.glob("*.json")) if self.root.exists() else []:
            try:
                found = self.meta_type(**json.loads(path.read_text()))
            except (OSError, ValueError, TypeError):
                continue
            did = getattr(found, "id", None)
            if did == path.stem and self._valid_id(did):  # never a path elsewhere
                out.append(found)
        return out

    def path(self, did: str, suffix: str) -> Path:
        """The document's file; VaultError when `did` is not an id of this kind."""
        if not self._valid_id(did):
            raise VaultError(_(self.not_an_id).format(id=shown(did)))
        return self.root / f"{did}{suffix}"

    def _read(self, did: str, private: X25519PrivateKey) -> bytes:
        try:
            header, plain = unseal(self.path(did, ".seal").read_bytes(), private)
        except (OSError, SealError) as exc:
            raise VaultError(_(self.unreadable).format(id=did, exc=exc)) from None
        if header.get("ctx") != {self.kind: did}:
            raise VaultError(_(self.swapped).format(id=did))
        return plain

    def delete(self, did: str) -> None:
        """Metadata first, so a stop half-way leaves only ciphertext that purge removes."""
        remove_for_good(self.path(did, ".json"))
        remove_for_good(self.path(did, ".seal"))

    def orphans(self) -> list[Path]:
        """Sealed texts whose metadata is gone (a stop during a delete)."""
        return [p for p in self.root.glob("*.seal") if not p.with_suffix(".json").exists()]


class NotesStore(SealedDocs[NoteMeta]):
    meta_type = NoteMeta

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
        nid = self._new_id(now)
        meta = NoteMeta(nid, recording, training, author, now, now + retention_days * 86400,
                        None if at_s is None else round(max(0.0, at_s), 2))  # fmt: skip
        return self._write(meta, text.encode(), public_key)

    def notes(self) -> list[NoteMeta]:
        return self.metas()

    def read(self, nid: str, private: X25519PrivateKey) -> str:
        return self._read(nid, private).decode()
