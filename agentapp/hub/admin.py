"""What IT and the DPO do on the hub: logins, the policy's enrolments, the purge, the trail,
the list of recordings. Each is one call of a function the schema grants to that role
(schema.sql); the database checks who may.

Threading: plain functions on the caller's connection.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from agentapp.core.auditchain import CHECKPOINT, Checkpoint, checkpoints
from agentapp.core.policy import Policy
from agentapp.hub.connect import HubError, first_line
from agentapp.i18n import _
from agentapp.vault.audit import AuditLog

KINDS = ("desk", "agent", "trainer", "dpo", "admin")
GENESIS = "0" * 64
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@contextmanager
def refused(what: str) -> Iterator[None]:
    """A database refusal as one line for a person."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise HubError(
            _("the hub refused to {what}: {why}").format(what=what, why=first_line(exc))
        ) from None


def add_login(db: Any, role: str, kind: str, person: str) -> str:
    """A hub login of its own for a desk or a person (needs a role that may create roles);
    returns its new password, which only the caller sees."""
    from psycopg import sql

    if kind not in KINDS:
        raise HubError(_("kind must be one of {kinds}").format(kinds=", ".join(KINDS)))
    password = secrets.token_urlsafe(24)
    with refused(_("add the login {role}").format(role=role)):
        db.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(role), sql.Literal(password), sql.Identifier(f"agentapp_{kind}")
            )
        )
        db.execute("SET ROLE agentapp_owner")
        db.execute("INSERT INTO agentapp.people VALUES (%s, %s, %s)", (role, person, kind))
        db.execute("RESET ROLE")
        db.commit()
    return password


def publish_policy(db: Any, policy: Policy, digest: str) -> None:
    """The policy's enrolments and trainers, the ones the hub's quota and roles follow."""
    from psycopg.types.json import Jsonb

    enrolments = [
        {
            "agent": e.agent,
            "training": e.training,
            "start": e.start.isoformat(),
            "end": e.end.isoformat(),
            "weekly_quota": e.weekly_quota,
        }
        for e in policy.enrolments
    ]
    trainers = [{"name": t.name, "trainings": list(t.trainings)} for t in policy.trainers]
    derogation = policy.derogation.reference if policy.derogation else ""
    with refused(_("take policy version {v}").format(v=policy.version)):
        db.execute(
            "SELECT agentapp.publish_policy(%s, %s, %s, %s, %s, %s)",
            (policy.version, digest, Jsonb(enrolments), Jsonb(trainers),
             policy.retention_days, derogation),
        )  # fmt: skip
        db.commit()


def policy_digest(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


class Purged(NamedTuple):
    recordings: int  # past their deadline (their segments, notes and grants with them)
    documents: int | None  # training documents a year after their writing (None: a hub of
    # schema 4, whose purge deletes them without counting them)


def purge(db: Any) -> Purged:
    with refused(_("purge")):
        row = db.execute("SELECT * FROM agentapp.purge_expired()").fetchone()
        db.commit()
    return Purged(int(row[0]), int(row[1]) if len(row) > 1 else None)


@dataclass(frozen=True, slots=True)
class HubRecording:
    id: str
    agent: str
    training: str
    desk: str
    started_at: dt.datetime
    purge_after: dt.datetime
    duration_s: float
    segments: int
    size_bytes: int


RECORDING_COLUMNS = (
    "id, agent, training, desk, started_at, purge_after, duration_s, segments, "
    "size_bytes"
)  # (a HubRecording's fields, in order)


def recordings(
    db: Any, agent: str | None = None, training: str | None = None, since: dt.date | None = None
) -> list[HubRecording]:
    """The recordings this login may see (the database's row-level security decides)."""
    where, args = ["true"], []
    for cond, value in (
        ("agent = %s", agent),
        ("training = %s", training),
        ("started_at >= %s", since),
    ):
        if value is not None:
            where.append(cond)
            args.append(value)
    with refused(_("list the recordings")):
        rows = db.execute(
            f"SELECT {RECORDING_COLUMNS} FROM agentapp.recordings WHERE {' AND '.join(where)} "
            "ORDER BY started_at",
            args,
        ).fetchall()
        db.commit()
    return [HubRecording(*r) for r in rows]


@dataclass(frozen=True, slots=True)
class TrailVerdict:
    ok: bool
    entries: int
    first_bad: int | None = None
    problem: str = ""
    anomalies: int = 0  # desk trails rewritten or with gaps, as the hub saw them

    def describe(self) -> str:
        if not self.ok:
            return _("hub audit trail BROKEN at entry {n}: {why}").format(
                n=self.first_bad, why=self.problem
            )
        text = _("hub audit trail intact: {n} entries, chain verified").format(n=self.entries)
        if self.anomalies:
            text += " — " + _("{n} desk trail problems recorded (see 'agentapp hub audit')").format(
                n=self.anomalies
            )
        return text


def audit_rows(db: Any) -> list[dict[str, Any]]:
    """The chain, after chaining what waits in the hub's inbox (entries written while
    someone held the chain: schema.sql _chain)."""
    with refused(_("read the audit trail")):
        db.execute("SELECT agentapp.chain_pending()")
        db.commit()
        cur = db.execute("SELECT * FROM agentapp.audit ORDER BY seq")
        names = [c.name for c in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        db.commit()
    return rows


def row_hash(r: dict[str, Any]) -> str:
    """The hash the hub gives an entry (schema.sql audit_hash), recomputed here."""
    at_us = (r["at"] - EPOCH) // dt.timedelta(microseconds=1)
    fields = [
        str(r["seq"]),
        str(at_us),
        r["db_user"],
        r["source"],
        str(r["local_seq"]),
        r["local_hash"],
        r["local_at"],
        r["who"],
        r["action"],
        r["target"],
        r["reason"],
        r["prev"],
    ]
    return hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()


def verify_trail(rows: list[dict[str, Any]]) -> TrailVerdict:
    """Sequence without gaps, each entry's hash, each link to the one before."""
    prev = GENESIS
    anomalies = 0
    for i, r in enumerate(rows, 1):
        if r["seq"] != i:
            return TrailVerdict(False, i - 1, i, _("entry {n} is missing").format(n=i))
        if r["prev"] != prev:
            return TrailVerdict(False, i - 1, i, _("it does not follow the entry before"))
        if row_hash(r) != r["hash"]:
            return TrailVerdict(False, i - 1, i, _("its content was changed"))
        prev = r["hash"]
        anomalies += r["action"] in ("desk trail rewritten", "desk trail gap")
    return TrailVerdict(True, len(rows), anomalies=anomalies)


def desk_checkpoints(rows: list[dict[str, Any]]) -> list[Checkpoint]:
    """The checkpoints desks took and shipped back: each names an entry of this chain."""
    return checkpoints(
        [{**r, "at": f"{r['at']:%Y-%m-%d %H:%M:%S}"} for r in rows if r["action"] == CHECKPOINT]
    )


def first_unheld(rows: list[dict[str, Any]], marks: list[Checkpoint]) -> Checkpoint | None:
    """The first checkpoint whose entry the chain no longer holds as it was (None: all hold).
    With `rows` verified (each hash recomputed), a held checkpoint binds every entry up to
    it: an edit there, even with the later hashes recomputed, changes its hash."""
    hashes = {r["seq"]: r["hash"] for r in rows}
    return next((m for m in marks if hashes.get(m.seq) != m.hash), None)


def unheld_text(m: Checkpoint, rows: list[dict[str, Any]], mine: bool) -> str:
    """What a checkpoint no longer held says: `mine` one this person verified, else a desk's."""
    gone = not any(r["seq"] == m.seq for r in rows)
    if mine:
        text = (
            _("BROKEN: entry {n}, which you verified on {at}, is no longer in the hub's trail")
            if gone
            else _("BROKEN: entry {n} is not the one you verified on {at}")
        )
    else:
        text = (
            _("BROKEN: entry {n}, which a desk holds as checkpoint since {at}, is no longer in "
              "the hub's trail")
            if gone
            else _("BROKEN: entry {n} is not the one a desk holds as checkpoint since {at}")
        )  # fmt: skip
    how = _("entries were removed") if gone else _("the trail was rewritten up to it")
    return f"{text.format(n=m.seq, at=m.at[:19])} ({how})"


def heads_record(data_dir: Path, hub_url: str) -> AuditLog:
    """This person's own signed record of the hub chain's heads they verified, one per hub
    (`<data dir>/hub-checkpoints/<hub>.jsonl`; its key and last entry in their key store)."""
    from agentapp.files import layout

    folder = layout.hub_checkpoints(data_dir)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise HubError(
            _("cannot keep the hub's checkpoints in {folder}: {exc}").format(folder=folder, exc=exc)
        ) from None
    return AuditLog(folder / f"{hashlib.sha256(hub_url.encode()).hexdigest()[:16]}.jsonl")


# What one recording can hold, whatever a hub sends: a call of the longest (240 minutes) in
# segments of the shortest (5 s) is 2,880 segments and its voice; at ten times the usual
# rate of a 1080p window (about 40 MB an hour) it is under 2 GB. Past these the hub is not
# one to believe, and reading on would only fill the desk's memory.
MAX_RECORDING_FILES = 6_000
MAX_RECORDING_BYTES = 2 << 30


def sealed_files(db: Any, rid: str) -> dict[str, bytes]:
    """The sealed files the hub holds of `rid` (those this login may read), each checked (its
    name's form, its digest) before any is given, read one row at a time and no more than one
    recording can hold (MAX_RECORDING_FILES, MAX_RECORDING_BYTES); in the caller's
    transaction. Raises HubError: then none is given."""
    from agentapp.core.names import is_segment_name, shown

    files: dict[str, bytes] = {}
    total = 0
    # (closed before any refusal leaves: an open stream holds the connection, and the
    # caller's rollback would wait for it; closing cancels the query and drains it)
    with closing(db.cursor().stream(
        "SELECT name, data, sha256 FROM agentapp.segments WHERE recording_id = %s ORDER BY name",
        (rid,),
    )) as parts:  # fmt: skip
        for name, data, digest in parts:
            total += len(data)
            if len(files) >= MAX_RECORDING_FILES or total > MAX_RECORDING_BYTES:
                raise HubError(_("the hub sends more of {rid} than any recording holds: "
                                 "nothing fetched").format(rid=rid))  # fmt: skip
            if not is_segment_name(name) or hashlib.sha256(data).hexdigest() != digest:
                raise HubError(_("segment {name} of {rid} is damaged at the hub: nothing "
                                 "fetched").format(name=shown(name), rid=rid))  # fmt: skip
            files[name] = bytes(data)
    return files


def checked_meta(raw: object, rid: str) -> dict[str, Any]:
    """A recording's metadata as the hub gave it, if it is an object naming `rid`; else
    HubError (and nothing of the recording is given)."""
    meta = raw if isinstance(raw, dict) else {}
    if meta.get("id") != rid:
        raise HubError(_("the hub's metadata of {rid} names another recording: nothing "
                         "fetched").format(rid=rid))  # fmt: skip
    return meta


def fetch(db: Any, rid: str, data_dir: Path, reason: str) -> Path:
    """One recording the login may watch, sealed as it is, into `data_dir`'s recordings, so
    that `agentapp recordings view/export --data-dir` play it (decryption needs the site's
    recording key, as ever). Traced at the hub. Everything the hub gives is checked before
    anything is written (the id, each segment's name and digest, the metadata's id), and the
    folder is placed whole inside the recordings folder (vault/store.py place_folder).
    Raises HubError; then nothing was written."""
    from agentapp.core.names import is_recording_id, shown
    from agentapp.files import layout
    from agentapp.vault.store import META, VaultError, place_folder

    if not is_recording_id(rid):
        raise HubError(_("{rid} is not a recording id: nothing fetched").format(rid=shown(rid)))
    with refused(_("give recording {rid}").format(rid=rid)):
        row = db.execute("SELECT meta FROM agentapp.recordings WHERE id = %s", (rid,)).fetchone()
        if row is None:
            raise HubError(_("no recording {rid} that you may see at the hub").format(rid=rid))
        files = sealed_files(db, rid)
        meta = checked_meta(row[0], rid)
        files[META] = json.dumps(dict(meta, status="complete"), indent=1).encode()
        db.execute("SELECT agentapp.audit_append('recording fetched', %s, %s)", (rid, reason))
        db.commit()
    try:
        return place_folder(layout.recordings(data_dir.resolve()), rid, files)
    except VaultError as exc:
        raise HubError(_("recording {rid} not fetched: {exc}").format(rid=rid, exc=exc)) from None
    except OSError as exc:
        raise HubError(_("recording {rid} not fetched: {exc}").format(
            rid=rid, exc=exc.strerror or exc)) from None  # fmt: skip


@dataclass(frozen=True, slots=True)
class Imported:
    name: str  # the trail's file name without .jsonl
    entries: int
    problem: str = ""  # why it was not imported ("": it was)


def import_site_trails(db: Any, site: Path) -> list[Imported]:
    """Every reviewer's trail of a site folder, its chain checked, shipped to the hub as
    `site:<name>` (again: nothing twice). A broken trail is not imported: its line says why.
    Its signatures are checked only by its owner (the key is in their key store)."""
    from agentapp.files import layout
    from agentapp.hub.link import ship_trail
    from agentapp.vault.audit import AUDIT_FILE, AuditError, chain_only

    old = site / AUDIT_FILE
    paths = ([old] if old.exists() else []) + sorted(layout.site_trails(site).glob("*.jsonl"))
    done = []
    for path in paths:
        log = chain_only(path)
        try:
            verdict = log.verify()
            entries = log.entries()
        except AuditError as exc:
            done.append(Imported(path.stem, 0, str(exc)))
            continue
        if not verdict.ok:
            done.append(Imported(path.stem, verdict.entries, verdict.describe()))
            continue
        with refused(_("import the trail {name}").format(name=path.stem)):
            ship_trail(db, f"site:{path.stem}", entries)
            db.commit()
        done.append(Imported(path.stem, len(entries)))
    return done


@dataclass(frozen=True, slots=True)
class HubNote:
    id: int
    recording_id: str
    at_s: float | None
    author: str
    written_at: dt.datetime
    sealed: bytes


def add_note(db: Any, rid: str, text: str, public_key: Any, at_s: float | None = None) -> int:
    """A trainer's note on a recording of their trainings, sealed here for the site's
    recording key (the hub never sees the text); traced. Returns its id."""
    from agentapp.hub.connect import one_row
    from agentapp.vault.notes import MAX_NOTE
    from agentapp.vault.sealing import seal

    if not text.strip() or len(text) > MAX_NOTE:
        raise HubError(_("a note has 1 to {n} characters").format(n=MAX_NOTE))
    sealed = seal(text.encode(), public_key, {"hub note": rid})
    with refused(_("take a note on {rid}").format(rid=rid)):
        (nid,) = one_row(db, "INSERT INTO agentapp.notes (recording_id, at_s, sealed) "
                             "VALUES (%s, %s, %s) RETURNING id", (rid, at_s, sealed))  # fmt: skip
        db.execute("SELECT agentapp.audit_append('note added', %s, %s)", (rid, f"note {nid}"))
        db.commit()
    return int(nid)


def notes(db: Any, rid: str, reason: str | None = None) -> list[HubNote]:
    """The notes on `rid` this login may read (its agent, its trainings' trainers); with a
    `reason`, to decrypt them, traced at the hub ('notes read') when there are some."""
    with refused(_("list the notes on {rid}").format(rid=rid)):
        rows = db.execute(
            "SELECT id, recording_id, at_s, author, written_at, sealed FROM agentapp.notes "
            "WHERE recording_id = %s ORDER BY id",
            (rid,),
        ).fetchall()
        if reason and rows:
            db.execute("SELECT agentapp.audit_append('notes read', %s, %s)", (rid, reason))
        db.commit()
    return [HubNote(r[0], r[1], r[2], r[3], r[4], bytes(r[5])) for r in rows]


def open_note(note: HubNote, private: Any) -> str:
    """The text of a note, decrypted in memory. Raises HubError (wrong key, tampered)."""
    from agentapp.vault.sealing import SealError, unseal

    try:
        header, plain = unseal(note.sealed, private)
    except SealError as exc:
        raise HubError(_("note {n} cannot be opened: {exc}").format(n=note.id, exc=exc)) from None
    if header.get("ctx") != {"hub note": note.recording_id}:
        raise HubError(_("note {n} belongs to another recording (tampered?)").format(n=note.id))
    return plain.decode()
