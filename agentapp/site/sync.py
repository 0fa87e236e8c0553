"""Keep this agent's policy in step with the site's signed policy.

`<site>/policy/policy.toml` is checked every `interval` seconds (2 s: a change is in force
within seconds; the file's size and modification time say whether to read it). A policy is
installed locally only when its signature verifies against the policy-signing public key
installed with the agent, it parses, and its version is higher than the one in force and than
the highest this desk ever adopted (kept in the key store: site/floor.py). Else the last good
policy stays in force and `on_problem` says why (the tray shows it). A local copy rolled back
below that floor, or removed, is fetched again from the site.

Threading: one daemon thread; `on_problem` is called on it (DeskStatus.site_policy_problem is
thread-safe).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agentapp.core.policy import PolicyError
from agentapp.files import layout
from agentapp.site.floor import MemoryFloor, VersionFloor
from agentapp.site.signing import parse_signed
from agentapp.vault.store import write_atomic

log = logging.getLogger(__name__)


def site_policy_path(site: Path) -> Path:
    return layout.site_policy(site)


class PolicySync:
    def __init__(
        self,
        site: Path,
        local: Path,
        public: Ed25519PublicKey,
        on_problem: Callable[[str | None], None],
        interval: float = 2.0,
        floor: VersionFloor | None = None,
    ) -> None:
        self.source = site_policy_path(site)
        self.local = local
        self._public = public
        self._on_problem = on_problem
        self._interval = interval
        self._floor = floor or MemoryFloor()
        self._seen: tuple[int, int] | None = None
        self._problem: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="policy-sync", daemon=True)

    def start(self) -> None:
        self.check()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.check()

    def in_force(self) -> int:
        """The version installed locally (0: none, or the local copy does not verify)."""
        try:
            return parse_signed(self.local.read_bytes(), self._public, str(self.local)).version
        except (OSError, PolicyError):
            return 0

    def check(self) -> str | None:
        """One look at the site; returns the problem in words, or None when in step."""
        try:
            lowest = self._floor.get()
        except PolicyError as exc:
            return self._say(f"site policy not followed: {exc}")
        if self.in_force() < lowest:
            self._seen = None  # the local copy was rolled back or removed: fetch it again
        try:
            st = self.source.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._seen:
                return self._problem
            text = self.source.read_bytes()
        except OSError as exc:
            self._seen = None
            return self._say(f"site policy unreachable ({exc.strerror or exc}); "
                             f"keeping version {self.in_force()}")  # fmt: skip
        self._seen = stamp
        current = self.in_force()
        try:
            policy = parse_signed(text, self._public, str(self.source))
        except PolicyError as exc:
            return self._say(f"site policy refused: {exc}; keeping version {current}")
        adopted = max(current, lowest)
        if policy.version < adopted:
            return self._say(f"site policy refused: version {policy.version} is older than "
                             f"version {adopted} already adopted (rollback)")  # fmt: skip
        if policy.version == current:
            same = self.local.read_bytes() == text
            return self._say(None if same else f"site policy refused: its text changed but "
                             f"not its version ({current})")  # fmt: skip
        try:
            self.local.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(self.local, text, mode=0o644)
        except OSError as exc:
            return self._say(f"cannot install the site policy: {exc}")
        log.warning("site policy version %d installed (was %d)", policy.version, current)
        try:
            self._floor.raise_to(policy.version)
        except PolicyError as exc:
            return self._say(f"site policy installed, but {exc}")
        return self._say(None)

    def _say(self, problem: str | None) -> str | None:
        if problem != self._problem:
            self._problem = problem
            self._on_problem(problem)
        return problem
