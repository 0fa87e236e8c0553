"""The information notice on this desk (R2): its text, whether this agent must still read it,
what can be read out to a caller, and the acknowledgement (kept and traced).

Threading: any thread; `acknowledge` takes the engine's lock (shared) so that it meets a call's
start one at a time.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from agentapp.core.clock import Clock, SystemClock
from agentapp.core.notice import Notice, build_notice, notice_digest, read_out
from agentapp.core.policy import Policy, PolicyError
from agentapp.files import layout
from agentapp.vault.acknowledgements import AcknowledgementStore
from agentapp.vault.audit import AuditLog

log = logging.getLogger(__name__)


class Notices:
    def __init__(
        self,
        *,
        agent: str,
        load_policy: Callable[[], Policy],
        acks: AcknowledgementStore,
        clock: Clock,
        lock: threading.RLock,
        trace: Callable[[str, str, str], None],
        on_acknowledged: Callable[[], object],
    ) -> None:
        self.agent = agent
        self._load_policy, self._acks, self._clock = load_policy, acks, clock
        self._lock, self._trace, self._on_acknowledged = lock, trace, on_acknowledged

    def notice(self, language: str) -> Notice:
        try:
            policy = self._load_policy()
        except PolicyError as exc:
            head = "Règles d'enregistrement refusées" if language == "fr" else "Policy refused"
            return Notice(language, "agentapp", ((head, str(exc)),))
        return build_notice(policy, self.agent, language)

    def needed(self) -> bool:
        try:
            policy = self._load_policy()
        except PolicyError:
            return False
        if policy.enrolment_for(self.agent) is None:
            return False
        return not self.acknowledged(policy)

    def acknowledged(self, policy: Policy) -> bool:
        return self._acks.acknowledged(self.agent, notice_digest(policy, self.agent))

    def read_out(self, language: str) -> str:
        """What the agent can read to a caller who asks (core/notice.py read_out)."""
        try:
            return read_out(self._load_policy(), language)
        except PolicyError:
            return (
                "Aucun enregistrement n'est possible sur ce poste en ce moment."
                if language == "fr"
                else "Nothing can be recorded on this desk now."
            )

    def acknowledge(self, language: str) -> None:
        with self._lock:
            policy = self._load_policy()
            digest = notice_digest(policy, self.agent)
            self._acks.record(self.agent, digest, language, self._clock.now())
            self._trace("notice acknowledged", f"notice {digest}", f"read in {language}")
            log.info("information notice acknowledged (%s)", language)
            self._on_acknowledged()


def desk_notices(agent: str, data_dir: Path, load_policy: Callable[[], Policy]) -> Notices:
    """This desk's notice for a front end that runs without the agent's engine (the CLI's
    `notice`): the same rule, acknowledged in the same store and traced in the same trail,
    with none of the capture code loaded."""
    audit = AuditLog.in_dir(data_dir)
    return Notices(agent=agent, load_policy=load_policy,
                   acks=AcknowledgementStore(layout.acknowledgements(data_dir)),
                   clock=SystemClock(), lock=threading.RLock(),
                   trace=functools.partial(audit.trace, agent),
                   on_acknowledged=lambda: None)  # fmt: skip
