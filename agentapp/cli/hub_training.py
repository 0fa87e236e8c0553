"""The training's shares and documents at the hub, from the command line (docs/hub.md):

    agentapp hub key                          (trainee: your own key, its public half at the hub)
    agentapp hub share ID --reason WHY        (a trainer of its training: with its own trainee)
    agentapp hub withdraw ID --reason WHY
    agentapp hub analysis ID FILE             (a trainer: a filled grid form, kept at the hub)
    agentapp hub documents, hub document N, hub coaching ID   (cli/hub_documents.py)
    agentapp hub mine, hub watch ID           (trainee: cli/hub_mine.py)

The hub checks each act and traces it (hub/schema.sql); the slips are made here, with the
site's recording key from the trainer's key store, and never leave it otherwise.

Threading: run on the CLI's single thread.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from agentapp.cli.base import CliError, Sub, audited_reason, handled
from agentapp.cli.hub_login import person
from agentapp.i18n import _

if TYPE_CHECKING:
    from agentapp.agent.settings import Settings


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
    said = _("seal a filled grid form on a recording at the hub (trainers)")
    an = hub.add_parser("analysis", parents=[common, login], help=said)
    an.add_argument("id")
    an.add_argument("file", help=_("the filled form ('-': standard input)"))
    handled(an, hub_analysis)


def recording_id(rid: str) -> str:
    """`rid` if it has a recording id's form; refused in one line (before any hub is asked)
    otherwise."""
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
        recording_files,
        recording_row,
        registered_key,
        share,
        withdraw,
    )
    from agentapp.vault.keys import KeyProblem
    from agentapp.vault.sealing import SealError, key_id_in, slip_for

    rid, reason = recording_id(args.id), audited_reason(args.reason)
    with person(args, s) as db:
        agent = recording_row(db, rid).agent
        if args.hub_command == "withdraw":
            gone = withdraw(db, rid, agent, reason)
            said = _("the share of {id} is withdrawn") if gone else _("{id} was not shared")
            print(said.format(id=rid))
            return 0
        trainee = registered_key(db, agent)
        files = recording_files(db, rid)
        try:
            first = next(iter(files.values()))
            site = private_key_for(args, key_id_in(first))
            slips = [slip_for(blob, site, trainee) for blob in files.values()]
        except (KeyProblem, SealError, KeyError, ValueError) as exc:
            raise CliError(_("not shared: {exc}").format(exc=exc)) from None
        share(db, rid, agent, slips, reason)
    print(_("{id} shared with {agent} at the hub ({n} sealed files)").format(
        id=rid, agent=agent, n=len(slips)))  # fmt: skip
    return 0


def hub_analysis(args: argparse.Namespace, s: Settings) -> int:
    """The trainer's analysis of a recording the hub holds, from a form filled as for
    `agentapp analysis add`: checked against the grid of its training in this person's policy
    (vault/review.py checked_marks), sealed here for the site's recording key, kept at the
    hub (which checks that she trains that training, and traces it)."""
    from agentapp.cli.analysis import read_form_file
    from agentapp.cli.review import readable_policy
    from agentapp.core.analysis import Analysis, document
    from agentapp.hub.training import add_document, recording_row
    from agentapp.vault.keys import installed_public_key_path
    from agentapp.vault.review import checked_marks

    rid = recording_id(args.id)
    items = read_form_file(args.file)
    policy = readable_policy(s)
    key = installed_public_key_path(s.data_dir)
    with person(args, s) as db:
        rec = recording_row(db, rid)
        grid, marks, public = checked_marks(policy.grid_for(rec.training), rec, items, key)
        n = add_document(db, "analysis", rid, document(Analysis(rid, grid, marks)), public)
    print(_("analysis {n} on {rid} is at the hub, sealed").format(n=n, rid=rid))
    return 0
