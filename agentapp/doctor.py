"""`agentapp doctor`: can this workstation record? One line per check: OK, or why not and
what to do. Nothing here changes anything, and nothing takes over a running agent's
connection (baresip serves one control client: with the agent running, its status is read)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from agentapp import layout
from agentapp.core.policy import Policy
from agentapp.core.readiness import MIN_FREE_BYTES, DeskFacts, Ready, readiness
from agentapp.platform.base import WindowInfo, WindowLocator
from agentapp.settings import Settings


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


HEADROOM_BYTES = 1 << 30  # doctor's advice: ~40 hours of a 720p window at 25 MB/h


def _data_folder_check(s: Settings) -> Check:
    from agentapp.datafolder import UnsafeFolder, check

    try:
        check(str(s.data_dir))
    except UnsafeFolder as exc:
        fix = "make it and everything in it yours alone (no links, not writable by others)"
        return Check("data folder", False, str(exc), fix)
    return Check("data folder", True, f"{s.data_dir} (yours alone)")


def run_checks(s: Settings) -> list[Check]:
    from agentapp.core.notice import notice_digest
    from agentapp.core.policy import PolicyError
    from agentapp.platform.base import NullLocator
    from agentapp.platform.factory import create_locator
    from agentapp.telephony.hook import socket_path
    from agentapp.vault.acknowledgements import AcknowledgementStore
    from agentapp.vault.keys import (
        KeyProblem,
        installed_public_key_path,
        keystore_problem,
        load_public_key,
    )

    checks: list[Check] = [_install_check(s), _data_folder_check(s)]
    locator = create_locator()
    locator_problem = locator.reason if isinstance(locator, NullLocator) else None
    if locator_problem is not None:
        checks.append(Check("display", False, locator_problem, "log in to an X11 session"))
    else:
        from agentapp.platform.x11 import system_tray_present

        checks.append(Check("display", True, "X11 display reachable"))
        checks.append(_capture_check(locator))
        tray = system_tray_present()
        checks.append(Check("tray", tray, "system tray host present" if tray else
                            "no system tray: the agent shows an always-visible status window",
                            "add a tray (notification area) to the desktop panel"))  # fmt: skip
    policy = None
    try:
        from agentapp.settings import policy_loader

        policy = policy_loader(s)()
        checks.append(Check("policy", True, f"{s.policy_path} (version {policy.version})"))
    except PolicyError as exc:
        checks.append(Check("policy", False, str(exc), "install a valid policy"))
    key_problem = None
    try:
        recording_key = installed_public_key_path(s.data_dir)
        load_public_key(recording_key)
        checks.append(Check("recording key", True, str(recording_key)))
    except KeyProblem as exc:
        key_problem = str(exc)
        checks.append(Check("recording key", False, str(exc), "install the site's public key"))
    if policy is not None:
        e = policy.enrolment_for(s.agent)
        if e is None:
            enrolled = "not enrolled (never recorded)"
        else:
            enrolled = f"enrolled in '{e.training}' {e.start} → {e.end}"
        checks.append(Check("enrolment", True, f"{s.agent}: {enrolled}"))
        acked = AcknowledgementStore(layout.acknowledgements(s.data_dir)).acknowledged(
            s.agent, notice_digest(policy, s.agent)
        )
        if e is not None:
            fix = "the agent reads it in the tray (or 'agentapp notice')"
            checks.append(Check("notice", acked, "acknowledged" if acked else "missing", fix))
        found = None if isinstance(locator, NullLocator) else locator.find(policy.applications)
        where = f"'{found[1].name}' open now: {found[0].title!r}" if found else None
        checks.append(Check(
            "business window", found is not None, where or "no whitelisted window open now",
            "open the business application, or fix the policy's [[application]] rule",
        ))  # fmt: skip
        if any(r.reads_page for r in policy.applications + policy.sensitive):
            checks.append(_pages_check(policy, found[0] if found else None))
    locator.close()
    if s.config.site is not None:
        checks.append(_site_check(s.config.site))
    checks.append(_source_check(s, socket_path(s.data_dir)))
    problem = keystore_problem()
    checks.append(Check("key store", problem is None, problem or "OS key store available",
                        "run a Secret Service (gnome-keyring) in the session: no recording "
                        "without a signed audit trail"))  # fmt: skip
    checks.append(_clock_check(s.data_dir, time.time()))
    s.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    free = shutil.disk_usage(s.data_dir).free
    low = " — less than 1 GB: free some space soon" if free < HEADROOM_BYTES else ""
    checks.append(Check("disk", free >= MIN_FREE_BYTES,
                        f"{free / 1e9:.1f} GB free in {s.data_dir}{low} (the agent records "
                        f"nothing below {MIN_FREE_BYTES // 2**20} MB)",
                        "free some space (recording stops when the disk is full)"))  # fmt: skip
    if policy is not None:  # the agent's own answer, from what was found above
        v = readiness(policy, s.agent, DeskFacts(
            dt.date.today(), key_problem=key_problem, free_bytes=free,
            display_problem=locator_problem, acknowledged=acked,
        ))  # fmt: skip
        checks.append(Check("next call", v.ready in (Ready.YES, Ready.NOT_ENROLLED),
                            f"{v.ready.value}: {v.detail}",
                            "see the checks above"))  # fmt: skip
    return checks


def _capture_check(locator: WindowLocator) -> Check:
    """How a call would be captured here: per-window (only the business window's pixels
    are read) or the masked fallback (its rectangle, everything above it blacked out)."""
    from agentapp.capture.pipeline import ReaderUnavailable
    from agentapp.platform.base import CaptureMode

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

    from agentapp import __version__
    from agentapp.settings import config_path

    how = "bundle" if getattr(sys, "frozen", False) else "Python package"
    where = Path(sys.executable if how == "bundle" else __file__).resolve().parent
    cfg = config_path(s.data_dir)
    read = f"settings {cfg}" if cfg.exists() else "no agent.toml (defaults)"
    return Check("agentapp", True, f"version {__version__} ({how} in {where}); {read}; "
                 f"data {s.data_dir}")  # fmt: skip


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


def _site_check(site: Path) -> Check:
    from agentapp.site.sync import site_policy_path

    if not site_policy_path(site).is_file():
        return Check("site", False, f"no policy at {site_policy_path(site)}",
                     "mount the site folder, or publish a policy to it")  # fmt: skip
    if not layout.recordings(site).is_dir():
        return Check("site", False, f"no drop area {site / 'recordings'}",
                     "publish a policy (it creates it) or create the folder")  # fmt: skip
    return Check("site", True, f"{site}: policy and drop area reachable")


def _source_check(s: Settings, sock: Path) -> Check:
    from agentapp.telephony.hook import agent_listening, agent_status

    cfg = s.config.source
    running = agent_listening(sock)
    if cfg.kind == "hook":
        return Check("event source", running, "local hook: " + (
            "agent listening" if running else "agent not running"
        ), "start the agent: agentapp")  # fmt: skip
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
            active, _ = protocol.handshake(Connection(conn_sock, protocol.decode))
    except SourceSetupError as exc:
        return Check("event source", False, str(exc), "agentapp source secret")
    except (OSError, TimeoutError, ProtocolError) as exc:
        return Check("event source", False, f"{cfg.describe}: {exc}",
                     "check the address in agent.toml and that the service runs")  # fmt: skip
    return Check("event source", True, f"{cfg.describe}: reachable, {len(active)} call(s) now")


def report(checks: list[Check], as_json: bool) -> str:
    if as_json:
        return json.dumps([asdict(c) for c in checks], indent=1)
    lines = []
    for c in checks:
        lines.append(f"{'OK  ' if c.ok else 'FAIL'} {c.name:<16} {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"     {'':<16} → {c.fix}")
    return "\n".join(lines)
