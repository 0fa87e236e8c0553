"""The training's shares and documents at the hub, from the command line (docs/hub.md):

    agentapp hub key                          (trainee: your own key, its public half at the hub)
    agentapp hub share ID --reason WHY        (a trainer of its training: with its own trainee)
    agentapp hub withdraw ID --reason WHY
    agentapp hub documents [ID] [--json]      (the training's documents you may see there)
    agentapp hub mine [--json]                (trainee: your calls shared with you there)
    agentapp hub watch ID [--reason WHY]      (trainee: play one of them, with its voice)

The hub checks each act and traces it (hub/schema.sql); the slips are made here, with the
site's recording key from the trainer's key store, and never leave it otherwise.

Threading: run on the CLI's single thread.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from agentapp.cli.base import CliError, Sub, audited_reason, handled
from agentapp.cli.hub_login import hub_config, person
from agentapp.cli.sharing import OWN_REVIEW
from agentapp.i18n import _

if TYPE_CHECKING:
    from agentapp.agent.settings import Settings
    from agentapp.vault.playback import Playback


def register_on(
    hub: Sub,
    common: argparse.ArgumentParser,
    login: argparse.ArgumentParser,
    keyed: argparse.ArgumentParser,
) -> None:
    said = _("make your own key and register it at the hub, to watch what is shared with you")
    handled(hub.add_parser("key", parents=[common, login], help=said), hub_key)
    acts = (("share", _("share a recording at the hub with its own trainee (trainers)")),
            ("withdraw", _("withdraw the share of a recording at the hub")))  # fmt: skip
    for name, text in acts:
        p = hub.add_parser(name, parents=[common, login, keyed], help=text)
        p.add_argument("id")
        p.add_argument("--reason", required=True, help=_("why (audited)"))
        handled(p, hub_share)
    docs = hub.add_parser(
        "documents", parents=[common, login], help=_("the training's documents you may see")
    )
    docs.add_argument("id", nargs="?", help=_("only those on this recording"))
    docs.add_argument("--json", action="store_true")
    handled(docs, hub_documents)
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


def _recording_id(rid: str) -> str:
    from agentapp.core.names import is_recording_id, shown

    if not is_recording_id(rid):
        raise CliError(_("{rid} is not a recording id").format(rid=shown(rid)), 2)
    return rid


def hub_key(args: argparse.Namespace, s: Settings) -> int:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from agentapp.hub.training import register_key
    from agentapp.vault.keys import KeyProblem, store_private_in_keystore
    from agentapp.vault.sealing import fingerprint

    private = X25519PrivateKey.generate()
    try:
        store_private_in_keystore(private)
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    with person(args, s) as db:
        register_key(db, private.public_key())
    print(_("your key {kid} is in your key store; its public half is registered at the hub. "
            "A trainer can now share your recordings with you.").format(
        kid=fingerprint(private.public_key())))  # fmt: skip
    return 0


def hub_share(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.cli.review import private_key_for
    from agentapp.hub.training import (
        recording_agent,
        recording_files,
        registered_key,
        share,
        withdraw,
    )
    from agentapp.vault.keys import KeyProblem
    from agentapp.vault.sealing import SealError, read_header, slip_for

    rid, reason = _recording_id(args.id), audited_reason(args.reason)
    with person(args, s) as db:
        agent = recording_agent(db, rid)
        if args.hub_command == "withdraw":
            gone = withdraw(db, rid, agent, reason)
            said = _("the share of {id} is withdrawn") if gone else _("{id} was not shared")
            print(said.format(id=rid))
            return 0
        trainee = registered_key(db, agent)
        files = recording_files(db, rid)
        try:
            first = next(iter(files.values()))
            site = private_key_for(args, str(read_header(first)[0]["kid"]))
            slips = [slip_for(blob, site, trainee) for blob in files.values()]
        except (KeyProblem, SealError, KeyError, ValueError) as exc:
            raise CliError(_("not shared: {exc}").format(exc=exc)) from None
        share(db, rid, agent, slips, reason)
    print(_("{id} shared with {agent} at the hub ({n} sealed files)").format(
        id=rid, agent=agent, n=len(slips)))  # fmt: skip
    return 0


def hub_documents(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.training import documents

    rid = _recording_id(args.id) if args.id is not None else None
    with person(args, s) as db:
        found = documents(db, rid, sealed=False)
    if args.json:
        rows = [{"id": d.id, "kind": d.kind, "recording": d.recording_id, "agent": d.agent,
                 "training": d.training, "author": d.author,
                 "written_at": d.written_at.isoformat(), "purge_after": d.purge_after.isoformat()}
                for d in found]  # fmt: skip
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if not found:
        print(_("no training document that you may see at the hub"))
    for d in found:
        print(_("{n:>5}  {kind:<12} {rid}  {agent}  {training}  by {author} on {written:%Y-%m-%d}"
                "  until {until:%Y-%m-%d}").format(
            n=d.id, kind=d.kind, rid=d.recording_id, agent=d.agent, training=d.training,
            author=d.author, written=d.written_at, until=d.purge_after))  # fmt: skip
    return 0


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
    from agentapp.cli.sharing import need_display

    need_display()
    playback = hub_playback(args, s, _recording_id(args.id), audited_reason(args.reason))
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
