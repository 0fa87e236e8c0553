"""A trainee's recordings shared with them at the hub, on their own desk (docs/hub.md):

    agentapp hub mine [--json]                your own calls a trainer shared with you there
    agentapp hub watch ID [--reason WHY]      play one of them

and « Mes enregistrements » when the desk works with a hub (`HubRecordings`). The person's
own hub login is asked (agent.toml's [hub] address, under their own name, with the password
`agentapp hub login` kept in their key store); the hub checks and traces each act.

Threading: run on the CLI's (or the window's) single thread.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentapp.cli.base import OWN_REVIEW, CliError, Sub, audited_reason, handled, need_display
from agentapp.cli.hub_login import hub_config, person
from agentapp.cli.hub_training import recording_id
from agentapp.i18n import _

if TYPE_CHECKING:
    from agentapp.agent.settings import Settings
    from agentapp.core.grid import Grid
    from agentapp.vault.playback import Playback
    from agentapp.vault.store import RecordingMeta


def register_mine(
    hub: Sub, common: argparse.ArgumentParser, login: argparse.ArgumentParser
) -> None:
    mine = hub.add_parser(
        "mine", parents=[common, login], help=_("your own calls a trainer shared with you")
    )
    mine.add_argument("--json", action="store_true")
    handled(mine, hub_mine)
    watch = hub.add_parser("watch", parents=[common, login],
                           help=_("play a call shared with you at the hub"))  # fmt: skip
    watch.add_argument("id")
    watch.add_argument("--reason", default=OWN_REVIEW, help=_("why (audited)"))
    handled(watch, hub_watch)


def hub_mine(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.training import shared_with_me

    with person(args, s) as db:
        found = shared_with_me(db)
    if args.json:
        print(json.dumps([{"id": g.recording_id, "training": g.training, "shared_by": g.granted_by,
                           "shared_at": g.granted_at.isoformat()} for g in found],
                         ensure_ascii=False, indent=1))  # fmt: skip
        return 0
    if not found:
        print(_("no recording is shared with you at the hub"))
    for g in found:
        print(_("{id}  {training}  shared by {by} on {at:%Y-%m-%d}").format(
            id=g.recording_id, training=g.training, by=g.granted_by, at=g.granted_at))  # fmt: skip
    return 0


def hub_watch(args: argparse.Namespace, s: Settings) -> int:
    need_display()
    playback = hub_playback(args, s, recording_id(args.id), audited_reason(args.reason))
    from agentapp.ui.player import play

    play(playback, _("agentapp — my recording {id}").format(id=args.id))
    return 0


def hub_playback(args: argparse.Namespace, s: Settings, rid: str, reason: str) -> Playback:
    """A call shared with this person at the hub, decrypted in memory with their own key (from
    their key store) and watermarked with their name. Its sealed files pass through a private
    folder in the data folder, gone once they are read: no plaintext is ever written."""
    import tempfile

    from agentapp.files import layout
    from agentapp.hub.connect import HubError
    from agentapp.hub.training import open_shared
    from agentapp.ui.watermark import qt_mark
    from agentapp.vault.export import mark_text
    from agentapp.vault.keys import KeyProblem, load_private_from_keystore
    from agentapp.vault.playback import open_playback
    from agentapp.vault.sealing import SlipKeys
    from agentapp.vault.store import META, Vault, VaultError, place_folder

    with person(args, s) as db:
        call = open_shared(db, rid, reason)
    kids = {slip.get("kid", "") for slip in call.slips}
    if len(kids) != 1:
        raise CliError(_("cannot open {id}: its share is not for one key").format(id=rid))
    meta = json.dumps(dict(call.meta, status="complete")).encode()
    viewer = hub_config(args, s).user
    try:
        keys = SlipKeys(load_private_from_keystore(kids.pop()), call.slips)
        with tempfile.TemporaryDirectory(prefix="hub-shared-", dir=s.data_dir) as folder:
            base = layout.recordings(Path(folder))
            place_folder(base, rid, {**call.files, META: meta})
            vault = Vault.reading(base)
            mark = qt_mark(mark_text(vault.get(rid).agent, viewer, "viewed", anonymised=False))
            return open_playback(vault, rid, keys, mark)
    except (KeyProblem, VaultError, HubError, OSError) as exc:
        raise CliError(_("cannot open {id}: {exc}").format(id=rid, exc=exc)) from None


class HubRecordings:
    """« Mes enregistrements » at a hub, as the window asks it (ui/mine.py Mine): the calls
    shared with this person there, one opened, its training's grid, and their own review
    sealed for the site's recording key and stored at the hub. Threading: the caller's."""

    def __init__(self, s: Settings) -> None:
        self._s = s
        self._args = argparse.Namespace(hub=None, user=s.user, ca=None)
        self._metas: dict[str, RecordingMeta] = {}

    def listed(self) -> list[RecordingMeta]:
        from agentapp.hub.training import shared_metas

        with person(self._args, self._s) as db:
            found = shared_metas(db)
        self._metas = {m.id: m for m in found}
        return found

    def opened(self, rid: str) -> Playback:
        return hub_playback(self._args, self._s, recording_id(rid), OWN_REVIEW)

    def about(self, rid: str) -> str | None:
        return None  # (teaching examples are offered through a site folder)

    def grid(self, rid: str) -> Grid | None:
        from agentapp.cli.review import who_of

        policy, meta = who_of(self._s)[1], self._metas.get(rid)
        return policy.grid_for(meta.training) if policy and meta else None

    def review(self, rid: str, items: object) -> str:
        """Seal this person's own review of `rid` for the trainers, at the hub."""
        from agentapp.core.analysis import Analysis, document
        from agentapp.hub.training import add_document
        from agentapp.vault.analyses import SELF_REVIEW
        from agentapp.vault.keys import installed_public_key_path
        from agentapp.vault.review import checked_marks

        meta = self._metas.get(rid)
        if meta is None:
            raise CliError(_("{id}: this recording is not shared with you").format(id=rid))
        grid, marks, key = checked_marks(self.grid(rid), meta, items,
                                         installed_public_key_path(self._s.data_dir))  # fmt: skip
        content: dict[str, Any] = document(Analysis(rid, grid, marks, SELF_REVIEW))
        with person(self._args, self._s) as db:
            n = add_document(db, "self-review", rid, content, key)
        return _("your review {id} is sealed for your trainers at the hub").format(id=n)
