"""Every review act, checked and traced in one place (R7, R8): the command line and the
trainer console are thin callers of this module.

Before an act on a recording, a note or an analysis: a reason of at least MIN_REASON characters
where the act needs one, the person's role (core/access.py, from the live policy the caller
loaded), the recording's sealed segments here (not shipped to the site folder). A refusal is
traced and raised; an allowed act is traced *before* anything is decrypted or deleted, and when
the trail cannot be written nothing is done (fail closed). A failure after the access (a key
that does not open it, a full disk) is traced too. An export is listed with its path and the
recording's deadline (vault/exports.py) before it is written, so the purge removes it with the
recording.

Errors are ReviewError: one line, in words for the person.

Threading: one Review per thread (the CLI's, the console's Qt thread).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from agentapp.core.access import MIN_REASON, Action, Person, RecordingRef, refusal
from agentapp.core.errors import Refusal
from agentapp.core.names import shown
from agentapp.i18n import _
from agentapp.vault.analyses import SELF_REVIEW, AnalysesStore, AnalysisMeta
from agentapp.vault.audit import AuditError, AuditLog
from agentapp.vault.exports import ExportRecord, ExportsIndex, this_host
from agentapp.vault.notes import NoteMeta, NotesStore
from agentapp.vault.store import RecordingMeta, Vault, VaultError

if TYPE_CHECKING:
    from agentapp.core.analysis import Analysis, Mark
    from agentapp.core.grid import Grid
    from agentapp.vault.attach import Attached

# the private key a sealed file was made for, given that file (the key store, a key file)
KeyFor = Callable[[Path], X25519PrivateKey]


class ReviewError(Refusal):
    """Refused, or failed: the message is for the person (one line)."""


@dataclass(frozen=True, slots=True)
class Access:
    """A recording the person may now decrypt: its metadata and its sealed segments."""

    action: Action
    meta: RecordingMeta
    segments: list[Path]


def reason_of(text: str | None) -> str:
    """The reason as it is traced; refused when it is too short to mean anything."""
    reason = " ".join((text or "").split())
    if len(reason) < MIN_REASON:
        raise ReviewError(_("give a real reason (it is written to the audit trail)"))
    return reason


class _Recorded(Protocol):
    """What a grid's marks are checked against: the recording's training and length (a
    vault's RecordingMeta, or a hub's row)."""

    @property
    def training(self) -> str: ...

    @property
    def duration_s(self) -> float: ...


def checked_marks(
    grid: Grid | None, meta: _Recorded, items: object, key_file: Path
) -> tuple[Grid, tuple[Mark, ...], X25519PublicKey]:
    """Marks given on `meta` (a form's [[mark]] tables, or a pane's), checked against its
    training's grid (core/analysis.marks_from), and the public key in `key_file` they are
    sealed for; ReviewError in one line otherwise."""
    from agentapp.core.analysis import AnalysisError, marks_from
    from agentapp.vault.keys import KeyProblem, load_public_key

    if grid is None or grid.training != meta.training:
        raise ReviewError(_("training '{training}' has no analysis grid in the policy").format(
            training=meta.training))  # fmt: skip
    try:
        return grid, marks_from(grid, items, meta.duration_s), load_public_key(key_file)
    except (AnalysisError, KeyProblem) as exc:
        raise ReviewError(_("analysis not saved: {exc}").format(exc=exc)) from None


class Review:
    """One person's review acts on one data folder (a desk's or the site's)."""

    def __init__(
        self,
        who: Person,
        audit: AuditLog,
        vault: Vault,
        notes: NotesStore,
        exports: ExportsIndex,
        analyses: AnalysesStore,
    ) -> None:
        self.who = who
        self.audit = audit
        self.vault = vault
        self.notes_store = notes
        self.exports = exports
        self.analyses_store = analyses

    # ------------------------------------------------------------------ the trail
    def trace(self, action: str, target: str, reason: str = "") -> None:
        """Write one entry; ReviewError when the trail cannot be written (nothing is done)."""
        try:
            self.audit.append(self.who.name, action, target, reason, role=self.who.role)
        except AuditError as exc:
            raise ReviewError(
                _("refused: {exc} (every access is traced)").format(exc=exc)
            ) from None

    def refuse(self, action: Action, target: str, why: str, what: str) -> ReviewError:
        with contextlib.suppress(ReviewError):  # the refusal stands even if it cannot be traced
            self.trace(f"refused {action.value}", target, getattr(why, "english", why))
        return ReviewError(
            _("{name} ({role}) may not {what}: {why}").format(
                name=self.who.name, role=self.who.role, what=what, why=why
            )
        )

    def failed(self, access: Access, exc: BaseException) -> ReviewError:
        """Trace that an allowed act failed; the error to raise."""
        with contextlib.suppress(ReviewError):
            self.trace(f"{access.action.value} failed", access.meta.id, str(exc))
        verb = _("open") if access.action is Action.VIEW else access.action.verb
        return ReviewError(
            _("cannot {verb} {id}: {exc}").format(verb=verb, id=access.meta.id, exc=exc)
        )

    # ------------------------------------------------------------------ recordings
    def meta(self, rid: str) -> RecordingMeta:
        try:
            return self.vault.get(rid)
        except VaultError as exc:
            raise ReviewError(str(exc)) from None

    def _allowed(self, action: Action, meta: RecordingMeta) -> None:
        why = refusal(self.who, action, RecordingRef(meta.agent, meta.training))
        if why:
            raise self.refuse(action, meta.id, why, f"{action.verb} {meta.id}")  # verb, then an id

    def allowed_for(self, action: Action, meta: RecordingMeta) -> None:
        """`allowed`, for a recording held elsewhere (a teaching example)."""
        self._allowed(action, meta)

    def allowed(self, action: Action, rid: str) -> RecordingMeta:
        """The recording, if the person may do this to it (a refusal is traced): for a front
        end that has its own checks to make before `begin` (a display, an output path)."""
        meta = self.meta(rid)
        self._allowed(action, meta)
        return meta

    def recordings(
        self, reason: str = "", keep: Callable[[RecordingMeta], bool] = lambda m: True
    ) -> list[RecordingMeta]:
        """The recordings the person may list (and `keep` keeps); the listing is traced."""
        out = [m for m in self.vault.recordings()
               if refusal(self.who, Action.LIST, RecordingRef(m.agent, m.training)) is None
               and keep(m)]  # fmt: skip
        self.trace("list", f"{len(out)} recording(s)", reason)
        return out

    def begin(
        self, action: Action, rid: str, reason: str | None, out: Path | None = None
    ) -> Access:
        """Before a view or an export: checked, and traced; the caller decrypts after. An
        export names its file (`out`): listed and traced with the recording's deadline."""
        exporting = action in (Action.EXPORT, Action.EXPORT_ANONYMISED)
        if exporting != (out is not None):
            raise ValueError("an export, and only an export, names its file")
        reason = reason_of(reason)
        meta = self.meta(rid)
        self._allowed(action, meta)
        if meta.status == "shipped":
            raise ReviewError(
                _("recording {id} was delivered to the site folder: open it there").format(
                    id=meta.id
                )
            )
        segments = self.vault.segment_paths(meta.id)
        if not segments:
            raise ReviewError(_("recording {id} has no sealed segment").format(id=meta.id))
        self.trace(action.value, meta.id, reason)
        access = Access(action, meta, segments)
        if out is not None:
            self._list_export(access, out.absolute())
        return access

    def _list_export(self, access: Access, out: Path) -> None:
        meta = access.meta
        record = ExportRecord(str(out), meta.id, meta.started_at, meta.purge_after,
                              self.who.name, this_host(), time.time())  # fmt: skip
        try:
            self.exports.add(record)
        except OSError as exc:
            raise self.failed(access, OSError(f"the export cannot be listed: {exc}")) from None
        when = dt.datetime.fromtimestamp(meta.purge_after, dt.UTC).date().isoformat()
        self.trace("export file", str(out), f"{meta.id}, removed with it on {when}")

    def delete(self, rid: str, reason: str | None) -> None:
        reason = reason_of(reason)
        meta = self.meta(rid)
        self._allowed(Action.DELETE, meta)
        self.trace("delete", meta.id, reason)
        try:
            self.vault.delete(meta.id)
        except (OSError, VaultError) as exc:
            raise ReviewError(_("cannot delete {id}: {exc}").format(id=meta.id, exc=exc)) from None

    def attach_voice(self, rid: str, source: Path, starts_at: float, reason: str | None,
                     public_key: X25519PublicKey) -> Attached:  # fmt: skip
        """Seal a PBX's recording of the call into `rid` as its voice (vault/attach.py): the
        training's trainers only; traced before, and its failure traced."""
        from agentapp.vault.attach import attach_voice

        reason = reason_of(reason)
        meta = self.meta(rid)
        self._allowed(Action.ATTACH_VOICE, meta)
        self.trace(Action.ATTACH_VOICE.value, meta.id, reason)
        try:
            return attach_voice(self.vault, meta.id, source, starts_at, public_key)
        except (OSError, VaultError) as exc:
            with contextlib.suppress(ReviewError):
                self.trace("attach voice failed", meta.id, str(exc))
            raise ReviewError(_("voice not attached to {id}: {exc}").format(
                id=meta.id, exc=exc)) from None  # fmt: skip

    # ------------------------------------------------------------------ notes
    def notes(self) -> list[NoteMeta]:
        """The notes of the trainings the person reviews; the listing is traced."""
        out = [
            n
            for n in self.notes_store.notes()
            if refusal(self.who, Action.NOTES, RecordingRef("", n.training)) is None
        ]
        self.trace("list notes", f"{len(out)} note(s)")
        return out

    def add_note(
        self,
        rid: str,
        text: str,
        key_file: Path,
        days: int,
        now: float,
        how: str = "",
        at_s: float | None = None,
    ) -> NoteMeta:
        """Seal a note on a recording for its training's trainers, for the recording public
        key in `key_file` (read only once the note is allowed)."""
        from agentapp.vault.keys import KeyProblem, load_public_key

        meta = self.meta(rid)
        self._allowed(Action.NOTES, meta)
        try:
            key = load_public_key(key_file)
        except KeyProblem as exc:
            raise ReviewError(_("note not saved: {exc}").format(exc=exc)) from None
        self.trace("add note", meta.id, how)
        try:
            return self.notes_store.add(meta.id, meta.training, self.who.name, text, key, now,
                                        days, at_s)  # fmt: skip
        except (OSError, VaultError) as exc:
            raise ReviewError(_("note not saved: {exc}").format(exc=exc)) from None

    def read_note(self, nid: str, reason: str | None, key_for: KeyFor) -> str:
        reason = reason_of(reason)
        found = [n for n in self.notes_store.notes() if n.id == nid]
        if not found:
            raise ReviewError(_("no note {nid!r}").format(nid=nid))
        why = refusal(self.who, Action.NOTES, RecordingRef("", found[0].training))
        if why:
            raise self.refuse(Action.NOTES, nid, why, f"read note {nid}")
        self.trace("view note", nid, reason)
        try:
            return self.notes_store.read(nid, key_for(self.notes_store.path(nid, ".seal")))
        except Exception as exc:  # key store, tampering: one line for the person
            raise ReviewError(_("cannot read note {nid}: {exc}").format(nid=nid, exc=exc)) from None

    # ------------------------------------------------------------------ analysis grids
    def _all_analyses(self) -> list[tuple[AnalysesStore, AnalysisMeta]]:
        """The trainers' analyses here, then at a site the trainees' self-reviews, each in
        its author's own folder (vault/people.py: whose it is comes from the file system)."""
        from agentapp.vault.people import folders

        out = [(self.analyses_store, a) for a in self.analyses_store.analyses()]
        for login, folder in folders(self.analyses_store.root.parent):
            store = AnalysesStore(folder)
            out += [(store, a) for a in store.analyses()
                    if a.kind == SELF_REVIEW and a.author == login]  # fmt: skip
        return out

    def analyses(self) -> list[AnalysisMeta]:
        """The analyses of the trainings the person reviews (the trainees' self-reviews
        too); the listing is traced."""
        out = [
            a
            for _store, a in self._all_analyses()
            if refusal(self.who, Action.ANALYSIS, RecordingRef("", a.training)) is None
        ]
        self.trace("list analyses", f"{len(out)} analysis(es)")
        return out

    def add_analysis(
        self, rid: str, items: object, grid: Grid | None, key_file: Path, days: int, now: float
    ) -> AnalysisMeta:
        """Seal a trainer's marks (a filled form's [[mark]] tables, or the console's: checked
        by core/analysis.marks_from) on a recording of their training, for the recording
        public key in `key_file`; `grid`: its training's grid in the live policy."""
        from agentapp.core.analysis import Analysis

        meta = self.meta(rid)
        self._allowed(Action.ANALYSIS, meta)
        grid, marks, key = checked_marks(grid, meta, items, key_file)
        self.trace("add analysis", meta.id, f"grid of {grid.training}")
        try:
            return self.analyses_store.add(Analysis(meta.id, grid, marks), self.who.name, key,
                                           now, days)  # fmt: skip
        except (OSError, VaultError) as exc:
            raise ReviewError(_("analysis not saved: {exc}").format(exc=exc)) from None

    def read_analysis(self, aid: str, reason: str | None, key_for: KeyFor) -> Analysis:
        """An analysis decrypted in memory, for a trainer of its training; traced first."""
        reason = reason_of(reason)
        found = [(store, a) for store, a in self._all_analyses() if a.id == aid]
        if not found:
            raise ReviewError(_("no analysis {aid}").format(aid=shown(aid)))
        store, meta = found[0]
        why = refusal(self.who, Action.ANALYSIS, RecordingRef("", meta.training))
        if why:
            raise self.refuse(Action.ANALYSIS, aid, why, f"read analysis {aid}")
        self.trace("view analysis", aid, reason)
        try:
            return store.read(aid, key_for(store.path(aid, ".seal")))
        except Exception as exc:  # key store, tampering: one line for the person
            raise ReviewError(
                _("cannot read analysis {aid}: {exc}").format(aid=aid, exc=exc)
            ) from None

    # ------------------------------------------------------------------ the trail itself
    def audit_allowed(self) -> None:
        """Reading or verifying the trail: admins/DPO only; a refusal is traced."""
        why = refusal(self.who, Action.AUDIT)
        if why:
            raise self.refuse(Action.AUDIT, "", why, Action.AUDIT.verb)
