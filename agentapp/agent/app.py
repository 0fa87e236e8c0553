"""The composition root: reads settings, builds the engine and its peers, runs them.

Nothing else wires concrete classes together. Heavy modules (capture, Qt) are imported here
lazily so `agentapp hook` stays fast.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING

from agentapp.agent.settings import (
    Settings,
    pause_hotkey,
    policy_loader,
    signing_key_path,
    ui_language,
)

if TYPE_CHECKING:
    from agentapp.agent.engine import Engine
    from agentapp.agent.status import EngineStatus
    from agentapp.hub.link import HubLink
    from agentapp.platform.base import Desktop, Indicator
    from agentapp.site.shipper import RecordingShipper
    from agentapp.site.sync import PolicySync

log = logging.getLogger("agentapp")


def build_engine(s: Settings, headless: bool = False) -> Engine:
    from agentapp.agent.engine import Engine
    from agentapp.platform.factory import create_desktop, create_softphone_sound

    desktop = create_desktop()
    return Engine(
        agent=s.agent,
        data_dir=s.data_dir,
        policy_path=s.policy_path,
        locator_factory=desktop.windows,
        grabber_factory=desktop.screen,
        reader_factory=desktop.frames,
        page_factory=desktop.pages,
        session_lock_factory=desktop.session_lock,
        voice_factory=create_softphone_sound,
        policy_loader=policy_loader(s),
        headless=headless,
        on_site=s.config.site is not None,
    )


def _start_site(s: Settings, engine: Engine) -> tuple[PolicySync | None, RecordingShipper | None]:
    """Policy sync and recording delivery, when a site folder is configured."""
    if s.config.site is None:
        return None, None
    from agentapp.core.policy import PolicyError
    from agentapp.site.shipper import RecordingShipper
    from agentapp.site.signing import load_public
    from agentapp.site.sync import PolicySync

    shipper = None
    if s.config.hub is None:  # with a hub, recordings go there (_start_hub)
        shipper = RecordingShipper(engine.vault, s.config.site, s.config.site_ship_seconds)
        engine.use_site(shipper.withdraw, shipper.ids_since)
        shipper.start()
    try:
        public = load_public(signing_key_path(s.data_dir))
    except PolicyError as exc:
        engine.desk.site_policy_problem(f"site policy not followed: {exc}")
        return None, shipper
    from agentapp.site.floor import KeyringFloor

    sync = PolicySync(s.config.site, s.policy_path, public, engine.desk.site_policy_problem,
                      floor=KeyringFloor(public))  # fmt: skip
    sync.start()
    return sync, shipper


def _start_hub(s: Settings, engine: Engine) -> HubLink | None:
    """The slot reservation at off-hook, and the trail and recordings shipped, when a hub
    is configured; nothing is recorded until it first answers (hub/link.py)."""
    if s.config.hub is None:
        return None
    from agentapp.hub.link import HubLink

    link = HubLink(s.config.hub, engine.vault, engine.audit, interval=s.config.hub.ship_seconds,
                   on_problem=engine.desk.hub_problem)  # fmt: skip
    engine.use_hub(link.reserve, link.withdraw, link.release)
    link.start()
    return link


def _shell_indicator(engine: Engine, desktop: Desktop) -> Indicator | None:
    """Where the desktop's shell draws the recording indicator (GNOME's top bar), it follows
    the status: the badge's words while a call is recorded, nothing otherwise."""
    if desktop.indicator is None:
        return None
    from agentapp.ui.words import badge

    indicator = desktop.indicator()

    def follow(status: EngineStatus) -> None:
        text = badge(status)
        if text:
            indicator.show(text)
        else:
            indicator.hide()

    engine.add_status_listener(follow)
    follow(engine.status)
    return indicator


def run_agent(s: Settings, headless: bool, stop_event: threading.Event | None = None) -> int:
    """Run the agent until SIGTERM/SIGINT (or `stop_event`, headless), or Quit (tray).

    The hook server, the engine and the secure-pause hotkey run the same way in both modes:
    recording never depends on the tray.
    """
    import faulthandler

    from agentapp.core.clock import SystemClock
    from agentapp.files.paths import system_dir

    if hasattr(signal, "SIGUSR1"):  # kill -USR1: every thread's stack on stderr (a hang)
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    from agentapp.platform.factory import create_desktop
    from agentapp.telephony.hook import HookServer, socket_path
    from agentapp.vault.keys import ensure_keystore

    store = ensure_keystore(system_dir())  # a kiosk desk's is unlocked here (platform/kiosk)
    log.info("key store: %s", store.kind)  # (the log's words stay English: its detail is shown)
    engine = build_engine(s, headless)
    server = HookServer(socket_path(s.data_dir), engine.handle, SystemClock())
    server.claim()  # raises HookError when another agent runs: single instance per user
    engine.start()  # recovers interrupted recordings: only once the socket is ours
    server.serve()  # events queued meanwhile are answered now, by a started engine
    runner = None
    if s.config.source.kind != "hook":
        from agentapp.core.internal import InternalPeers
        from agentapp.telephony.factory import SourceSetupError, make_runner

        peers = InternalPeers(s.config.source.internal_numbers, s.config.source.number_of)
        engine.on_policy(peers.update)  # colleagues' extensions: their calls are internal
        engine.desk.expect_source(s.config.source.describe)
        try:
            runner = make_runner(s.config.source, engine, SystemClock(), peers)
            runner.start()
        except SourceSetupError as exc:
            engine.source_down(s.config.source.describe, str(exc), SystemClock().now())
    combo = pause_hotkey(s)
    desktop = create_desktop()
    hotkey = desktop.hotkey(combo, engine.toggle_pause)
    indicator = _shell_indicator(engine, desktop)
    problem = hotkey.start()
    if problem:
        log.warning(
            "%s; secure pause stays available from the tray and 'agentapp control'", problem
        )
    log.warning(
        "agent running %s for %s (data: %s) — %s",
        "headless" if headless else "with tray",
        s.agent,
        s.data_dir,
        engine.status.detail,
    )
    sync, shipper = _start_site(s, engine)
    hub = _start_hub(s, engine)
    try:
        if headless:
            stop = stop_event or threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            stop.wait()  # a signal's handler runs on this thread and sets it
            return 0
        from agentapp.ui.tray_app import run_tray

        return run_tray(engine, ui_language(), combo)
    finally:
        log.warning("agent stopping")
        if indicator is not None:
            indicator.close()
        for part in (sync, shipper, hub):
            if part is not None:
                part.stop()
        if runner is not None:
            runner.stop()
        hotkey.stop()
        server.stop()
        engine.stop("agent stopped")
