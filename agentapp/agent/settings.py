"""Who and where this desk is, and how it reads its policy: the settings every front end
(agent, CLI, console, doctor) starts from. No Qt, no capture: cheap to import.

Threading: plain functions and frozen data.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentapp.core.config import AgentConfig, ConfigError, load_config
from agentapp.files import layout
from agentapp.files.paths import ConflictingCopy, default_data_dir, local_or_system, system_first
from agentapp.i18n import _
from agentapp.vault.audit import login_name as os_login

if TYPE_CHECKING:
    from collections.abc import Callable

    from agentapp.core.policy import Policy
    from agentapp.site.floor import VersionFloor


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
    return local_or_system(layout.config_file(data_dir))


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
    pol = (
        policy
        or _test_only("AGENTAPP_POLICY", str(layout.policy_file(d)))
        or str(layout.policy_file(d))
    )
    return Settings(d, who, Path(pol).absolute(), cfg, user, own)


def _test_only(name: str, default: str) -> str | None:
    """`name` from the environment, honoured only in a source checkout (`from_source_tree`).
    Everywhere else — the .deb and the Windows installer (frozen), the wheel, any install in
    site-packages — it is refused: a person is who the OS says, and roles come from the
    policy, never from a variable anyone can set (R7, R8)."""
    value = os.environ.get(name)
    if value and value != default and not from_source_tree():
        raise ConfigError(
            _(
                "{name} is set: it is for tests only, and this build takes the "
                "person and the policy from the OS login and the data folder — "
                "unset it"
            ).format(name=name)
        )
    return value


def from_source_tree() -> bool:
    """Whether this is the project's own checkout (the tests' switch): the package lies
    beside its pyproject.toml and its tests/ folder, where no installed copy has them."""
    if getattr(sys, "frozen", False):
        return False
    import agentapp

    root = Path(agentapp.__file__).resolve().parent.parent
    try:
        project = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return False
    return 'name = "agentapp"' in project and (root / "tests" / "conftest.py").is_file()


def signing_key_path(data_dir: Path) -> Path:
    """The policy-signing public key installed machine-wide, else
    `<data dir>/keys/policy-signing-public-key.pem`. Raises PolicyError when the user's copy
    is another key (it would let whoever writes the data folder sign the policy)."""
    from agentapp.core.policy import PolicyError
    from agentapp.site.signing import PUBLIC_FILE

    try:
        return system_first(layout.keys(data_dir) / PUBLIC_FILE)
    except ConflictingCopy as exc:
        raise PolicyError(_("policy-signing key refused: {exc}").format(exc=exc)) from None


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
    """The process's language (agentapp/i18n: AGENTAPP_LANG, then the locale)."""
    from agentapp.i18n import current

    return current()


def pause_hotkey(s: Settings) -> str:
    from agentapp.core.policy import DEFAULT_HOTKEY, PolicyError, load_policy

    try:
        return load_policy(s.policy_path).pause_hotkey
    except PolicyError:
        return DEFAULT_HOTKEY
