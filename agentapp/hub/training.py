"""The training's documents at the hub: a trainer's analysis, the trainee's own review, the
coaching record, and the sharing of a recording with its trainee (schema.sql, "the training's
documents"). The writer's client seals each document here for the site's recording key (the
hub stores ciphertext only) and a shared recording's slips for the trainee's own key; the hub
fills in whose it is, which training, who wrote it, when, and its year, and decides who may
write and read (its functions and row-level security): the trainee their own rows, the
trainers their trainings', the DPO and IT every row without its sealed part.

Threading: plain functions on the caller's connection.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from agentapp.hub.admin import refused
from agentapp.hub.connect import HubError, one_row
from agentapp.i18n import _

if TYPE_CHECKING:
    from agentapp.hub.admin import HubRecording
    from agentapp.vault.sealing import SlipKeys
    from agentapp.vault.store import RecordingMeta

DOC_KINDS = ("analysis", "self-review", "coaching")
MAX_SEALED = 200_000  # bytes of one sealed document (the table's bound)
MAX_SLIPS = 1_000_000  # bytes of one grant's slips
MAX_SLIP = 4_000  # bytes of one document's slip
DOC_COLUMNS = "id, kind, recording_id, agent, training, author, written_at, purge_after"


@dataclass(frozen=True, slots=True)
class HubDocument:
    id: int
    kind: str
    recording_id: str
    agent: str
    training: str
    author: str
    written_at: dt.datetime
    purge_after: dt.datetime
    sealed: bytes | None  # None when read as metadata (`documents`)
    slip: dict[str, str] | None = None  # a coaching record given to its trainee: their slip


@dataclass(frozen=True, slots=True)
class HubGrant:
    recording_id: str
    viewer: str
    training: str
    granted_by: str
    granted_at: dt.datetime
    slips: list[dict[str, str]] | None  # None when read as metadata


@contextmanager
def _asking(db: Any, what: str) -> Iterator[None]:
    """One request: committed, or refused in one line with its transaction rolled back (the
    same connection then serves the person's next request)."""
    try:
        with refused(what):
            yield
            db.commit()
    except HubError:
        db.rollback()
        raise


def _context(kind: str, rid: str) -> dict[str, str]:
    return {f"hub {kind}": rid}


def trace(db: Any, action: str, target: str, reason: str) -> None:
    """An act of this login on the hub's trail (its name is the hub's, not the client's)."""
    with _asking(db, _("trace {action}").format(action=action)):
        db.execute("SELECT agentapp.audit_append(%s, %s, %s)", (action, target, reason))


def register_key(db: Any, public: X25519PublicKey) -> None:
    """The trainee's own public key, registered by their own login (traced when it is new)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    with _asking(db, _("register your key")):
        db.execute("SELECT agentapp.register_key(%s)", (raw,))


def add_document(db: Any, kind: str, rid: str, content: dict[str, Any], site_key: Any) -> int:
    """Seal `content` (a JSON object: an analysis's or a coaching record's document) for the
    site's recording key and store it on `rid`; the hub checks that this login may write it
    and traces it. Returns its id."""
    return store_document(db, kind, rid, seal_document(kind, rid, content, site_key))


def seal_document(kind: str, rid: str, content: dict[str, Any], site_key: Any) -> bytes:
    """`content` sealed for the site's recording key, bound to its kind and recording."""
    from agentapp.vault.sealing import seal

    if kind not in DOC_KINDS:
        raise HubError(_("a document is an analysis, a self-review or a coaching record"))
    sealed = seal(json.dumps(content, ensure_ascii=False).encode(), site_key, _context(kind, rid))
    if len(sealed) > MAX_SEALED:
        raise HubError(_("this document is too long for the hub"))
    return sealed


def store_document(db: Any, kind: str, rid: str, sealed: bytes) -> int:
    """A sealed document kept on `rid` (the hub checks and traces it); its id."""
    with _asking(db, _("store the {kind} on {rid}").format(kind=kind, rid=rid)):
        (doc,) = one_row(db, "SELECT agentapp.add_document(%s, %s, %s)", (kind, rid, sealed))
    return int(doc)


def give_document(db: Any, n: int, slip: dict[str, str]) -> None:
    """Coaching record `n` given to its own trainee: `slip` opens it for the key they
    registered (made on the trainer's desk with the site's key); the hub checks and traces."""
    blob = json.dumps(slip).encode()
    with _asking(db, _("give document {n} to its trainee").format(n=n)):
        db.execute("SELECT agentapp.give_document(%s, %s)", (n, blob))


def documents(db: Any, rid: str | None = None) -> list[HubDocument]:
    """The metadata of the documents this login may see (of `rid`, or all), oldest first:
    their sealed part is read one at a time, traced (`read_document`)."""
    where, args = ("WHERE recording_id = %s", (rid,)) if rid is not None else ("", ())
    with _asking(db, _("list the training documents")):
        rows = db.execute(
            f"SELECT {DOC_COLUMNS} FROM agentapp.training_docs {where} ORDER BY id", args
        ).fetchall()
    return [_document(r, None) for r in rows]


def read_document(db: Any, n: int, reason: str) -> HubDocument:
    """Document `n` with its sealed part (and, given to its trainee, their slip), if this login
    may read it (the trainers of its training, its trainee); the hub traces the read with
    `reason` ("document read"), or the refusal ("document refused": no such document and not
    this login's are one answer)."""
    with _asking(db, _("read document {n}").format(n=n)):
        rows = db.execute(
            f"SELECT {DOC_COLUMNS}, sealed, slip FROM agentapp.read_document(%s, %s)",
            (n, reason),
        ).fetchall()
    if not rows:  # (the refusal is traced and committed)
        raise HubError(_("no document {n} that you may read at the hub").format(n=n))
    *meta, sealed, slip = rows[0]
    if sealed is None:
        raise HubError(_("document {n} was read without its content").format(n=n))
    if len(sealed) > MAX_SEALED:  # (the hub keeps none larger: it is not believed)
        raise HubError(_("the hub sent a document larger than any it keeps"))
    return _document(meta, bytes(sealed), _slip(slip))


def _slip(blob: bytes | None) -> dict[str, str] | None:
    """A document's slip as the hub keeps it (JSON), checked for its form."""
    if blob is None:
        return None
    try:
        if len(blob) > MAX_SLIP:
            raise ValueError("too long")
        slip = json.loads(bytes(blob))
    except ValueError:
        slip = None
    if not (isinstance(slip, dict) and all(isinstance(v, str) for v in slip.values())):
        raise HubError(_("the hub sent a document's slip that is not one"))
    return slip


def _document(r: Any, sealed: bytes | None, slip: dict[str, str] | None = None) -> HubDocument:
    return HubDocument(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], sealed, slip)


def open_document(doc: HubDocument, private: X25519PrivateKey | SlipKeys) -> dict[str, Any]:
    """A document's content, decrypted in memory and checked to be the one its row names.
    Raises HubError (wrong key, tampered, moved to another recording or kind)."""
    from agentapp.vault.sealing import SealError, unseal

    if doc.sealed is None:
        raise HubError(_("document {n} was read without its content").format(n=doc.id))
    try:
        header, plain = unseal(doc.sealed, private)
        content = json.loads(plain)
    except (SealError, ValueError) as exc:
        raise HubError(
            _("document {n} cannot be opened: {exc}").format(n=doc.id, exc=exc)
        ) from None
    if header.get("ctx") != _context(doc.kind, doc.recording_id) or not isinstance(content, dict):
        raise HubError(_("document {n} belongs to another recording (tampered?)").format(n=doc.id))
    return content


def registered_key(db: Any, person: str) -> X25519PublicKey:
    """The key `person`'s own login registered at the hub (trainers may read it)."""
    with _asking(db, _("read {person}'s key").format(person=person)):
        row = db.execute(
            "SELECT public_key FROM agentapp.people_keys WHERE person = %s", (person,)
        ).fetchone()
    if row is None:
        raise HubError(
            _("{person} has no key at the hub yet: on their desk, 'agentapp hub key'").format(
                person=person
            )
        )
    return X25519PublicKey.from_public_bytes(bytes(row[0]))


def recording_row(db: Any, rid: str) -> HubRecording:
    """Recording `rid`'s row (whose it is, its training, its length), if this login may see
    it. Raises HubError."""
    from agentapp.hub.admin import RECORDING_COLUMNS, HubRecording

    with _asking(db, _("give recording {rid}").format(rid=rid)):
        row = db.execute(f"SELECT {RECORDING_COLUMNS} FROM agentapp.recordings WHERE id = %s",
                         (rid,)).fetchone()  # fmt: skip
    if row is None:
        raise HubError(_("no recording {rid} that you may see at the hub").format(rid=rid))
    return HubRecording(*row)


def recording_files(db: Any, rid: str) -> dict[str, bytes]:
    """The sealed files of a recording this login may watch, each checked before any is
    given (hub/admin.py sealed_files). Raises HubError."""
    from agentapp.hub.admin import sealed_files

    with _asking(db, _("give recording {rid}").format(rid=rid)):
        files = sealed_files(db, rid)
    if not files:
        raise HubError(_("recording {id} has no sealed segment").format(id=rid))
    return files


def share(db: Any, rid: str, viewer: str, slips: list[dict[str, str]], reason: str) -> None:
    """Share `rid` with its trainee `viewer`: the slips (vault/sealing.py slip_for) that open
    its files for the key they registered. The hub checks that this login trains its training
    and that `viewer` is its agent; traced with `reason`."""
    blob = json.dumps(slips).encode()
    if len(blob) > MAX_SLIPS:
        raise HubError(_("too many files to share at once"))
    with _asking(db, _("share {rid} with {viewer}").format(rid=rid, viewer=viewer)):
        db.execute("SELECT agentapp.share_recording(%s, %s, %s, %s)", (rid, viewer, blob, reason))


def withdraw(db: Any, rid: str, viewer: str, reason: str) -> bool:
    """End the grant of `rid` to `viewer` (False: there was none); traced with `reason`."""
    with _asking(db, _("withdraw {rid} from {viewer}").format(rid=rid, viewer=viewer)):
        (done,) = one_row(db, "SELECT agentapp.withdraw_grant(%s, %s, %s)", (rid, viewer, reason))
    return bool(done)


def _slips(blob: bytes) -> list[dict[str, str]]:
    """A grant's slips as read back: a list of objects of short texts, or nothing."""
    try:
        value = json.loads(blob)
    except ValueError:
        return []
    if not isinstance(value, list):
        return []
    return [s for s in value if isinstance(s, dict)
            and all(isinstance(k, str) and isinstance(v, str) and len(v) <= 200
                    for k, v in s.items())]  # fmt: skip


def grants(db: Any, *, slips: bool = True) -> list[HubGrant]:
    """The grants this login may see; `slips=False` reads their metadata only."""
    column = "slips" if slips else "NULL::bytea"
    with _asking(db, _("list the shared recordings")):
        rows = db.execute(
            f"SELECT recording_id, viewer, training, granted_by, granted_at, {column} "
            "FROM agentapp.grants ORDER BY granted_at, recording_id"
        ).fetchall()
    return [
        HubGrant(r[0], r[1], r[2], r[3], r[4], _slips(bytes(r[5])) if r[5] is not None else None)
        for r in rows
    ]


def shared_with_me(db: Any) -> list[HubGrant]:
    """The recordings a trainer shared with this login (its own calls), without their slips."""
    with _asking(db, _("list the recordings shared with you")):
        rows = db.execute(
            "SELECT recording_id, viewer, training, granted_by, granted_at FROM agentapp.grants "
            "WHERE viewer = agentapp.me() ORDER BY granted_at, recording_id"
        ).fetchall()
    return [HubGrant(r[0], r[1], r[2], r[3], r[4], None) for r in rows]


# The recordings shared with this login: the grant made to it, joined with the recording
# (row-level security on both refuses the same a second time).
_SHARED_WITH_ME = (
    "FROM agentapp.grants g JOIN agentapp.recordings r ON r.id = g.recording_id "
    "WHERE g.viewer = agentapp.me()"
)


@dataclass(frozen=True, slots=True)
class SharedCall:
    """A recording shared with this login, as the hub gave it: still sealed."""

    meta: dict[str, Any]
    files: dict[str, bytes]  # segment name → sealed bytes, each checked
    slips: list[dict[str, str]]  # what opens them for the viewer's own key


def open_shared(db: Any, rid: str, reason: str) -> SharedCall:
    """One recording shared with this login: its metadata, sealed files and slips, traced
    at the hub ('view shared', or 'view refused' when it is not shared with them). Raises
    HubError: then nothing is given."""
    from agentapp.hub.admin import checked_meta, sealed_files

    with _asking(db, _("give recording {rid}").format(rid=rid)):
        row = db.execute(
            f"SELECT g.slips, r.meta {_SHARED_WITH_ME} AND g.recording_id = %s", (rid,)
        ).fetchone()
        if row is None:
            db.execute("SELECT agentapp.audit_append('view refused', %s, %s)",
                       (rid, "not shared with this person"))  # fmt: skip
            db.commit()  # (the refusal stays in the trail)
            raise HubError(_("{rid} is not shared with you at the hub").format(rid=rid))
        meta = checked_meta(row[1], rid)
        files = sealed_files(db, rid)
        db.execute("SELECT agentapp.audit_append('view shared', %s, %s)", (rid, reason))
    if not files:
        raise HubError(_("recording {id} has no sealed segment").format(id=rid))
    return SharedCall(meta, files, _slips(bytes(row[0])))


def shared_metas(db: Any) -> list[RecordingMeta]:
    """The metadata of the recordings shared with this login (their own, as the hub keeps
    it), in the order they were shared; a row the hub holds in another form is left out."""
    from agentapp.vault.store import RecordingMeta, VaultError

    with _asking(db, _("list the recordings shared with you")):
        rows = db.execute(
            f"SELECT r.meta {_SHARED_WITH_ME} ORDER BY g.granted_at, g.recording_id"
        ).fetchall()
    out = []
    for (meta,) in rows:
        try:
            out.append(RecordingMeta.from_json(meta))
        except (VaultError, KeyError, TypeError, ValueError):
            continue
    return out
