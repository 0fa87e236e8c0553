"""Each policy and enrolment change traced once, the first time this desk's agent sees it
(R8), also when it was made while the agent was stopped; and every policy read handed to the
listeners (the hotkey's and the site's settings follow it).

What was seen last is kept in `run/policy-seen.json` (read once, then held in memory; only
the running agent writes it).

Threading: called under the engine's lock (one caller at a time)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentapp.core.policy import Policy
from agentapp.core.policy_changes import changes, summary
from agentapp.files import layout
from agentapp.vault.store import write_atomic

log = logging.getLogger(__name__)
Trace = Callable[[str, str, str], None]  # (action, target, reason) to the audit trail


class PolicySeen:
    def __init__(self, data_dir: Path, trace: Trace, source: str) -> None:
        """`source`: the policy file's name, as the trail names it."""
        self._path = layout.policy_seen(data_dir)
        self._trace = trace
        self._source = source
        self._seen: dict[str, Any] | None = None  # the policy summary last traced
        self._read = False
        self.listeners: list[Callable[[Policy], None]] = []

    def note(self, policy: Policy | None, problem: str = "") -> None:
        """`policy` read, or refused with `problem` (None)."""
        if policy is not None:
            for listener in self.listeners:
                listener(policy)
        source = self._source
        seen = self._last()
        if policy is None:
            if seen is not None and seen.get("refused") == problem:
                return
            self._trace("policy refused", source, problem)
            new: dict[str, object] = {**(seen or {}), "refused": problem}
        else:
            new = summary(policy)
            last = None if seen is None else {k: v for k, v in seen.items() if k != "refused"}
            if last == new:
                if seen is not None and "refused" in seen:  # valid again, unchanged
                    self._save(new)
                return
            for action, text in changes(last or None, new):
                self._trace(action, f"policy version {policy.version}", text)
        self._save(new)

    def _last(self) -> dict[str, Any] | None:
        if not self._read:
            self._read = True
            try:
                self._seen = json.loads(self._path.read_text())
            except (OSError, ValueError):
                self._seen = None
        return self._seen

    def _save(self, seen: dict[str, Any]) -> None:
        self._seen = seen
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(self._path, json.dumps(seen, sort_keys=True).encode())
        except OSError as exc:
            log.warning("cannot remember the policy seen: %s", exc)
