"""Coaching records (core/coaching.py): sealed like notes for the recording key, in
`<data dir>/coaching/`, kept a year at most from their writing (R9) whatever becomes of the
recording; and the acts on them, checked and traced through the person's Review like every
review act (the training's trainers only).

A record's PDF for the session (ui/coaching_pdf.py) is text only, written to a new file the
person names, and listed in the exports index with the record's deadline at most, so that the
purge removes it (vault/exports.py).

Threading: the caller's (one Review per thread).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from agentapp.core.access import Action, RecordingRef, refusal
from agentapp.core.analysis import AnalysisError
from agentapp.core.coaching import Coaching, check_session, coaching, from_record, to_document
from agentapp.core.names import is_coaching_id, shown
from agentapp.i18n import N_, _
from agentapp.vault.exports import ExportRecord, this_host
from agentapp.vault.notes import DocMeta, SealedDocs
from agentapp.vault.review import KeyFor, Review, ReviewError, reason_of
from agentapp.vault.store import VaultError


@dataclass(slots=True)
class CoachingMeta(DocMeta):
    trainee: str = ""
    session: str = ""  # ISO date


class CoachingStore(SealedDocs[CoachingMeta]):
    kind = "coaching"
    meta_type = CoachingMeta
    not_an_id = N_("no coaching record {id}: not a coaching record id")
    unreadable = N_("coaching record {id} cannot be opened: {exc}")
    swapped = N_("coaching record {id} holds another record (tampered?)")

    def _valid_id(self, did: object) -> bool:
        return is_coaching_id(did)

    def add(
        self, c: Coaching, author: str, key: X25519PublicKey, now: float, days: int
    ) -> CoachingMeta:
        meta = CoachingMeta(self._new_id(now), c.recording, c.training, author, now,
                            now + days * 86400, c.trainee, c.session.isoformat())  # fmt: skip
        plain = json.dumps(to_document(c), ensure_ascii=False).encode()
        return self._write(meta, plain, key)

    def read(self, cid: str, private: X25519PrivateKey) -> Coaching:
        try:
            found = from_record(json.loads(self._read(cid, private)))
        except (ValueError, AnalysisError) as exc:
            raise VaultError(
                _("coaching record {id} cannot be read: {exc}").format(id=cid, exc=exc)
            ) from None
        meta = next((m for m in self.metas() if m.id == cid), None)
        if meta is None or (meta.recording, meta.training) != (found.recording, found.training):
            raise VaultError(_(self.swapped).format(id=cid))
        return found


def add_record(
    review: Review,
    store: CoachingStore,
    rid: str,
    analyses: tuple[str | None, str | None],
    next_steps: str,
    session: dt.date,
    key_for: KeyFor,
    key: X25519PublicKey,
    days: int,
) -> CoachingMeta:
    """A trainer of the recording's training writes the record of a session: the trainer's
    analysis and the trainee's self-review given by id (each read, so traced), the next
    steps, the session's date."""
    meta = review.allowed(Action.ANALYSIS, rid)
    try:
        check_session(dt.datetime.fromtimestamp(meta.started_at, dt.UTC).date(), session,
                      dt.date.today())  # fmt: skip
    except AnalysisError as exc:
        raise ReviewError(str(exc)) from None
    why = f"coaching session of {session.isoformat()}"  # (the trail keeps one wording)
    mine, theirs = (review.read_analysis(a, why, key_for) if a else None for a in analyses)
    try:
        record = coaching(meta.id, meta.training, meta.agent, session, next_steps, mine, theirs)
    except AnalysisError as exc:
        raise ReviewError(_("coaching record not saved: {exc}").format(exc=exc)) from None
    review.trace("add coaching record", meta.id, f"session of {session.isoformat()}")
    try:
        return store.add(record, review.who.name, key, time.time(), days)
    except (OSError, VaultError) as exc:
        raise ReviewError(_("coaching record not saved: {exc}").format(exc=exc)) from None


def records(review: Review, store: CoachingStore) -> list[CoachingMeta]:
    """The records of the trainings the person trains; the listing is traced."""
    out = [
        m
        for m in store.metas()
        if refusal(review.who, Action.ANALYSIS, RecordingRef("", m.training)) is None
    ]
    review.trace("list coaching records", f"{len(out)} record(s)")
    return out


def read_record(
    review: Review, store: CoachingStore, cid: str, reason: str | None, key_for: KeyFor
) -> tuple[CoachingMeta, Coaching]:
    """One record, decrypted in memory, for a trainer of its training; traced first."""
    reason = reason_of(reason)
    found = [m for m in store.metas() if m.id == cid]
    if not found:
        raise ReviewError(_("no coaching record {id}").format(id=shown(cid)))
    why = refusal(review.who, Action.ANALYSIS, RecordingRef("", found[0].training))
    if why:
        raise review.refuse(Action.ANALYSIS, cid, why, f"read coaching record {cid}")
    review.trace("view coaching record", cid, reason)
    try:
        return found[0], store.read(cid, key_for(store.path(cid, ".seal")))
    except Exception as exc:  # the key store, tampering: one line
        raise ReviewError(
            _("cannot read coaching record {id}: {exc}").format(id=cid, exc=exc)
        ) from None


def list_pdf(review: Review, meta: CoachingMeta, out: Path) -> None:
    """Before the PDF is written: listed with the record's deadline (the purge removes it,
    at six months from its writing at most, like any export) and traced."""
    record = ExportRecord(str(out), meta.recording, meta.created_at, meta.purge_after,
                          review.who.name, this_host(), time.time())  # fmt: skip
    try:
        review.exports.add(record)
    except OSError as exc:
        raise ReviewError(_("the PDF cannot be listed: {exc}").format(exc=exc)) from None
    review.trace("export file", str(out), f"coaching record {meta.id}")
