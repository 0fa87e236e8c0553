"""`agentapp doctor`: can this workstation record? One line per check: OK, or why not and
what to do — the fix fitting the desk's role (an agent's desk, a trainer's, the site's admin:
see `desk_role`). Nothing here changes anything, and nothing takes over a running agent's
connection (baresip serves one control client: with the agent running, its status is read).
The checks' names and fixes are in the person's language (agentapp/i18n); `--json` keeps
the English names, for scripts."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from agentapp.agent.settings import Settings
from agentapp.core.policy import VOICE_SOFTPHONE, Policy
from agentapp.core.readiness import MIN_FREE_BYTES, DeskFacts, Ready, readiness
from agentapp.files import layout
from agentapp.i18n import N_, _, number
from agentapp.platform.base import WindowInfo, WindowLocator


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


HEADROOM_BYTES = 1 << 30  # doctor's advice: ~40 hours of a 720p window at 25 MB/h
AGENT_DESK, TRAINER_DESK, SITE_ADMIN = N_("agent desk"), N_("trainer desk"), N_("site admin")
NAMES = {n: n for n in (N_("agentapp"), N_("data folder"), N_("display"), N_("capture"),
                        N_("tray"), N_("policy"), N_("recording key"), N_("enrolment"),
                        N_("notice"), N_("business window"), N_("web pages"), N_("site"),
                        N_("event source"), N_("key store"), N_("clock"), N_("disk"),
                        N_("next call"), N_("register"), N_("desk"), N_("voice"),
                        N_("writable"))}  # fmt: skip
RECONFIGURE = "sudo dpkg-reconfigure agentapp"


def desk_role(policy: Policy | None, user: str) -> str:
    """Whose desk this is, from the policy: its admins/DPO run the site, its trainers review;
    everyone else is an agent (and never holds a private key)."""
    from agentapp.core.access import person

    role = person(policy, user).role if policy is not None else "agent"
    return {"admin": SITE_ADMIN, "trainer": TRAINER_DESK}.get(role, AGENT_DESK)


def _data_folder_check(s: Settings) -> Check:
    from agentapp.files.datafolder import UnsafeFolder, check

    try:
        check(str(s.data_dir))
    except UnsafeFolder as exc:
        fix = _("make it and everything in it yours alone (no links, not writable by others)")
        return Check("data folder", False, str(exc), fix)
    return Check("data folder", True, f"{s.data_dir} (yours alone)")


def run_checks(s: Settings) -> list[Check]:
    from agentapp.core.notice import notice_digest
    from agentapp.core.policy import PolicyError
    from agentapp.platform.base import NullLocator
    from agentapp.platform.factory import create_locator, wayland
    from agentapp.telephony.hook import socket_path
    from agentapp.vault.acknowledgements import AcknowledgementStore
    from agentapp.vault.keys import (
        KeyProblem,
        ensure_keystore,
        installed_public_key_path,
        load_public_key,
    )

    checks: list[Check] = [_install_check(s), _data_folder_check(s)]
    locator = create_locator()
    locator_problem = locator.reason if isinstance(locator, NullLocator) else None
    if locator_problem is not None:
        fix = (_("on GNOME, enable the agentapp desk extension (installed with the package); "
                 "or log in to an X11 (Xorg) session") if wayland()
               else _("log in to an X11 session"))  # fmt: skip
        checks.append(Check("display", False, locator_problem, fix))
    elif wayland():
        checks.append(Check("display", True, _("GNOME Shell on Wayland, its agentapp desk "
                                               "extension answering")))  # fmt: skip
        checks.append(_screencast_check())
    else:
        from agentapp.platform.x11 import system_tray_present

        checks.append(Check("display", True, _("X11 display reachable")))
        checks.append(_capture_check(locator))
        tray = system_tray_present()
        checks.append(Check("tray", tray, _("system tray host present") if tray else
                            _("no system tray: the agent shows an always-visible status window"),
                            _("add a tray (notification area) to the desktop panel")))  # fmt: skip
    policy = None
    policy_problem = ""
    try:
        from agentapp.agent.settings import policy_loader

        policy = policy_loader(s)()
    except PolicyError as exc:
        policy_problem = str(exc)
    role = desk_role(policy, s.user)
    checks.append(Check("desk", True, _(role) + (f" ({s.user})" if role != AGENT_DESK else "")))
    if policy is not None:
        checks.append(Check("policy", True, _("{path} (version {version})").format(
            path=s.policy_path, version=policy.version)))  # fmt: skip
    elif s.config.site is not None and not s.policy_path.exists() and role == AGENT_DESK:
        checks.append(Check("policy", False, _("waiting for the site's policy: {reason}").format(
            reason=policy_problem), _("it arrives from the site folder within seconds; if it "
            "does not, ask IT to check the site folder ({command})").format(
            command=RECONFIGURE)))  # fmt: skip
    else:
        checks.append(Check("policy", False, policy_problem, _POLICY_FIX[role].format(
            command=RECONFIGURE)))  # fmt: skip
    key_problem = None
    try:
        recording_key = installed_public_key_path(s.data_dir)
        load_public_key(recording_key)
        checks.append(Check("recording key", True, str(recording_key)))
    except KeyProblem as exc:
        key_problem = str(exc)
        checks.append(Check("recording key", False, str(exc), _(_KEY_FIX[role]).format(
            command=RECONFIGURE)))  # fmt: skip
    if policy is not None:
        e = policy.enrolment_for(s.agent)
        if e is None:
            enrolled = _("not enrolled (never recorded)")
        else:
            enrolled = _("enrolled in “{training}” {start} → {end}").format(
                training=e.training, start=e.start, end=e.end)  # fmt: skip
        checks.append(Check("enrolment", True, f"{s.agent}: {enrolled}"))
        acked = AcknowledgementStore(layout.acknowledgements(s.data_dir)).acknowledged(
            s.agent, notice_digest(policy, s.agent)
        )
        if e is not None:
            fix = _("the agent reads it in the tray (or 'agentapp notice')")
            checks.append(Check("notice", acked, _("acknowledged") if acked else _("missing"),
                                fix))  # fmt: skip
        found = None if isinstance(locator, NullLocator) else locator.find(policy.applications)
        where = (_("“{name}” open now: {title!r}").format(name=found[1].name, title=found[0].title)
                 if found else None)  # fmt: skip
        checks.append(Check(
            "business window", found is not None, where or _("no whitelisted window open now"),
            _("open the business application, or fix the policy's [[application]] rule"),
        ))  # fmt: skip
        if role != AGENT_DESK:
            checks.append(_register_check(policy))
        if any(r.reads_page for r in policy.applications + policy.sensitive):
            checks.append(_pages_check(policy, found[0] if found else None))
        if e is not None and policy.voice_for(s.agent) == VOICE_SOFTPHONE:
            checks.append(_voice_check(policy))
    locator.close()
    if s.config.site is not None:
        checks.append(_site_check(s.config.site, role))
    elif role == AGENT_DESK:
        checks.append(Check("site", True, _("no site folder: recordings stay on this desk "
                                            "(IT sets one with {command})").format(
            command=RECONFIGURE)))  # fmt: skip
    checks.append(_source_check(s, socket_path(s.data_dir)))
    from agentapp.files.paths import system_dir

    store = ensure_keystore(system_dir())  # (a kiosk desk's is unlocked, as the agent would)
    checks.append(Check("key store", store.ok, store.detail,
                        _("run a Secret Service (gnome-keyring) in the session; on a desk "
                          "without a login key store (autologin, kiosk), IT runs "
                          "{command}: no recording without a signed audit trail").format(
                            command="sudo agentapp machine kiosk-keystore USER")))  # fmt: skip
    if s.config.hub is not None:
        checks.append(_hub_check(s))
    checks.append(_clock_check(s.data_dir, time.time()))
    s.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    free = shutil.disk_usage(s.data_dir).free
    low = _(" — less than 1 GB: free some space soon") if free < HEADROOM_BYTES else ""
    checks.append(Check("disk", free >= MIN_FREE_BYTES,
                        _("{gb} GB free in {path}{low} (the agent records nothing below {mb} MB)")
                        .format(gb=number(round(free / 1e9, 1)), path=s.data_dir, low=low,
                                mb=MIN_FREE_BYTES // 2**20),
                        _("free some space (recording stops when the disk is full)")))  # fmt: skip
    unwritable = _writable_check(s.data_dir, checks)
    if policy is not None:  # the agent's own answer, from what was found above
        v = readiness(policy, s.agent, DeskFacts(
            dt.date.today(), key_problem=key_problem, free_bytes=free,
            display_problem=locator_problem, acknowledged=acked, vault_problem=unwritable,
        ))  # fmt: skip
        checks.append(Check("next call", v.ready in (Ready.YES, Ready.NOT_ENROLLED),
                            f"{v.ready.value}: {v.detail}",
                            _("see the checks above")))  # fmt: skip
    return checks


def _writable_check(data_dir: Path, checks: list[Check]) -> str | None:
    """Can a recording and the trail be written here now (a folder turned read-only by a
    disk error, a trail someone made read-only)? Adds its check; returns the problem."""
    from agentapp.vault.store import write_problem

    folder = layout.recordings(data_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        pass  # said by the probe
    problem = write_problem(folder, data_dir / layout.AUDIT)
    checks.append(Check("writable", problem is None,
                        problem or _("recordings and the audit trail can be written in {path}")
                        .format(path=data_dir),
                        _("the disk may have turned read-only after an error: ask IT to check "
                          "it (the agent records nothing until it can write)")))  # fmt: skip
    return problem


def _screencast_check() -> Check:
    """GNOME on Wayland: the window's pixels come from Mutter's ScreenCast through GStreamer."""
    from agentapp.capture.screencast import ScreenCastReader
    from agentapp.platform.base import ReaderUnavailable

    try:
        ScreenCastReader().close()
    except ReaderUnavailable as exc:
        return Check("capture", False, str(exc), _("install the package's dependencies "
                     "(python3-gi, gir1.2-gstreamer-1.0, gstreamer1.0-pipewire)"))  # fmt: skip
    return Check("capture", True, "per-window capture (Mutter's ScreenCast of the business "
                 "window alone): only its own pixels are read")  # fmt: skip


def _capture_check(locator: WindowLocator) -> Check:
    """How a call would be captured here: per-window (only the business window's pixels
    are read) or the masked fallback (its rectangle, everything above it blacked out)."""
    from agentapp.platform.base import CaptureMode, ReaderUnavailable

    why = locator.mode_reason
    if locator.mode is CaptureMode.COMPOSITE:
        try:
            from agentapp.capture.xshm import ShmReader

            ShmReader().close()
            return Check("capture", True, "per-window capture (Composite, DAMAGE, MIT-SHM): "
                         "only the business window's own pixels are read")  # fmt: skip
        except ReaderUnavailable as exc:
            why = str(exc)
    return Check("capture", True, f"masked capture: {why}; the business window's rectangle is "
                 "read and everything above it blacked out (enable the X server's Composite, "
                 "DAMAGE and MIT-SHM extensions for per-window capture)")  # fmt: skip


def _pages_check(policy: Policy, window: WindowInfo | None) -> Check:
    """URL and field rules: can the page the business browser window shows be read?"""
    from urllib.parse import urlsplit

    from agentapp.platform.atspi import PageUnknown, bus_address, look_once

    fix = ("start the browser with accessibility on (GNOME_ACCESSIBILITY=1 in the session; "
           "Chromium, Chrome, Edge also --force-renderer-accessibility) and keep the "
           "session's accessibility bus (Debian: at-spi2-core)")  # fmt: skip
    try:
        if window is None:
            bus_address()
            return Check("web pages", True, "accessibility bus reachable; open the business "
                         "page to check that the browser shows it")  # fmt: skip
        page = look_once(window, any(r.field_pattern for r in policy.sensitive))
    except PageUnknown as exc:
        return Check("web pages", False, f"URL and field rules cannot be checked: {exc}; "
                     "nothing is recorded", fix)  # fmt: skip
    except (OSError, ValueError) as exc:
        return Check("web pages", False, f"the accessibility bus cannot be used ({exc})", fix)
    hosts = sorted({urlsplit(u).netloc or urlsplit(u).scheme for u in page.urls})
    ok = any(r.matches_page(page) for r in policy.applications)
    detail = f"the page's address can be read (host: {', '.join(hosts)})" + (
        "" if ok else "; it does not match the [[application]] rule's url_pattern"
    )
    return Check("web pages", ok, detail, "open the business page, or fix url_pattern")


def _install_check(s: Settings) -> Check:
    """What runs, and which settings it read: enough for IT to tell a desk's set-up apart."""
    import sys

    import agentapp
    from agentapp import __version__
    from agentapp.agent.settings import config_path
    from agentapp.files.logs import log_place

    how = "bundle" if getattr(sys, "frozen", False) else "Python package"
    where = Path(sys.executable if how == "bundle" else agentapp.__file__).resolve().parent
    cfg = config_path(s.data_dir)
    read = f"settings {cfg}" if cfg.exists() else "no agent.toml (defaults)"
    return Check("agentapp", True, f"version {__version__} ({how} in {where}); {read}; "
                 f"data {s.data_dir}; log {log_place(s.data_dir).describe()}")  # fmt: skip


def clock_problem(now: float, latest: float | None) -> str | None:
    """A wall clock behind what this agent already wrote (or absurd) misdates recordings and
    delays their purge; None when it looks sane."""
    if now < 1_735_689_600:  # 2025-01-01: older than this software
        return "the clock is set before 2025"
    if latest is not None and now < latest - 60:
        late = dt.datetime.fromtimestamp(latest, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"the clock is behind the last audit entry ({late})"
    return None


def _clock_check(data_dir: Path, now: float) -> Check:
    from agentapp.core.auditchain import parse_line

    latest = None
    try:
        lines = (data_dir / layout.AUDIT).read_text().splitlines()
        entry = parse_line(lines[-1]) if lines else None
        if entry is not None:
            latest = dt.datetime.fromisoformat(entry["at"]).timestamp()
    except (OSError, ValueError):
        pass
    problem = clock_problem(now, latest)
    shown = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Check("clock", problem is None, problem or f"{shown}, after the last audit entry",
                 "set the time (NTP): recordings are dated and purged by it")  # fmt: skip


_POLICY_FIX = {
    AGENT_DESK: N_("ask IT to install the site's policy ({command})"),
    TRAINER_DESK: N_("publish a valid policy from the console or with 'agentapp policy publish'"),
    SITE_ADMIN: N_("publish a valid policy from the console or with 'agentapp policy publish'"),
}
_KEY_FIX = {
    AGENT_DESK: N_(
        "ask IT to install the site's recording public key ({command}); an agent "
        "desk never holds a private key"
    ),
    TRAINER_DESK: N_(
        "on a trainer's or the DPO's desk only: 'agentapp keys init' creates the "
        "pair (the private key stays in your key store); IT gives the public key "
        "to every desk ({command})"
    ),
    SITE_ADMIN: N_(
        "on a trainer's or the DPO's desk only: 'agentapp keys init' creates the "
        "pair (the private key stays in your key store); IT gives the public key "
        "to every desk ({command})"
    ),
}
_MISSING = {
    "staff": N_("the staff representatives' consultation (date and body)"),
    "dpo": N_("the DPO's opinion (date and summary)"),
    "dpia": N_("the impact assessment (DPIA) reference"),
}


def _voice_check(policy: Policy) -> Check:
    """Can the call's voice be read here: the sound server's tools, and the softphone's own
    streams (they exist only during a call: without one, saying where they will be found)."""
    from agentapp.platform import pulse

    missing = pulse.available()
    if missing is not None:
        return Check("voice", False, _("the call's voice cannot be recorded: {why}").format(
            why=missing), _("install pulseaudio-utils (pactl, parec)"))  # fmt: skip
    rule = policy.softphone
    assert rule is not None  # (the parser requires it with voice = "softphone")
    try:
        found = pulse.find(rule)
    except OSError as exc:
        return Check("voice", False, _("the sound server cannot be asked: {exc}").format(
            exc=exc), _("log in to a desktop session with PulseAudio or PipeWire"))  # fmt: skip
    name = rule.binary or rule.application_name
    if found.far is not None and found.near is not None:
        said = _("{name}: its playback stream and its microphone are found: both voices will "
                 "be recorded").format(name=name)  # fmt: skip
    elif found.far is None and found.near is None:
        said = _("{name} has no sound stream now ({why}): they are looked for at every "
                 "call").format(name=name, why=found.why)  # fmt: skip
    else:  # one side: a voice is kept only with both, so this desk would keep none
        return Check("voice", False, _("{name}: only one side of the call is found ({why}): "
                                       "no voice would be kept, neither side").format(
                         name=name, why=found.why),
                     _("give the softphone a headset microphone of its own (not the monitor "
                       "of its output)"))  # fmt: skip
    return Check("voice", True, said)


def _register_check(policy: Policy) -> Check:
    """What the DPO signs: on a trainer's or admin's desk, warn while any of it is missing."""
    missing = policy.governance.missing()
    if not missing:
        return Check("register", True, _("consultation, DPO opinion and DPIA recorded"))
    return Check("register", False, _("still missing: {what}").format(
        what="; ".join(_(_MISSING[m]) for m in missing)),
        _("record them in the policy's [register] table (docs/guides/dpo.en.md)"))  # fmt: skip


def _hub_check(s: Settings) -> Check:
    """The hub answers this desk's own login over verified TLS, and counts its week."""
    from agentapp.hub.admin import refused
    from agentapp.hub.connect import HubError, desk_connect, one_row

    assert s.config.hub is not None
    fix = _("agentapp hub login (and check [hub] url and ca in agent.toml)")
    try:
        with desk_connect(s.config.hub, app="agentapp doctor") as db, refused(_("answer")):
            person, kind = one_row(db, "SELECT agentapp.me(), agentapp.my_kind()")
            used = None
            if kind == "desk":
                (used,) = one_row(db, "SELECT agentapp.week_used(%s)", (s.agent,))
    except HubError as exc:
        return Check("hub", False, _("calls are not recorded: {exc}").format(exc=exc), fix)
    if kind != "desk":
        return Check("hub", False, _("{user} is not a desk's login at the hub").format(
            user=s.config.hub.user), fix)  # fmt: skip
    return Check("hub", True, _("{url}: this desk is {person}; {agent}: {n} recordings this "
                                "week across desks").format(url=s.config.hub.url, person=person,
                                                            agent=s.agent, n=used))  # fmt: skip


def _site_check(site: Path, role: str) -> Check:
    from agentapp.site.sync import site_policy_path

    if not site_policy_path(site).is_file():
        fix = (_("ask IT to mount the site folder ({command} sets it)").format(
            command=RECONFIGURE) if role == AGENT_DESK
            else _("mount the site folder, or publish a policy to it"))  # fmt: skip
        return Check("site", False, _("no policy at {path}").format(
            path=site_policy_path(site)), fix)  # fmt: skip
    if not layout.recordings(site).is_dir():
        return Check("site", False, _("no drop area {path}").format(path=site / "recordings"),
                     _("publish a policy (it creates it) or create the folder"))  # fmt: skip
    return Check("site", True, _("{path}: policy and drop area reachable").format(path=site))


def _source_check(s: Settings, sock: Path) -> Check:
    from agentapp.telephony.hook import agent_listening, agent_status

    cfg = s.config.source
    running = agent_listening(sock)
    if cfg.kind == "hook":
        return Check("event source", running, _("local hook: agent listening") if running
                     else _("local hook: agent not running"),
                     _("start the agent: agentapp"))  # fmt: skip
    if running:
        status = agent_status(s.data_dir)  # from its memory, not a file that may be stale
        down = "event source" in str(status.get("detail", ""))
        return Check("event source", not down, str(status.get("detail", "")) if down
                     else f"{cfg.describe}: connected (seen by the running agent)")  # fmt: skip
    from agentapp.telephony.base import Connection, ProtocolError
    from agentapp.telephony.factory import SourceSetupError, protocol_factory

    try:
        protocol = protocol_factory(cfg)()
        with socket.create_connection((cfg.host, cfg.port), timeout=3) as conn_sock:
            active, _rest = protocol.handshake(Connection(conn_sock, protocol.decode))
    except SourceSetupError as exc:
        return Check("event source", False, str(exc), "agentapp source secret")
    except (OSError, TimeoutError, ProtocolError) as exc:
        return Check(
            "event source",
            False,
            f"{cfg.describe}: {exc}",
            _("check the address in agent.toml and that the service runs"),
        )
    return Check("event source", True, f"{cfg.describe}: reachable, {len(active)} call(s) now")


def report(checks: list[Check], as_json: bool) -> str:
    if as_json:
        return json.dumps([asdict(c) for c in checks], indent=1)
    lines = []
    ok, fail = _("OK"), _("FAIL")
    width = max(len(ok), len(fail))
    for c in checks:
        lines.append(f"{(ok if c.ok else fail):<{width}} {_(NAMES.get(c.name, c.name)):<16} "
                     f"{c.detail}")  # fmt: skip
        if not c.ok and c.fix:
            lines.append(f"{'':<{width}} {'':<16} → {c.fix}")
    return "\n".join(lines)
