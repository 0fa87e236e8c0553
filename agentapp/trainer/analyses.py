"""A trainer's analyses of recordings on their training's grid, from the console: the grid in
force (the site's signed policy, never a draft), the marks sealed in the site folder and read
back, each act checked and traced by vault/review.py; for a recording this person fetched
from the hub (as for notes: trainer/notes.py `at_hub`), sealed here and kept at the hub, which
checks that she trains its training and traces it, and where its trainers read it.

Threading: the console's thread (each call may wait on the hub or the key store).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.core.policy import MAX_NOTES_RETENTION_DAYS
from agentapp.trainer.errors import console_errors, hub_errors, private_for
from agentapp.trainer.notes import HUB_NOTE
from agentapp.vault.analyses import AnalysisMeta

if TYPE_CHECKING:
    from agentapp.core.analysis import Analysis
    from agentapp.core.grid import Grid
    from agentapp.core.policy import Policy
    from agentapp.trainer.notes import ConsoleNotes
    from agentapp.vault.review import Review
    from agentapp.vault.store import RecordingMeta


class _Console(Protocol):
    """What the analyses ask of the console's model (trainer/console.py)."""

    s: Any  # the person's settings
    notes: ConsoleNotes

    def signed(self) -> Policy | None: ...

    def review(self) -> Review: ...

    def meta(self, rid: str) -> RecordingMeta: ...

    def hub_db(self) -> Any: ...


class ConsoleAnalyses:
    def __init__(self, model: _Console) -> None:
        self._m = model

    def grid(self, training: str) -> Grid | None:
        """The grid in force for `training` (the signed policy's), if it has one."""
        policy = self._m.signed()
        return policy.grid_for(training) if policy is not None else None

    def add(self, rid: str, items: list[dict[str, object]]) -> AnalysisMeta:
        """Seal the marks given beside the player on `rid` (checked against the grid in
        force; refused and traced if this person does not train its training): at the hub
        for a recording fetched from it (its id then HUB_NOTE + "RECORDING:N"), else in the
        site folder."""
        from agentapp.vault.keys import installed_public_key_path

        if self._m.notes.at_hub(rid):
            return self._add_at_hub(rid, items)
        review = self._m.review()
        policy = self._m.signed()
        with console_errors():
            meta = review.meta(rid)
            grid = policy.grid_for(meta.training) if policy is not None else None
            days = policy.notes_retention_days if policy else MAX_NOTES_RETENTION_DAYS
            key = installed_public_key_path(self._m.s.data_dir)
            return review.add_analysis(rid, items, grid, key, days, time.time())

    def _add_at_hub(self, rid: str, items: list[dict[str, object]]) -> AnalysisMeta:
        from agentapp.core.analysis import Analysis, document
        from agentapp.hub.training import add_document
        from agentapp.vault.keys import installed_public_key_path
        from agentapp.vault.review import checked_marks

        policy = self._m.signed()
        with console_errors():
            meta = self._m.meta(rid)
            grid = policy.grid_for(meta.training) if policy is not None else None
            key = installed_public_key_path(self._m.s.data_dir)
            grid, marks, public = checked_marks(grid, meta, items, key)
        with hub_errors(), self._m.hub_db() as db:
            n = add_document(db, "analysis", rid, document(Analysis(rid, grid, marks)), public)
        now = time.time()  # (the hub keeps it a year from its own clock: schema.sql)
        return AnalysisMeta(f"{HUB_NOTE}{rid}:{n}", rid, meta.training, self._m.s.user, now,
                            now + MAX_NOTES_RETENTION_DAYS * 86400)  # fmt: skip

    def on(self, rid: str) -> list[AnalysisMeta]:
        """The analyses of one recording this person may read (the listing is traced)."""
        with console_errors():
            return [a for a in self._m.review().analyses() if a.recording == rid]

    def read(self, aid: str, reason: str, loader: Callable[[str], object]) -> Analysis:
        """One analysis, decrypted in memory; checked and traced."""

        def key_for(sealed: Path) -> X25519PrivateKey:
            return private_for(loader, sealed)

        with console_errors():
            return self._m.review().read_analysis(aid, reason, key_for)
