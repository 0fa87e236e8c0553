"""Teaching examples from the command line (R7): a trainer makes an anonymised, sealed extract
of a recording of their training with a description, and offers it to trainees of the same
training, who watch it in « Mes enregistrements ». Each act is vault/examples.py's, checked and
traced there.

    agentapp examples add ID --description TEXT [--blur X,Y,W,H]… --reason WHY
    agentapp examples offer EXAMPLE --to LOGIN --reason WHY
    agentapp examples list
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from agentapp.cli.base import CliError, Parser, Sub, audited_reason, handled, rect
from agentapp.i18n import _

if TYPE_CHECKING:
    from agentapp.agent.settings import Settings


def register(sub: Sub, common: argparse.ArgumentParser, keyed: argparse.ArgumentParser) -> None:
    ex = sub.add_parser(
        "examples", help=_("teaching examples: anonymised extracts offered to other trainees")
    ).add_subparsers(dest="examples_command", metavar="ACTION", parser_class=Parser,
                     required=True)  # fmt: skip
    ad = ex.add_parser("add", parents=[common, keyed],
                       help=_("make an anonymised, sealed extract of a recording"))  # fmt: skip
    ad.add_argument("id")
    ad.add_argument("--description", required=True, help=_("what the example shows"))
    ad.add_argument("--blur", type=rect, action="append", metavar="X,Y,W,H",
                    help=_("a window rectangle to blur in every frame (repeatable)"))  # fmt: skip
    ad.add_argument("--reason", required=True, help=_("why (audited)"))
    handled(ad, add)
    of = ex.add_parser("offer", parents=[common, keyed],
                       help=_("offer an example to a trainee of its training"))  # fmt: skip
    of.add_argument("id")
    of.add_argument("--to", required=True, metavar="LOGIN", help=_("the trainee's login"))
    of.add_argument("--reason", required=True, help=_("why (audited)"))
    handled(of, offer)
    handled(ex.add_parser("list", parents=[common], help=_("the site's teaching examples")),
            listed)  # fmt: skip


def add(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.cli.review import private_key, review_for, who_of
    from agentapp.cli.sharing import site_of
    from agentapp.vault.examples import make_example
    from agentapp.vault.keys import KeyProblem, installed_public_key_path, load_public_key

    audited_reason(args.reason)
    who, _policy = who_of(s)
    try:
        public = load_public_key(installed_public_key_path(s.data_dir))
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    meta = make_example(review_for(s, who), site_of(s), args.id, args.reason, args.description,
                        tuple(args.blur or ()), lambda seal: private_key(args, seal),
                        public)  # fmt: skip
    print(_("teaching example {id} made (anonymised, no voice, sealed); it goes on "
            "{until:%Y-%m-%d} with its recording").format(id=meta.id, until=_day(
                meta.purge_after)))  # fmt: skip
    return 0


def offer(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.cli.review import private_key, review_for, who_of
    from agentapp.cli.sharing import site_of
    from agentapp.vault.examples import offer as offer_it
    from agentapp.vault.grants import GrantError
    from agentapp.vault.people import registered_key

    audited_reason(args.reason)
    who, policy = who_of(s)
    site = site_of(s)
    try:
        key = registered_key(site, args.to)
    except GrantError as exc:
        raise CliError(_("not offered: {exc}").format(exc=exc)) from None
    enrolled = policy.enrolment_for(args.to) if policy else None
    g = offer_it(review_for(s, who), site, args.id, args.to,
                 enrolled.training if enrolled else None, args.reason,
                 lambda seal: private_key(args, seal), key)  # fmt: skip
    print(_("example {id} offered to {login}").format(id=g.recording, login=g.agent))
    return 0


def listed(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.cli.review import review_for, who_of
    from agentapp.cli.sharing import site_of
    from agentapp.core.access import Action, RecordingRef, refusal
    from agentapp.vault.examples import examples

    who, _policy = who_of(s)
    review = review_for(s, who)
    ours = Action.EXPORT_ANONYMISED
    found = [m for m in examples(site_of(s)).recordings()
             if refusal(who, ours, RecordingRef("", m.training)) is None]  # fmt: skip
    review.trace("list teaching examples", f"{len(found)} example(s)")
    for m in found:
        line = _("{id}  {training}  {duration:.0f} s  until {until:%Y-%m-%d}")
        print(line.format(id=m.id, training=m.training, duration=m.duration_s,
                          until=_day(m.purge_after)))  # fmt: skip
    if not found:
        print(_("no teaching example visible to {name} ({role})").format(
            name=who.name, role=who.role))  # fmt: skip
    return 0


def _day(t: float):  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC)
