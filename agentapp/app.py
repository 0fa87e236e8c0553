"""The composition root: reads settings, builds the engine and its peers, runs them.

Nothing else wires concrete classes together. Heavy modules (capture, Qt) are imported here
lazily so `agentapp hook` stays fast.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentapp.core.config import AgentConfig, ConfigError, load_config
from agentapp.paths import ConflictingCopy, default_data_dir, local_or_system, system_first
from agentapp.vault.audit import login_name as os_login

if TYPE_CHECKING:
    from collections.abc import Callable

    from agentapp.core.policy import Policy
    from agentapp.engine import Engine
    from agentapp.site.floor import VersionFloor
    from agentapp.site.shipper import RecordingShipper
    from agentapp.site.sync import PolicySync

log = logging.getLogger("agentapp")


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    agent: str
    policy_path: Path
    config: AgentConfig
    user: str = ""  # the person acting (access rules, audit): the OS login (tests: AGENTAPP_USER)
    own_agent: str = ""  # the agent this login is, whatever --agent / AGENTAPP_AGENT say


def config_path(data_dir: Path) -> Path:
    """`<data dir>/agent.toml`, else the machine-wide one (`/etc/agentapp/agent.toml`)."""
    return local_or_system(data_dir / "agent.toml")


def settings(
    data_dir: str | None = None, agent: str | None = None, policy: str | None = None
) -> Settings:
    """Raises ConfigError for a broken agent.toml."""
    d = (Path(data_dir) if data_dir else default_data_dir()).absolute()
    cfg = load_config(config_path(d))
    real = os_login()
    user = _test_only("AGENTAPP_USER", real) or real  # tests play a person through it
    own = cfg.agent or user
    who = agent or os.environ.get("AGENTAPP_AGENT") or own
    cfg = cfg.for_agent(who)
    pol = policy or _test_only("AGENTAPP_POLICY", str(d / "policy.toml")) or str(d / "policy.toml")
    return Settings(d, who, Path(pol).absolute(), cfg, user, own)


def _test_only(name: str, default: str) -> str | None:
    """`name` from the environment where tests may set it. A packaged build (PyInstaller:
    the .deb and the Windows installer) refuses it: a person is who the OS says, and roles
    come from the policy, never from a variable someone set (R7, R8)."""
    value = os.environ.get(name)
    if value and value != default and getattr(sys, "frozen", False):
        raise ConfigError(
            f"{name} is set: it is for tests only, and this build takes the person and the "
            "policy from the OS login and the data folder — unset it"
        )
    return value


class OneLineFormatter(logging.Formatter):
    """Console lines for people: the message only, never a traceback (that goes to the file)."""

    def format(self, record: logging.LogRecord) -> str:
        return "agentapp: " + record.getMessage()


def console_logging() -> None:
    """Before a command sets up its own logging: warnings as one line on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter())
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [handler]


def setup_logging(data_dir: Path, verbose: bool = False) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / "agent.log"
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3)
    file_handler.setFormatter(fmt)
    console = logging.StreamHandler()
    console.setFormatter(OneLineFormatter())
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [file_handler, console]
    root.setLevel(logging.INFO)
    return path


def build_engine(s: Settings, headless: bool = False) -> Engine:
    from agentapp.capture.grabber import Grabber
    from agentapp.capture.xshm import ShmReader
    from agentapp.engine import Engine
    from agentapp.platform.factory import create_locator, create_page_watcher, create_session_lock

    return Engine(
        agent=s.agent,
        data_dir=s.data_dir,
        policy_path=s.policy_path,
        locator_factory=create_locator,
        grabber_factory=Grabber,
        reader_factory=ShmReader,
        page_factory=create_page_watcher,
        session_lock_factory=create_session_lock,
        policy_loader=policy_loader(s),
        headless=headless,
    )


def signing_key_path(data_dir: Path) -> Path:
    """The policy-signing public key installed machine-wide, else
    `<data dir>/keys/policy-signing-public-key.pem`. Raises PolicyError when the user's copy
    is another key (it would let whoever writes the data folder sign the policy)."""
    from agentapp.core.policy import PolicyError
    from agentapp.site.signing import PUBLIC_FILE

    try:
        return system_first(data_dir / "keys" / PUBLIC_FILE)
    except ConflictingCopy as exc:
        raise PolicyError(f"policy-signing key refused: {exc}") from None


def policy_loader(s: Settings) -> Callable[[], Policy]:
    """How this desk reads its policy: on a site the signed copy (`signed_policy_loader`),
    else the plain file. Engine, vault commands and doctor all read it this way."""
    if s.config.site is not None:
        return signed_policy_loader(s)
    from agentapp.core.policy import load_policy

    return lambda: load_policy(s.policy_path)


def signed_policy_loader(s: Settings, floor: VersionFloor | None = None) -> Callable[[], Policy]:
    """On a site, only a policy signed with the site's key is obeyed (the local copy too),
    and never one older than the highest version this desk adopted (site/floor.py)."""
    from agentapp.site.floor import KeyringFloor, refuse_rollback
    from agentapp.site.signing import load_public, load_signed

    def load() -> Policy:
        public = load_public(signing_key_path(s.data_dir))
        policy = load_signed(s.policy_path, public)
        refuse_rollback(policy.version, floor or KeyringFloor(public), str(s.policy_path))
        return policy

    return load


def ui_language() -> str:
    from agentapp.core.notice import language_for

    env = os.environ
    return language_for(env.get("LC_ALL") or env.get("LC_MESSAGES") or env.get("LANG"))


def pause_hotkey(s: Settings) -> str:
    from agentapp.core.policy import DEFAULT_HOTKEY, PolicyError, load_policy

    try:
        return load_policy(s.policy_path).pause_hotkey
    except PolicyError:
        return DEFAULT_HOTKEY


def _start_site(s: Settings, engine: Engine) -> tuple[PolicySync | None, RecordingShipper | None]:
    """Policy sync and recording delivery, when a site folder is configured."""
    if s.config.site is None:
        return None, None
    from agentapp.core.policy import PolicyError
    from agentapp.site.shipper import RecordingShipper
    from agentapp.site.signing import load_public
    from agentapp.site.sync import PolicySync

    shipper = RecordingShipper(engine.vault, s.config.site)
    engine.use_site(shipper.withdraw, shipper.ids_since)
    shipper.start()
    try:
        public = load_public(signing_key_path(s.data_dir))
    except PolicyError as exc:
        engine.site_policy_problem(f"site policy not followed: {exc}")
        return None, shipper
    from agentapp.site.floor import KeyringFloor

    sync = PolicySync(s.config.site, s.policy_path, public, engine.site_policy_problem,
                      floor=KeyringFloor(public))  # fmt: skip
    sync.start()
    return sync, shipper


def run_agent(s: Settings, headless: bool, stop_event: threading.Event | None = None) -> int:
    """Run the agent until SIGTERM/SIGINT (or `stop_event`, headless), or Quit (tray).

    The hook server, the engine and the secure-pause hotkey run the same way in both modes:
    recording never depends on the tray.
    """
    from agentapp.core.clock import SystemClock
    from agentapp.platform.hotkey import HotkeyListener
    from agentapp.telephony.hook import HookServer, socket_path

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
        engine.expect_source(s.config.source.describe)
        try:
            runner = make_runner(s.config.source, engine, SystemClock(), peers)
            runner.start()
        except SourceSetupError as exc:
            engine.source_down(s.config.source.describe, str(exc), SystemClock().now())
    combo = pause_hotkey(s)
    hotkey = HotkeyListener(combo, engine.toggle_pause)
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
    try:
        if headless:
            stop = stop_event or threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            while not stop.wait(0.5):
                pass
            return 0
        from agentapp.ui.tray_app import run_tray

        return run_tray(engine, ui_language(), combo)
    finally:
        log.warning("agent stopping")
        for part in (sync, shipper):
            if part is not None:
                part.stop()
        if runner is not None:
            runner.stop()
        hotkey.stop()
        server.stop()
        engine.stop("agent stopped")
