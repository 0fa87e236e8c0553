"""The trainer console's logic, without Qt: the draft policy, enrolments, the business window
rules, publishing to the site, and reviewing the site's recordings under the access rules.

The console edits a *draft* (`<data dir>/policy-draft.toml`, started from the site's policy)
in place, its comments kept (core/policy_writer.py); only `publish` makes it the site's policy.
Every listing, view and note goes through the same access rules and audit trail as the
command line.

Threading: one thread (the console's Qt thread); nothing here blocks for long except playback
decoding, which is lazy.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agentapp.agent.settings import Settings, signing_key_path
from agentapp.core.access import Action, Person, person
from agentapp.core.gate import week_start
from agentapp.core.geometry import Rect
from agentapp.core.grid import Criterion
from agentapp.core.policy import Enrolment, Policy, PolicyError, WindowRule, load_policy
from agentapp.core.policy_writer import (
    Edited,
    with_application,
    with_criterion,
    with_enrolment,
    without_application,
    without_criterion,
    without_enrolment,
)
from agentapp.files import layout
from agentapp.i18n import N_, _, duration, number
from agentapp.platform.base import WindowInfo
from agentapp.site import publish as site_publish
from agentapp.site.signing import load_private, load_public, load_signed, strip_signature
from agentapp.site.sync import site_policy_path
from agentapp.vault.analyses import AnalysesStore
from agentapp.vault.audit import ReviewerTrail
from agentapp.vault.exports import ExportsIndex
from agentapp.vault.notes import NotesStore

if TYPE_CHECKING:
    from agentapp.core.config import HubConfig
    from agentapp.hub.admin import HubRecording
    from agentapp.vault.playback import Playback
from agentapp.trainer.analyses import ConsoleAnalyses
from agentapp.trainer.errors import (
    ConsoleError,
    console_errors,
    hub_errors,
    private_for,
)
from agentapp.trainer.notes import ConsoleNotes
from agentapp.vault.review import Review, reason_of
from agentapp.vault.store import RecordingMeta, Vault, VaultError, write_atomic

STATUS_WORDS = {
    "recording": N_("recording"),
    "complete": N_("complete"),
    "interrupted": N_("interrupted"),
}  # a recording's status, as a person reads it


def status_words(status: str) -> str:
    return _(STATUS_WORDS.get(status, status))


@dataclass(frozen=True, slots=True)
class EnrolmentRow:
    agent: str
    training: str
    start: dt.date
    end: dt.date
    sampling: int
    quota: int
    state: str  # enrolled | expired | upcoming
    used: int  # recordings this week
    fps: int | None = None  # the agent's own frame rate (None: the policy's)
    extension: str | None = None
    voice: str | None = None  # the agent's own choice for the call's voice (None: the policy's)

    def enrolment(self) -> Enrolment:
        return Enrolment(self.agent, self.training, self.start, self.end, self.sampling,
                         self.quota, self.fps, self.extension, self.voice)  # fmt: skip


class ConsoleModel:
    def __init__(self, s: Settings, site: Path, draft: Path | None = None, mine: bool = False):
        self.s = s
        self.site = site
        self.draft_path = draft or s.data_dir / "policy-draft.toml"
        self.mine = mine  # a trainee's own view: their recordings only
        self.vault = Vault(layout.recordings(site))
        self.audit = ReviewerTrail(site, s.user)  # at the site, where the DPO reads
        self.notes = ConsoleNotes(self)
        self.analyses = ConsoleAnalyses(self)

    def purge(self) -> int:
        """Delete, at the site, what passed its deadline (R9); the console does it at start."""
        from agentapp.vault.purge import purge_expired

        try:
            policy: Policy | None = self.draft()
        except ConsoleError:
            policy = None
        return len(purge_expired(self.site, time.time(), policy, self.audit, who=self.s.user))

    # ------------------------------------------------------------------ the draft
    def draft(self) -> Policy:
        """The draft, started from the site's policy the first time."""
        if not self.draft_path.exists():
            try:
                body = strip_signature(site_policy_path(self.site).read_bytes())
            except OSError:
                raise ConsoleError(
                    _(
                        "no draft at {draft_path} and no policy at the site {site}: "
                        "write a first policy (see README)"
                    ).format(draft_path=self.draft_path, site=self.site)
                ) from None
            self._write(body.decode("utf-8"))
        try:
            return load_policy(self.draft_path)
        except PolicyError as exc:
            raise ConsoleError(_("the draft is refused: {exc}").format(exc=exc)) from None

    def _write(self, text: str) -> None:
        self.draft_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(self.draft_path, text.encode(), mode=0o644)

    def _save(self, edit: Callable[[str], Edited]) -> Policy:
        self.draft()
        try:
            new = edit(self.draft_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConsoleError(
                _("cannot read the draft {draft_path}: {exc}").format(
                    draft_path=self.draft_path, exc=exc
                )
            ) from None
        except PolicyError as exc:
            raise ConsoleError(str(exc)) from None
        self._write(new.text)
        return new.policy

    def person(self) -> Person:
        """Who is using the console, with the roles the site's *signed* policy gives them:
        never the draft's, which anyone who can write this folder could edit (R7, R8)."""
        return person(self.signed(), self.s.user)

    def signed(self) -> Policy | None:
        """The site's signed policy (None: none, or not signed by the site's key)."""
        try:
            return load_signed(
                site_policy_path(self.site), load_public(signing_key_path(self.s.data_dir))
            )
        except (OSError, PolicyError):
            return None  # no signed policy: nobody is trainer or admin (fail closed)

    # ------------------------------------------------------------------ enrolment
    def enrolments(self, today: dt.date | None = None) -> list[EnrolmentRow]:
        today = today or dt.date.today()
        monday = dt.datetime.combine(week_start(today), dt.time()).timestamp()
        rows = []
        for e in self.draft().enrolments:
            state = (
                N_("expired")
                if today > e.end
                else N_("upcoming")
                if today < e.start
                else N_("enrolled")
            )
            used = self.vault.count_since(e.agent, monday)
            rows.append(EnrolmentRow(e.agent, e.training, e.start, e.end, e.sampling_percent,
                                     e.weekly_quota, state, used, e.fps,
                                     e.extension, e.voice))  # fmt: skip
        return rows

    def enrol(self, e: Enrolment) -> Policy:
        """`e` in the draft; its `voice` None: the policy's choice (any own choice goes)."""
        clear = ("voice",) if e.voice is None else ()
        return self._save(lambda text: with_enrolment(text, e, clear))

    def unenrol(self, agent: str) -> Policy:
        return self._save(lambda text: without_enrolment(text, agent))

    # ------------------------------------------------------------------ analysis grids
    def set_criterion(self, training: str, c: Criterion) -> Policy:
        return self._save(lambda text: with_criterion(text, training, c))

    def remove_criterion(self, training: str, name: str) -> Policy:
        return self._save(lambda text: without_criterion(text, training, name))

    # ------------------------------------------------------------------ business windows
    def add_application(self, rule: WindowRule) -> Policy:
        return self._save(lambda text: with_application(text, rule))

    def remove_application(self, name: str) -> Policy:
        return self._save(lambda text: without_application(text, name))

    @staticmethod
    def matching(rule: WindowRule, windows: list[WindowInfo]) -> list[WindowInfo]:
        return [w for w in windows if rule.matches(w.wm_class, w.executable, w.title)]

    # ------------------------------------------------------------------ publishing
    def plan(self) -> site_publish.Plan:
        self.draft()
        try:
            public = load_public(signing_key_path(self.s.data_dir))
            return site_publish.plan(self.site, self.draft_path.read_bytes(), public)
        except (OSError, PolicyError) as exc:
            raise ConsoleError(str(exc)) from None

    def in_force(self) -> Policy | None:
        """The site's signed policy when the draft says exactly what it says (nothing new to
        publish), else None."""
        try:
            signed = site_policy_path(self.site)
            draft = self.draft_path.read_bytes()
            if strip_signature(signed.read_bytes()) != strip_signature(draft):
                return None
            return load_signed(signed, load_public(signing_key_path(self.s.data_dir)))
        except (OSError, PolicyError):
            return None

    def publish(self) -> site_publish.Plan:
        from agentapp.vault.audit import AuditError
        from agentapp.vault.keys import KeyProblem

        p = self.plan()
        try:
            private = load_private(load_public(signing_key_path(self.s.data_dir)))
            self.audit.append(self.s.user, "policy published", str(p.target),
                              f"version {p.new.version}", role=self.person().role)  # fmt: skip
            site_publish.publish(p, private)
        except (KeyProblem, AuditError, PolicyError, OSError) as exc:
            raise ConsoleError(_("not published: {exc}").format(exc=exc)) from None
        return p

    # ------------------------------------------------------------------ review
    def review(self) -> Review:
        """The review acts of the person using the console, at the site (vault/review.py,
        the command line's checks and trail)."""
        notes = NotesStore(layout.notes(self.site))
        return Review(self.person(), self.audit, self.vault, notes,
                      ExportsIndex(layout.exports(self.site)),
                      AnalysesStore(layout.analyses(self.site)))  # fmt: skip

    def recordings(
        self, agent: str = "", training: str = "", since: dt.date | None = None
    ) -> list[RecordingMeta]:
        review = self.review()
        name = review.who.name

        def keep(m: RecordingMeta) -> bool:
            return not (
                (self.mine and m.agent != name)
                or (agent and m.agent != agent)
                or (training and m.training != training)
                or (since and dt.datetime.fromtimestamp(m.started_at).date() < since)
            )

        with console_errors():
            return review.recordings("console", keep)

    def open(self, rid: str, reason: str, private_key_loader: Callable[[str], object]
             ) -> Playback:  # fmt: skip
        """One recording, decrypted in memory, watermarked, to play (seekable, with its
        paused spans and notes' moments); checked and traced."""
        from agentapp.ui.watermark import qt_mark
        from agentapp.vault.export import mark_text
        from agentapp.vault.playback import open_playback

        review = self.review()
        with console_errors():
            access = review.begin(Action.VIEW, rid, reason)
            mark = qt_mark(mark_text(access.meta.agent, review.who.name, "viewed"))
            try:
                private = private_for(private_key_loader, access.segments[0])
                playback = open_playback(self.vault, rid, private, mark)
            except Exception as exc:  # key store, tampering: one message for the trainer
                raise review.failed(access, exc) from None
        try:
            noted = self.notes.on(rid)
        except ConsoleError:  # the hub does not answer: the video plays, with the notes here
            with console_errors():
                noted = [n for n in self.review().notes() if n.recording == rid]
        playback.notes += [(n.at_s, n.author) for n in noted if n.at_s is not None]
        return playback

    def frame_to_blur(self, rid: str, reason: str,
                      private_key_loader: Callable[[str], object]) -> np.ndarray:  # fmt: skip
        """A frame of the recording (the last, the fullest), in memory, to draw what an
        anonymised export blurs on; the view is traced with the export's reason."""
        from agentapp.vault.export import iter_frames, open_segments

        review = self.review()
        with console_errors():
            # (the trail's words stay English: a stored record, docs/design.md)
            access = review.begin(Action.VIEW, rid, f"choosing what to blur: {reason}")
            try:
                private = private_for(private_key_loader, access.segments[0])
                segments = open_segments(self.vault, rid, private)
                last = None
                for _t, bgr in iter_frames(segments[-1]):
                    last = bgr
            except Exception as exc:
                raise review.failed(access, exc) from None
        if last is None:
            raise ConsoleError(_("recording {id} has no frame").format(id=rid))
        return last

    def export(self, rid: str, reason: str, folder: Path, anonymise: bool,
               private_key_loader: Callable[[str], object],
               blurs: tuple[Rect, ...] = ()) -> Path:  # fmt: skip
        """A watermarked MP4 in `folder` (anonymised: neutral name, no agent, no voice,
        `blurs` made unreadable), traced."""
        from agentapp.ui.watermark import qt_mark
        from agentapp.vault.export import export_recording, mark_text, neutral_name

        action = Action.EXPORT_ANONYMISED if anonymise else Action.EXPORT
        review = self.review()
        with console_errors():
            out = folder / (neutral_name() if anonymise else f"{rid}.mp4")
            access = review.begin(action, rid, reason, out)
            mark = qt_mark(mark_text(access.meta.agent, review.who.name, "exported", anonymise))
            try:
                private = private_for(private_key_loader, access.segments[0])
                export_recording(self.vault, rid, private, out, mark, blurs,
                                 voice=not anonymise)  # fmt: skip
            except Exception as exc:  # key store, tampering, disk: one message for the trainer
                raise review.failed(access, exc) from None
        return out

    # ------------------------------------------------------------------ the hub
    @property
    def hub(self) -> HubConfig | None:
        """This person's own hub login ([hub] of their agent.toml), or None."""
        return self.s.config.hub

    def hub_recordings(
        self, agent: str = "", training: str = "", since: dt.date | None = None
    ) -> list[HubRecording]:
        """The recordings at the hub this person may see: the hub's row-level security
        decides, as the database authenticated them (docs/hub.md)."""
        from agentapp.hub.admin import recordings

        with hub_errors(), self.hub_db() as db:
            return recordings(db, agent or None, training or None, since)

    def fetch_from_hub(self, rid: str, reason: str) -> None:
        """One recording, sealed as it is, from the hub into the site folder, where the
        console plays and exports it like any other; traced at the hub and in this trail."""
        from agentapp.hub.admin import fetch

        with console_errors():
            reason = reason_of(reason)
        with hub_errors(), self.hub_db() as db:
            fetch(db, rid, self.site, reason)
        with console_errors():
            self.audit.append(self.s.user, "fetched from the hub", rid, reason)

    def hub_db(self) -> Any:
        from agentapp.hub.connect import desk_connect

        if self.hub is None:
            raise ConsoleError(_("no [hub] in agent.toml: this console works on the site folder"))
        return desk_connect(self.hub, app="agentapp console")

    def timeline(self, rid: str) -> str:
        m = self.meta(rid)
        spans = ", ".join(
            f"{number(round(a, 1))}–{number(round(b, 1))} s" for a, b in m.paused_spans
        ) or _("none")
        said = _("{duration} in {segments} sealed segment(s); paused: {spans}; {end}").format(
            duration=duration(m.duration_s), segments=m.segments, spans=spans,
            end=m.end_reason or status_words(m.status))  # fmt: skip
        if m.voice == "recording":  # both sides or none (capture/voice.py)
            said += "; " + _("the call's voice: the agent on the left, the caller on the right")
        elif m.voice.startswith("no voice"):
            why = m.voice.removeprefix("no voice: ")
            said += "; " + _("no voice in this recording: {why}").format(why=why)
        return said

    def meta(self, rid: str) -> RecordingMeta:
        try:
            return self.vault.get(rid)
        except VaultError as exc:
            raise ConsoleError(str(exc)) from None
