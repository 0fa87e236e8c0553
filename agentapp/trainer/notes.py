"""A trainer's notes on recordings, from the console: sealed in the site folder, or at the hub
for a recording fetched from it (there the trainers of its training read them too).

Threading: the console's thread (each call may wait on the hub or the key store).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.i18n import _
from agentapp.trainer.errors import (
    ConsoleError,
    console_errors,
    hub_errors,
    private_for,
    private_key,
)
from agentapp.vault.notes import NoteMeta
from agentapp.vault.review import reason_of

if TYPE_CHECKING:
    from agentapp.core.config import HubConfig
    from agentapp.core.policy import Policy
    from agentapp.hub.admin import HubNote
    from agentapp.vault.audit import ReviewerTrail
    from agentapp.vault.review import Review
    from agentapp.vault.store import RecordingMeta

HUB_NOTE = "hub:"  # the ids `on` gives the notes kept at the hub: hub:RECORDING:N


class _Console(Protocol):
    """What the notes ask of the console's model (trainer/console.py)."""

    s: Any  # the person's settings
    audit: ReviewerTrail

    @property
    def hub(self) -> HubConfig | None: ...

    def hub_db(self) -> Any: ...

    def draft(self) -> Policy: ...

    def review(self) -> Review: ...

    def meta(self, rid: str) -> RecordingMeta: ...


class ConsoleNotes:
    def __init__(self, model: _Console) -> None:
        self._m = model

    def at_hub(self, rid: str) -> bool:
        """Whether this person's notes on `rid` live at the hub: she fetched it from there
        (her trail says so), so the trainers of its training read them there too."""
        if self._m.hub is None:
            return False
        with console_errors():
            return any(e.get("action") == "fetched from the hub" and e.get("target") == rid
                       for e in self._m.audit.entries())  # fmt: skip

    def add(self, rid: str, text: str, at_s: float | None = None) -> None:
        """Seal a note on a recording (`at_s`: the moment it is about, from the player): at
        the hub for a recording fetched from it (sealed here; traced there), else in the
        site folder."""
        from agentapp.vault.keys import installed_public_key_path, load_public_key

        key = installed_public_key_path(self._m.s.data_dir)
        if self.at_hub(rid):
            from agentapp.hub.admin import add_note

            with console_errors():
                public = load_public_key(key)
            with hub_errors(), self._m.hub_db() as db:
                add_note(db, rid, text, public, at_s)
            return
        with console_errors():
            days = self._m.draft().notes_retention_days
            self._m.review().add_note(rid, text, key, days, time.time(), "console", at_s)

    def on(self, rid: str) -> list[NoteMeta]:
        """The notes on one recording this person may read (the listing is traced), in the
        order of their moments; those at the hub have ids HUB_NOTE + "RECORDING:N"."""
        with console_errors():
            notes = [n for n in self._m.review().notes() if n.recording == rid]
        if self.at_hub(rid):
            notes += [self._as_note(n) for n in self._hub_notes_on(rid)]
        return sorted(notes, key=lambda n: (n.at_s if n.at_s is not None else -1, n.created_at))

    def read(self, nid: str, reason: str, private_key_loader: Callable[[str], object]) -> str:
        """A note's text, decrypted in memory; checked and traced (a hub note: there)."""

        def key_for(sealed: Path) -> X25519PrivateKey:
            return private_for(private_key_loader, sealed)

        if nid.startswith(HUB_NOTE):
            return self._read_hub_note(nid, reason, private_key_loader)
        with console_errors():
            return self._m.review().read_note(nid, reason, key_for)

    def _hub_notes_on(self, rid: str, reason: str | None = None) -> list[HubNote]:
        from agentapp.hub.admin import notes

        with hub_errors(), self._m.hub_db() as db:
            return notes(db, rid, reason)

    def _as_note(self, n: HubNote) -> NoteMeta:
        meta = self._m.meta(n.recording_id)
        nid = f"{HUB_NOTE}{n.recording_id}:{n.id}"
        return NoteMeta(nid, n.recording_id, meta.training, n.author, n.written_at.timestamp(),
                        meta.purge_after, n.at_s)  # fmt: skip

    def _read_hub_note(
        self, nid: str, reason: str, private_key_loader: Callable[[str], object]
    ) -> str:
        from agentapp.hub.admin import open_note
        from agentapp.vault.sealing import key_id_in

        with console_errors():
            reason = reason_of(reason)
        rid, _sep, number = nid.removeprefix(HUB_NOTE).rpartition(":")
        found = [n for n in self._hub_notes_on(rid, reason) if str(n.id) == number]
        if not found:
            raise ConsoleError(_("no note {nid!r}").format(nid=nid))
        try:
            private = private_key(private_key_loader, key_id_in(found[0].sealed))
        except ConsoleError:
            raise
        except Exception as exc:  # key store, tampering: one line for the trainer
            why = _("cannot read note {nid}: {exc}").format(nid=nid, exc=exc)
            raise ConsoleError(why) from None
        with hub_errors():
            return open_note(found[0], private)
