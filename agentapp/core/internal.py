"""Which calls are internal (agent to agent): recorded only if the policy says so (R6).

A call is internal when the other party's number is the extension of an agent the policy
enrols (their enrolment's `extension`, or the number the source's per-agent settings give
them, e.g. ESL `extension = "{user}"`), or matches the source's optional `internal_numbers`.
So calls between colleagues are internal with no extra setting.

Pure. Threading: `update` on the engine's thread, `search` on a source's thread (the set of
numbers is replaced whole, which is atomic).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from agentapp.core.policy import Policy


class InternalPeers:
    def __init__(
        self, pattern: re.Pattern[str] | None, number_of: Callable[[str], str] = lambda a: ""
    ) -> None:
        self._pattern = pattern
        self._number_of = number_of
        self._known: frozenset[str] = frozenset()

    def update(self, policy: Policy) -> None:
        numbers: set[str] = set()
        for e in policy.enrolments:
            numbers.update(n for n in (e.extension, self._number_of(e.agent)) if n)
        self._known = frozenset(numbers)

    def search(self, number: str) -> bool:
        if not number:
            return False
        return number in self._known or bool(self._pattern and self._pattern.search(number))
