"""The recording policy: what a trainer decided, validated before anything may be recorded.

A policy is a TOML document (format documented in README.md). Loading it validates every
rule of docs/rules.md that can be checked statically; a policy that fails is refused as a whole
with one clear message (PolicyError), and the agent then records nothing.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from agentapp.core.errors import Refusal
from agentapp.core.grid import Grid, parse_grids
from agentapp.core.tables import TableReader
from agentapp.i18n import _

PURPOSE = "training"
MAX_RETENTION_DAYS = 183  # six months (docs/rules.md R9)
MAX_NOTES_RETENTION_DAYS = 365  # analysis notes and grids: one year (R9)
MAX_DEROGATION_DAYS = 1096  # even a formal derogation stays bounded (three years)
MAX_ENROLMENT_DAYS = 183
MAX_WEEKLY_QUOTA = 200
MAX_SAMPLING_PERCENT = 50  # more only with a stated reason (sampling_reason), shown in the notice
DEFAULT_REVIEW_MINUTES = 15  # a trainer's time to analyse one recording
DEFAULT_TRAINING_MINUTES = 120  # weekly review time assumed for a training no trainer declares
MAX_TRAINER_MINUTES = 40 * 60  # a trainer's whole week
DEFAULT_LOOKBEHIND_MS = 500  # a frame is kept once its window still matched this long after
MAX_LOOKBEHIND_MS = 2000
DEFAULT_HOTKEY = "<ctrl>+<alt>+p"
_HOTKEY = re.compile(r"^(<(ctrl|alt|shift|cmd|super)>\+)+([a-z0-9]|<f([1-9]|1[0-2])>)$")


class PolicyError(Refusal, ValueError):
    """The policy is refused. The message says what to fix; `details` gives the location."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message, details=details)


@dataclass(frozen=True, slots=True)
class Page:
    """What a browser window shows, as its accessibility tree says (read by a per-OS adapter).

    `urls`: the documents shown at the top level (one tab; two in a split view).
    `inner_urls`: documents of frames shown inside them (iframes, e.g. a payment provider's).
    `fields`: the accessible names of the input fields shown ("Numéro de carte").
    """

    urls: tuple[str, ...]
    inner_urls: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WindowRule:
    """Whitelist entry for a business application window (or a sensitive one). Every given
    field must match.

    `url_pattern` and `field_pattern` are read from the page the business window shows (a
    web application in a browser): an application rule's `url_pattern` must match every
    document shown; a sensitive rule matches when a shown document or inner frame has a
    matching URL, or a shown input field a matching accessible name (`field_pattern`,
    sensitive rules only).
    """

    name: str
    wm_class: str | None = None
    executable: str | None = None
    title_pattern: re.Pattern[str] | None = None
    # The application's own pop-ups (menus, tooltips, completion lists, dialogs) may be
    # recorded at their place. Off by default: a browser's "own" pop-ups include tab hover
    # cards and address-bar suggestions of other pages.
    popups: bool = False
    url_pattern: re.Pattern[str] | None = None
    field_pattern: re.Pattern[str] | None = None

    @property
    def reads_window(self) -> bool:
        """Some condition is on the window itself (class, executable, title)."""
        return any(c is not None for c in (self.wm_class, self.executable, self.title_pattern))

    @property
    def reads_page(self) -> bool:
        """Some condition is on the page the window shows (URL, fields)."""
        return self.url_pattern is not None or self.field_pattern is not None

    def matches(self, wm_class: tuple[str, ...], executable: str | None, title: str | None) -> bool:
        """The window's own conditions (page conditions are checked by `matches_page`)."""
        if self.wm_class is not None and self.wm_class.lower() not in (c.lower() for c in wm_class):
            return False
        if self.executable is not None and (executable or "").lower() != self.executable.lower():
            return False
        return self.title_pattern is None or bool(
            title is not None and self.title_pattern.search(title)
        )

    def matches_page(self, page: Page) -> bool:
        """Application rule: every document the window shows has a matching URL."""
        pattern = self.url_pattern
        return pattern is None or (bool(page.urls) and all(pattern.search(u) for u in page.urls))

    def shows_in(self, page: Page) -> bool:
        """Sensitive rule: the page shows a matching document, inner frame or field."""
        url, field = self.url_pattern, self.field_pattern
        if url is not None and not any(url.search(u) for u in page.urls + page.inner_urls):
            return False
        return field is None or any(field.search(f) for f in page.fields)


@dataclass(frozen=True, slots=True)
class Enrolment:
    agent: str
    training: str
    start: dt.date
    end: dt.date  # inclusive
    sampling_percent: int
    weekly_quota: int
    fps: int | None = None  # this trainee's frame rate; None: the policy's [recording] fps
    extension: str | None = None  # their phone extension: calls with them are internal
    voice: str | None = None  # VOICE_OFF / VOICE_SOFTPHONE; None: the policy's [recording] voice


VOICE_OFF, VOICE_SOFTPHONE = "off", "softphone"
VOICES = (VOICE_OFF, VOICE_SOFTPHONE)


@dataclass(frozen=True, slots=True)
class SoftphoneRule:
    """Which program's sound streams are the softphone's, like a window rule: its process
    binary (`baresip`, `microsip.exe`) or the application name it gives the sound server."""

    binary: str | None = None
    application_name: str | None = None


@dataclass(frozen=True, slots=True)
class Controller:
    name: str
    contact: str
    dpo_contact: str


@dataclass(frozen=True, slots=True)
class Derogation:
    """A formal, documented exception to the retention limits (R9): shown in the notice."""

    reference: str
    reason: str


@dataclass(frozen=True, slots=True)
class Trainer:
    name: str
    trainings: tuple[str, ...]
    minutes_per_week: int | None = None  # declared time for analysing recordings (R5, R6)


@dataclass(frozen=True, slots=True)
class Governance:
    """What the DPO signs in the register (R14): the staff representatives' consultation,
    the DPO's opinion, the impact assessment. None / "": not done yet (the register and
    `doctor` on a trainer's desk say so)."""

    staff_consulted_on: dt.date | None = None
    staff_body: str = ""  # e.g. "CSE" (comité social et économique)
    dpo_opinion_on: dt.date | None = None
    dpo_opinion: str = ""  # e.g. "favourable, with the conditions of memo 2026-14"
    dpia_reference: str = ""

    def missing(self) -> list[str]:
        """What is still to do, as stable codes: 'staff', 'dpo', 'dpia'."""
        out = []
        if self.staff_consulted_on is None or not self.staff_body:
            out.append("staff")
        if self.dpo_opinion_on is None or not self.dpo_opinion:
            out.append("dpo")
        if not self.dpia_reference:
            out.append("dpia")
        return out


@dataclass(frozen=True, slots=True)
class Policy:
    version: int
    controller: Controller
    applications: tuple[WindowRule, ...]
    enrolments: tuple[Enrolment, ...]
    fps: int = 10
    segment_seconds: int = 30
    max_call_minutes: int = 60
    lookbehind_ms: int = DEFAULT_LOOKBEHIND_MS
    record_internal_calls: bool = False
    retention_days: int = MAX_RETENTION_DAYS
    purpose: str = PURPOSE
    recipients: tuple[str, ...] = ()  # none given: the notice names the training's trainers
    sensitive: tuple[WindowRule, ...] = ()
    pause_hotkey: str = DEFAULT_HOTKEY
    notes_retention_days: int = MAX_NOTES_RETENTION_DAYS
    derogation: Derogation | None = None
    admins: tuple[str, ...] = ()
    trainers: tuple[Trainer, ...] = ()
    sampling_reason: str = ""  # why more than MAX_SAMPLING_PERCENT of calls may be drawn
    headless_desks: tuple[str, ...] = ()  # host names that may record with no tray (kiosks)
    review_minutes: int = DEFAULT_REVIEW_MINUTES
    governance: Governance = field(default_factory=Governance)
    voice: str = VOICE_OFF  # the call's voice with the video: "off" or "softphone"
    softphone: SoftphoneRule | None = None
    grids: tuple[Grid, ...] = ()  # each training's analysis grid (core/grid.py), if it has one

    def grid_for(self, training: str) -> Grid | None:
        return next((g for g in self.grids if g.training == training), None)

    def voice_for(self, agent: str) -> str:
        """Is the voice recorded with this agent's video (their enrolment, else the policy)?"""
        e = self.enrolment_for(agent)
        return e.voice if e is not None and e.voice is not None else self.voice

    def trainer(self, name: str) -> Trainer | None:
        for t in self.trainers:
            if t.name == name:
                return t
        return None

    def enrolment_for(self, agent: str) -> Enrolment | None:
        for e in self.enrolments:
            if e.agent == agent:
                return e
        return None

    def review_capacity(self, training: str) -> int:
        """Recordings a week the trainers of `training` can analyse: their declared minutes
        (DEFAULT_TRAINING_MINUTES when none declares any) over `review_minutes`."""
        declared = [t.minutes_per_week for t in self.trainers
                    if training in t.trainings and t.minutes_per_week is not None]  # fmt: skip
        minutes = sum(declared) if declared else DEFAULT_TRAINING_MINUTES
        return minutes // self.review_minutes

    def weekly_volume(self, training: str) -> int:
        """At most this many recordings a week in `training` (its agents' quotas)."""
        return sum(e.weekly_quota for e in self.enrolments if e.training == training)


# --------------------------------------------------------------------------- loading


def load_policy(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(_("policy file not found: {path}").format(path=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(
            _("cannot read policy file {path}: {exc}").format(path=path, exc=exc)
        ) from None
    return parse_policy(text, source=str(path))


def parse_policy(text: str, source: str = "policy") -> Policy:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(_("not valid TOML ({exc})").format(exc=exc), source) from None
    r = TableReader(doc, source, PolicyError)
    version = r.whole("version", lo=1, hi=2**31)
    purpose = r.text("purpose", default=PURPOSE)
    if purpose != PURPOSE:
        raise PolicyError(
            _(
                "purpose must be '{PURPOSE}': screen video coupled with calls is "
                "allowed for training only, never for evaluation or discipline "
                "(rule R1)"
            ).format(PURPOSE=PURPOSE),
            f"{source}: purpose",
        )
    c = r.table("controller")
    controller = Controller(
        name=c.text("name"), contact=c.text("contact"), dpo_contact=c.text("dpo_contact")
    )
    c.done()
    rec = r.table("recording")
    fps = rec.whole("fps", default=10, lo=1, hi=30)
    segment_seconds = rec.whole("segment_seconds", default=30, lo=5, hi=600)
    max_call_minutes = rec.whole("max_call_minutes", default=60, lo=1, hi=240)
    lookbehind_ms = rec.whole(
        "lookbehind_ms", default=DEFAULT_LOOKBEHIND_MS, lo=0, hi=MAX_LOOKBEHIND_MS
    )
    sampling = rec.whole("sampling_percent", lo=1, hi=100, default=None)
    quota = rec.whole("weekly_quota", lo=1, hi=MAX_WEEKLY_QUOTA, default=None)
    internal = rec.flag("record_internal_calls", default=False)
    retention = rec.whole(
        "retention_days", default=MAX_RETENTION_DAYS, lo=1, hi=MAX_DEROGATION_DAYS
    )
    notes_retention = rec.whole(
        "notes_retention_days", default=MAX_NOTES_RETENTION_DAYS, lo=1, hi=MAX_DEROGATION_DAYS
    )
    recipients = tuple(rec.texts("recipients", default=[]))
    sampling_reason = rec.text("sampling_reason", default="").strip()
    headless_desks = tuple(rec.texts("headless_desks", default=None) or ())
    review_minutes = rec.whole("review_minutes", default=DEFAULT_REVIEW_MINUTES, lo=1, hi=240)
    hotkey = rec.text("pause_hotkey", default=DEFAULT_HOTKEY)
    voice = _voice(rec) or VOICE_OFF
    if not _HOTKEY.match(hotkey):
        raise PolicyError(
            _(
                "pause_hotkey must be modifiers and a key, like <ctrl>+<alt>+p "
                "or <ctrl>+<shift>+<f9>"
            ),
            rec.where,
        )
    rec.done()
    derogation = _derogation(r.optional_table("derogation"))
    if derogation is None and retention > MAX_RETENTION_DAYS:
        raise PolicyError(
            _(
                "retention_days = {retention} is over 6 months "
                "({MAX_RETENTION_DAYS} days): allowed only with a [derogation] "
                "table giving its reference and reason (rule R9)"
            ).format(retention=retention, MAX_RETENTION_DAYS=MAX_RETENTION_DAYS),
            rec.where,
        )
    if derogation is None and notes_retention > MAX_NOTES_RETENTION_DAYS:
        raise PolicyError(
            _(
                "notes_retention_days = {notes_retention} is over 1 year "
                "({MAX_NOTES_RETENTION_DAYS} days): allowed only with a "
                "[derogation] table giving its reference and reason (rule R9)"
            ).format(
                notes_retention=notes_retention, MAX_NOTES_RETENTION_DAYS=MAX_NOTES_RETENTION_DAYS
            ),
            rec.where,
        )
    governance = _governance(r.optional_table("register"))
    access = r.optional_table("access")
    admins: tuple[str, ...] = ()
    if access is not None:
        admins = tuple(access.texts("admins", default=[]))
        access.done()
    trainers = tuple(_trainer(t) for t in r.tables("trainer"))
    if len({t.name for t in trainers}) != len(trainers):
        raise PolicyError(_("a [[trainer]] is listed twice"), source)

    apps = tuple(_window_rule(t, "application") for t in r.tables("application"))
    if not apps:
        raise PolicyError(
            _(
                "no [[application]] whitelisted: name the business application "
                "window to record (rule R3)"
            ),
            source,
        )
    sensitive = tuple(_window_rule(t, "sensitive") for t in r.tables("sensitive"))
    softphone = _softphone(r.optional_table("softphone"))
    enrolments: list[Enrolment] = []
    seen: set[str] = set()
    for t in r.tables("enrolment"):
        e = _enrolment(t, sampling, quota)
        if e.agent in seen:
            raise PolicyError(_("agent '{agent}' is enrolled twice").format(agent=e.agent), t.where)
        seen.add(e.agent)
        enrolments.append(e)
    known = {e.training for e in enrolments} | {n for t in trainers for n in t.trainings}
    grids = parse_grids(r.tables("grid"), known, PolicyError)
    r.done()
    _proportionate(enrolments, sampling_reason, source)
    if softphone is None and VOICE_SOFTPHONE in (voice, *(e.voice for e in enrolments)):
        raise PolicyError(
            _(
                'voice = "softphone" needs a [softphone] table naming the softphone\'s '
                "program (binary or application_name): only its own sound is recorded"
            ),
            source,
        )
    policy = Policy(
        version=version,
        purpose=purpose,
        controller=controller,
        applications=apps,
        enrolments=tuple(enrolments),
        fps=fps,
        segment_seconds=segment_seconds,
        max_call_minutes=max_call_minutes,
        lookbehind_ms=lookbehind_ms,
        record_internal_calls=internal,
        retention_days=retention,
        recipients=recipients,
        sensitive=sensitive,
        pause_hotkey=hotkey,
        notes_retention_days=notes_retention,
        derogation=derogation,
        admins=admins,
        trainers=trainers,
        sampling_reason=sampling_reason,
        review_minutes=review_minutes,
        headless_desks=headless_desks,
        governance=governance,
        voice=voice,
        softphone=softphone,
        grids=grids,
    )
    for training in sorted({e.training for e in enrolments}):
        volume, capacity = policy.weekly_volume(training), policy.review_capacity(training)
        if volume > capacity:
            raise PolicyError(
                _(
                    "training '{training}' could bring {volume} recordings a week "
                    "(the weekly quotas of its agents), more than its trainers can "
                    "analyse: {capacity} a week at review_minutes = "
                    "{review_minutes}. Lower the quotas or enrol fewer agents, or "
                    "declare the trainers' minutes_per_week (recording only what "
                    "will be reviewed, rules R5, R6)"
                ).format(
                    training=training,
                    volume=volume,
                    capacity=capacity,
                    review_minutes=review_minutes,
                ),
                source,
            )
    return policy


def _proportionate(enrolments: list[Enrolment], sampling_reason: str, source: str) -> None:
    """Never systematic (R6): at most MAX_SAMPLING_PERCENT of calls, unless a reason is given."""
    for e in enrolments:
        if e.sampling_percent > MAX_SAMPLING_PERCENT and len(sampling_reason) < 10:
            raise PolicyError(
                _(
                    "sampling_percent = {sampling_percent} for '{agent}': at most "
                    "{MAX_SAMPLING_PERCENT} % of calls are drawn, or recording "
                    "becomes systematic; more only with [recording] sampling_reason "
                    "saying why (shown in the notice and the register, rule R6)"
                ).format(
                    sampling_percent=e.sampling_percent,
                    agent=e.agent,
                    MAX_SAMPLING_PERCENT=MAX_SAMPLING_PERCENT,
                ),
                source,
            )


def _derogation(t: TableReader | None) -> Derogation | None:
    if t is None:
        return None
    d = Derogation(reference=t.text("reference").strip(), reason=t.text("reason").strip())
    t.done()
    if len(d.reference) < 3 or len(d.reason) < 10:
        raise PolicyError(
            _("a derogation needs its reference (the decision or agreement) and a real reason"),
            t.where,
        )
    return d


def _trainer(t: TableReader) -> Trainer:
    name = t.text("name")
    trainings = tuple(t.texts("trainings"))
    minutes = t.whole("minutes_per_week", lo=0, hi=MAX_TRAINER_MINUTES, default=None)
    t.done()
    if not trainings:
        raise PolicyError(_("a trainer needs the trainings they review"), t.where)
    return Trainer(name, trainings, minutes)


def _window_rule(t: TableReader, kind: str) -> WindowRule:
    """An [[application]] (kind "application") or [[sensitive]] rule."""
    name = t.text("name")
    wm_class = t.text("wm_class", default=None)
    exe = t.text("executable", default=None)
    title = _pattern(t, "title_pattern")
    url = _pattern(t, "url_pattern")
    field = _pattern(t, "field_pattern") if kind == "sensitive" else None
    popups = t.flag("popups", default=False) if kind == "application" else False
    t.done()
    rule = WindowRule(
        name=name, wm_class=wm_class, executable=exe, title_pattern=title, popups=popups,
        url_pattern=url, field_pattern=field,
    )  # fmt: skip
    if not rule.reads_window and not rule.reads_page:
        keys = "wm_class, executable, title_pattern, url_pattern"
        if kind == "sensitive":
            keys += ", field_pattern"
        raise PolicyError(
            _("an {kind} rule needs at least one of {keys}").format(kind=kind, keys=keys), t.where
        )
    return rule


def _pattern(t: TableReader, key: str) -> re.Pattern[str] | None:
    text = t.text(key, default=None)
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        raise PolicyError(
            _("{key} is not a valid regular expression ({exc})").format(key=key, exc=exc), t.where
        ) from None


def _governance(t: TableReader | None) -> Governance:
    if t is None:
        return Governance()
    g = Governance(
        staff_consulted_on=t.day("staff_consulted_on", default=None),
        staff_body=t.text("staff_body", default=""),
        dpo_opinion_on=t.day("dpo_opinion_on", default=None),
        dpo_opinion=t.text("dpo_opinion", default=""),
        dpia_reference=t.text("dpia_reference", default=""),
    )
    t.done()
    return g


def _enrolment(t: TableReader, sampling: int | None, quota: int | None) -> Enrolment:
    agent = t.text("agent")
    training = t.text("training")
    start = t.day("start")
    end = t.day("end")
    e_sampling = t.whole("sampling_percent", lo=1, hi=100, default=sampling)
    e_quota = t.whole("weekly_quota", lo=1, hi=MAX_WEEKLY_QUOTA, default=quota)
    fps = t.whole("fps", lo=1, hi=30, default=None)
    extension = t.text("extension", default=None)
    voice = _voice(t, default=None)
    t.done()
    if end < start:
        raise PolicyError(_("end is before start"), t.where)
    if (end - start).days > MAX_ENROLMENT_DAYS:
        raise PolicyError(
            _(
                "enrolment lasts {days} days; at most {MAX_ENROLMENT_DAYS} "
                "(recording is for a bounded training period, rule R5)"
            ).format(days=(end - start).days, MAX_ENROLMENT_DAYS=MAX_ENROLMENT_DAYS),
            t.where,
        )
    if e_quota is None:
        raise PolicyError(
            _(
                "no weekly_quota: this policy would record every call of the "
                "agent without bound; set [recording] weekly_quota or one on the "
                "enrolment (rule R6)"
            ),
            t.where,
        )
    if e_sampling is None:
        raise PolicyError(
            _(
                "no sampling_percent: set [recording] sampling_percent or one on "
                "the enrolment (rule R6: selection is random, never systematic)"
            ),
            t.where,
        )
    return Enrolment(agent, training, start, end, e_sampling, e_quota, fps, extension, voice)


def _voice(t: TableReader, default: str | None = VOICE_OFF) -> str | None:
    voice = t.text("voice", default=default)
    if voice is not None and voice not in VOICES:
        raise PolicyError(
            _('voice must be "off" or "softphone", not {voice!r}').format(voice=voice),
            t.where,
        )
    return voice


def _softphone(t: TableReader | None) -> SoftphoneRule | None:
    if t is None:
        return None
    rule = SoftphoneRule(
        binary=t.text("binary", default=None),
        application_name=t.text("application_name", default=None),
    )
    t.done()
    if rule.binary is None and rule.application_name is None:
        raise PolicyError(
            _("[softphone] needs binary or application_name (the softphone's program)"),
            t.where,
        )
    return rule
