"""The agent's status between calls: what the policy, the recording key, the display, the event
source, the site's hub and policy, the disk and the notice allow (core/readiness.py decides),
and in words why not.

Threading: the problems are set from any thread (the hub link's, the policy sync's, the event
source's): each is one assignment, then `on_change` (the engine's refresh, which locks).
`between_calls` runs under the engine's lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from agentapp.agent.status import STATES, AgentState, EngineStatus
from agentapp.core.clock import Clock
from agentapp.core.notice import notice_digest
from agentapp.core.policy import Policy, PolicyError
from agentapp.core.readiness import DeskFacts, Why, readiness
from agentapp.vault.acknowledgements import AcknowledgementStore
from agentapp.vault.audit import AuditLog
from agentapp.vault.keys import KeyProblem, installed_public_key_path, load_public_key
from agentapp.vault.quota import used_this_week
from agentapp.vault.store import Vault, free_bytes, write_problem

log = logging.getLogger(__name__)

NO_INDICATOR = (
    "not recording: the agent runs without its tray here, so you would not see that you are "
    "recorded — start it with its tray (ask IT); kiosks allowed by the policy are the exception"
)


class DeskStatus:
    def __init__(
        self,
        *,
        agent: str,
        data_dir: Path,
        policy_path: Path,
        vault: Vault,
        acks: AcknowledgementStore,
        audit: AuditLog,
        clock: Clock,
        load_policy: Callable[[], Policy],
        note_policy: Callable[[Policy | None, str], None],
        headless: bool,
        on_site: bool,
        min_free_bytes: int,
    ) -> None:
        self.agent, self.data_dir, self.policy_path = agent, data_dir, policy_path
        self.vault, self.acks, self.audit, self.clock = vault, acks, audit, clock
        self._load_policy, self._note_policy = load_policy, note_policy
        self.headless = headless  # no tray: records only on desks the policy names
        self.on_site = on_site  # the policy is the site's signed copy (site/sync.py)
        self.min_free_bytes = min_free_bytes
        self.on_change: Callable[[], object] = lambda: None
        self.display: str | None = None  # no display to record from
        self.source: str | None = None  # configured event source not connected
        self.hub: str | None = None  # the site hub does not answer
        self.site: str | None = None  # the site's policy was refused (the last good one holds)
        # on a site: the agent's recordings delivered there, for the weekly quota
        self.ids_since: Callable[[str, float], set[str]] | None = None

    # ------------------------------------------------------------------ problems
    def expect_source(self, describe: str) -> None:
        """A socket event source is configured: no recording until it is connected."""
        self.source = f"event source {describe}: connecting"
        self.on_change()

    def hub_problem(self, problem: str | None) -> None:
        """The hub stopped (or started again) answering: between calls the tray says so."""
        if problem != self.hub:
            self.hub = problem
            self.on_change()

    def site_policy_problem(self, problem: str | None) -> None:
        """The site's policy was refused (or is fine again): the last good one stays in force,
        and the status says why (between calls; during one, the tray shows the recording)."""
        if problem != self.site:
            self.site = problem
            if problem:
                log.warning("%s", problem)
            self.on_change()

    def with_site(self, detail: str) -> str:
        return f"{detail} — {self.site}" if self.site else detail

    # ------------------------------------------------------------------ the status
    def between_calls(self, erasable: bool) -> EngineStatus:
        status = self._from_policy()
        return replace(status, detail=self.with_site(status.detail), erasable=erasable)

    def _from_policy(self) -> EngineStatus:
        try:
            policy = self._load_policy()
        except PolicyError as exc:
            self._note_policy(None, str(exc))
            return self.refused(exc)
        self._note_policy(policy, "")
        today = dt.datetime.fromtimestamp(self.clock.now()).date()
        e = policy.enrolment_for(self.agent)
        if e is None or today > e.end:  # never recorded: nothing on the desk to ask
            v = readiness(policy, self.agent, DeskFacts(today))
            return EngineStatus(STATES[v.ready], v.detail, why=v.why,
                                training=e.training if e else None,
                                until=e.end.isoformat() if e else None)  # fmt: skip
        try:
            load_public_key(installed_public_key_path(self.data_dir))
            key_problem = None
        except KeyProblem as exc:
            key_problem = str(exc)
        facts = DeskFacts(
            today,
            key_problem=key_problem,
            indicator_problem=NO_INDICATOR if self.no_indicator(policy) else None,
            display_problem=self.display,
            source_problem=self.source,
            hub_problem=self.hub,
            free_bytes=free_bytes(self.vault.root),
            vault_problem=write_problem(self.vault.root, self.audit.path),
            acknowledged=self.acks.acknowledged(self.agent, notice_digest(policy, self.agent)),
            min_free=self.min_free_bytes,
        )
        v = readiness(policy, self.agent, facts)
        return EngineStatus(
            STATES[v.ready],
            v.detail,
            training=e.training,
            until=e.end.isoformat(),
            used=self.used_this_week(today),
            weekly_quota=e.weekly_quota,
            why=v.why,
        )

    def refused(self, exc: PolicyError) -> EngineStatus:
        """A site desk before its first signed policy waits for it; otherwise the policy
        was refused. Both: nothing is recorded."""
        if self.on_site and not self.policy_path.exists():
            return EngineStatus(AgentState.CANNOT_RECORD, f"waiting for the site's policy ({exc})",
                                why=Why.POLICY_PENDING)  # fmt: skip
        return EngineStatus(AgentState.CANNOT_RECORD, f"policy refused: {exc}", why=Why.POLICY)

    def used_this_week(self, today: dt.date) -> int:
        return used_this_week(self.vault.root, self.audit, self.agent, today, self.ids_since)

    def no_indicator(self, policy: Policy) -> bool:
        """Headless (no tray, no badge) on a desk the policy does not name (R2: a trainee is
        always shown that they are recorded; kiosks with an indicator of their own are listed
        in headless_desks)."""
        return self.headless and socket.gethostname() not in policy.headless_desks
