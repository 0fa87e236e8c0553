"""A recording shared with its own agent (R7), from the command line: the trainer shares and
withdraws; the trainee makes their key, lists what is shared with them ("Mes enregistrements")
and plays it on their desk. Each act is vault/sharing.py's, checked and traced there.

    agentapp share key                          (trainee, on their desk: their own key pair)
    agentapp share add ID --reason WHY          (a trainer of its training, at the site)
    agentapp share withdraw ID --reason WHY
    agentapp mine list [--json]                 (trainee: what is shared with me)
    agentapp mine view ID [--reason WHY]        (trainee: play it, watermarked with my name)
    agentapp mine window                        (the same in a window: the tray opens it)
    agentapp mine form ID [--out FILE] | mine review ID FILE   (my own review, on the grid)
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from agentapp.cli.base import OWN_REVIEW, CliError, Parser, Sub, handled, need_display
from agentapp.i18n import _

if TYPE_CHECKING:
    from agentapp.agent.settings import Settings
    from agentapp.core.grid import Grid
    from agentapp.core.policy import Policy
    from agentapp.vault.grants import Grants
    from agentapp.vault.playback import Playback
    from agentapp.vault.review import Review
    from agentapp.vault.store import RecordingMeta, Vault

log = logging.getLogger(__name__)


def register(sub: Sub, common: argparse.ArgumentParser, keyed: argparse.ArgumentParser) -> None:
    sh = sub.add_parser("share", help=_("share a recording with its own agent")).add_subparsers(
        dest="share_command", metavar="ACTION", parser_class=Parser, required=True
    )
    handled(sh.add_parser("key", parents=[common],
                          help=_("make your own key, to watch what is shared with you")),
            make_key)  # fmt: skip
    acts = (("add", _("share one recording with its agent (trainers)")),
            ("withdraw", _("withdraw the share of one recording")))  # fmt: skip
    for name, text in acts:
        p = sh.add_parser(name, parents=[common, keyed], help=text)
        p.add_argument("id")
        p.add_argument("--reason", required=True, help=_("why (audited)"))
        handled(p, share)
    mine = sub.add_parser(
        "mine", help=_("my recordings: those a trainer shared with me")
    ).add_subparsers(dest="mine_command", metavar="ACTION", parser_class=Parser, required=True)
    ls = mine.add_parser("list", parents=[common], help=_("the recordings shared with you"))
    ls.add_argument("--json", action="store_true")
    handled(ls, mine_list)
    vw = mine.add_parser("view", parents=[common], help=_("play one of them (no file)"))
    vw.add_argument("id")
    vw.add_argument("--reason", default=OWN_REVIEW, help=_("why (audited)"))
    handled(vw, mine_view)
    fm = mine.add_parser("form", parents=[common],
                         help=_("the training's grid to review one of them yourself"))  # fmt: skip
    fm.add_argument("id")
    fm.add_argument("--out", type=Path, help=_("write the form to this file (default: print)"))
    handled(fm, mine_form)
    said = _("seal your own review (the filled form) for your trainers")
    rv = mine.add_parser("review", parents=[common], help=said)
    rv.add_argument("id")
    rv.add_argument("file", help=_("the filled form ('-': standard input)"))
    handled(rv, mine_review)
    handled(mine.add_parser("window", parents=[common],
                            help=_("the list and the player in a window (the tray's "
                                   "\"My recordings\")")), mine_window)  # fmt: skip


def site_of(s: Settings) -> Path:
    """The site folder: the data folder itself when it is one, else agent.toml's."""
    from agentapp.vault.audit import is_site

    if is_site(s.data_dir):
        return s.data_dir
    if s.config.site is None:
        raise CliError(_("no site folder in agent.toml: recordings are shared at the site"))
    return s.config.site


def make_key(args: argparse.Namespace, s: Settings) -> int:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from agentapp.vault.keys import KeyProblem, store_private_in_keystore
    from agentapp.vault.people import register_key
    from agentapp.vault.sealing import fingerprint

    site = site_of(s)
    private = X25519PrivateKey.generate()
    try:
        store_private_in_keystore(private)
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    path = register_key(site, s.user, private.public_key())
    print(_("your key {kid} is in your key store; its public half is registered at {path}. "
            "A trainer can now share your recordings with you.").format(
        kid=fingerprint(private.public_key()), path=path))  # fmt: skip
    return 0


def share(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.cli.review import private_key, review_for, who_of
    from agentapp.vault.grants import Grants
    from agentapp.vault.sharing import share as share_it
    from agentapp.vault.sharing import unshare

    who, _policy = who_of(s)
    review = review_for(s, who)
    grants = Grants(site_of(s))
    if args.share_command == "withdraw":
        gone = unshare(review, grants, args.id, args.reason)
        said = _("the share of {id} is withdrawn") if gone else _("{id} was not shared")
        print(said.format(id=args.id))
        return 0
    g = share_it(review, grants, args.id, args.reason, lambda seal: private_key(args, seal))
    print(_("{id} shared with {agent} ({n} sealed files; until {until:%Y-%m-%d})").format(
        id=g.recording, agent=g.agent, n=len(g.slips), until=_day(g.until)))  # fmt: skip
    return 0


def _mine(s: Settings) -> tuple[Review, Grants, Vault]:
    from agentapp.cli.review import review_for, who_of
    from agentapp.files import layout
    from agentapp.vault.grants import Grants
    from agentapp.vault.store import Vault

    who, _policy = who_of(s)
    site = site_of(s)
    return review_for(s, who), Grants(site), Vault.reading(layout.recordings(site))


def _examples(s: Settings) -> Vault:
    """The site's teaching examples, read as they are (vault/examples.py)."""
    from agentapp.files import layout
    from agentapp.vault.store import Vault

    return Vault.reading(layout.examples(site_of(s)))


def mine_list(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.vault.sharing import shared_with_me

    review, grants, vault = _mine(s)
    found = shared_with_me(review, grants, vault, _examples(s))
    if args.json:
        print(json.dumps([m.to_json() for m in found], indent=1, ensure_ascii=False))
        return 0
    examples = _examples(s)
    for m in found:
        line = _("{id}  {started:%Y-%m-%d %H:%M} UTC  {duration:.0f} s  {training}")
        print(line.format(id=m.id, started=_day(m.started_at), duration=m.duration_s,
                          training=m.training))  # fmt: skip
        about = None if m.agent else _described(grants, examples, m.id, review.who.name)
        if about:
            print("    " + _("teaching example: {text}").format(text=about))
    if not found:
        print(_("no recording is shared with you yet"))
    return 0


def mine_view(args: argparse.Namespace, s: Settings) -> int:
    need_display()
    review, grants, vault = _mine(s)
    playback = _playback(review, grants, vault, args.id, args.reason, _examples(s))
    from agentapp.ui.player import play

    play(playback, _("agentapp — my recording {id}").format(id=args.id))
    return 0


def mine_form(args: argparse.Namespace, s: Settings) -> int:
    """The grid of a recording shared with me, to fill (only for one shared with me)."""
    from agentapp.cli.analysis import write_form
    from agentapp.vault.sharing import shared_with_me

    review, grants, vault = _mine(s)
    found = [m for m in shared_with_me(review, grants, vault) if m.id == args.id]
    if not found:
        raise CliError(_("{id}: this recording is not shared with you").format(id=args.id))
    from agentapp.cli.review import readable_policy

    write_form(readable_policy(s).grid_for(found[0].training), found[0], args.out)
    return 0


def mine_review(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.cli.analysis import read_form_file

    items = read_form_file(args.file)
    print(MyRecordings(s).review(args.id, items))
    return 0


class MyRecordings:
    """« Mes enregistrements » for the person on this desk, as the window asks it: what is
    shared with them, one of them opened, its grid, and their own review sealed (each act
    vault/sharing.py's). Threading: the caller's thread."""

    def __init__(self, s: Settings) -> None:
        self._s = s
        self._review, self._grants, self._vault = _mine(s)
        self._examples = _examples(s)

    def listed(self) -> list[RecordingMeta]:
        from agentapp.vault.sharing import shared_with_me

        return shared_with_me(self._review, self._grants, self._vault, self._examples)

    def opened(self, rid: str) -> Playback:
        return _playback(self._review, self._grants, self._vault, rid, OWN_REVIEW,
                         self._examples)  # fmt: skip

    def about(self, rid: str) -> str | None:
        """What a teaching example offered to this person shows (its trainer's description,
        opened with their own slips); None for their own recordings, or when it cannot be
        read (the list and the player work without it)."""
        return _described(self._grants, self._examples, rid, self._review.who.name)

    def grid(self, rid: str) -> Grid | None:
        """The training's grid for one of them (None: no grid, or not one of them)."""
        policy = _policy_of(self._s)
        meta = self._vault.get(rid) if self._vault.has(rid) else None
        return policy.grid_for(meta.training) if policy and meta else None

    def review(self, rid: str, items: object) -> str:
        """Seal this person's own review of `rid`; what to tell them."""
        from agentapp.vault.keys import installed_public_key_path
        from agentapp.vault.sharing import add_self_review

        policy = _policy_of(self._s)
        days = policy.notes_retention_days if policy else 365
        a = add_self_review(self._review, self._grants, self._vault, rid, items, self.grid(rid),
                            installed_public_key_path(self._s.data_dir), days)  # fmt: skip
        return _("your review {id} is sealed for your trainers; kept until {purge:%Y-%m-%d}"
                 ).format(id=a.id, purge=_day(a.purge_after))  # fmt: skip


def _described(grants: Grants, examples: Vault, rid: str, me: str) -> str | None:
    """A teaching example's description for `me` (module docstring of vault/examples.py)."""
    from agentapp.vault.examples import described
    from agentapp.vault.keys import load_private_from_keystore
    from agentapp.vault.sealing import SlipKeys

    try:
        grant = grants.get(rid, me) if examples.has(rid) else None
        if grant is None:
            return None
        keys = SlipKeys(load_private_from_keystore(grant.kid), list(grant.slips.values()))
        return described(examples, rid, keys)
    except Exception:  # a key store, a file: the example still plays without its words
        log.warning("the description of %s cannot be read", rid, exc_info=True)
        return None


def _policy_of(s: Settings) -> Policy | None:
    from agentapp.cli.review import who_of

    return who_of(s)[1]


def mine_window(args: argparse.Namespace, s: Settings) -> int:
    """« Mes enregistrements »: the list and the player, in a window (the tray opens it)."""
    need_display()
    from agentapp.ui.mine import run_mine

    if s.config.hub is not None:  # the desk's recordings go to a hub: they are shared there
        from agentapp.cli.hub_mine import HubRecordings

        return run_mine(HubRecordings(s))
    return run_mine(MyRecordings(s))


def _playback(review: Review, grants: Grants, vault: Vault, rid: str, reason: str,
              examples: Vault | None = None) -> Playback:  # fmt: skip
    """One recording shared with this person, decrypted in memory with their slips and
    watermarked with their name; checked and traced (vault/sharing.py)."""
    from agentapp.ui.watermark import qt_mark
    from agentapp.vault.export import mark_text
    from agentapp.vault.keys import load_private_from_keystore
    from agentapp.vault.playback import open_playback
    from agentapp.vault.sharing import open_shared

    meta, keys, where = open_shared(review, grants, vault, rid, reason,
                                    load_private_from_keystore, examples)  # fmt: skip
    mark = qt_mark(mark_text(meta.agent, review.who.name, "viewed", anonymised=not meta.agent))
    try:
        return open_playback(where, meta.id, keys, mark)
    except Exception as exc:  # tampered, a file gone: traced, one line
        review.trace("view failed", meta.id, str(exc))
        raise CliError(_("cannot open {id}: {exc}").format(id=meta.id, exc=exc)) from None


def _day(t: float):  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC)
