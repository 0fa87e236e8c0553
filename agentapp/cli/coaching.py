"""Coaching records from the command line (R1, R7–R9, R11): written after a session by a
trainer of the recording's training, listed, read, and printed as a text-only PDF for the
session. Each act is vault/coaching.py's, checked and traced there.

    agentapp coaching add RECORDING --session 2026-12-10 --next-steps FILE
                          [--analysis ID] [--self-review ID]
    agentapp coaching list
    agentapp coaching show ID --reason WHY
    agentapp coaching pdf ID --out FILE.pdf --reason WHY
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from agentapp.cli.base import CliError, Parser, Sub, audited_reason, day, handled
from agentapp.i18n import _

if TYPE_CHECKING:
    from agentapp.agent.settings import Settings
    from agentapp.core.coaching import Coaching
    from agentapp.vault.coaching import CoachingStore
    from agentapp.vault.review import Review


def register(sub: Sub, common: argparse.ArgumentParser, keyed: argparse.ArgumentParser) -> None:
    co = sub.add_parser(
        "coaching", help=_("coaching records: both analyses, the next steps (trainers; sealed)")
    ).add_subparsers(dest="coaching_command", metavar="ACTION", parser_class=Parser,
                     required=True)  # fmt: skip
    ad = co.add_parser("add", parents=[common, keyed], help=_("write the record of a session"))
    ad.add_argument("recording")
    ad.add_argument("--session", type=day, required=True, help=_("the session's date"))
    ad.add_argument("--next-steps", required=True, metavar="FILE",
                    help=_("the next steps agreed, as text ('-': standard input)"))  # fmt: skip
    ad.add_argument("--analysis", help=_("the trainer's analysis of the call (its id)"))
    ad.add_argument("--self-review", help=_("the trainee's own review of the call (its id)"))
    handled(ad, add)
    handled(co.add_parser("list", parents=[common], help=_("the records you may read")), listed)
    acts = (("show", _("decrypt and print one record")),
            ("pdf", _("one record as a text-only PDF for the session")))  # fmt: skip
    for name, text in acts:
        p = co.add_parser(name, parents=[common, keyed], help=text)
        p.add_argument("id")
        p.add_argument("--reason", required=True, help=_("why (audited)"))
        if name == "pdf":
            p.add_argument("--out", type=Path, required=True, help=_("a new .pdf file"))
        handled(p, show)


def _open(s: Settings) -> tuple[Review, CoachingStore, int]:
    from agentapp.cli.review import review_for, who_of
    from agentapp.files import layout
    from agentapp.vault.coaching import CoachingStore

    who, policy = who_of(s)
    days = policy.notes_retention_days if policy else 365
    return review_for(s, who), CoachingStore(layout.coaching(s.data_dir)), days


def add(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.cli.analysis import read_text
    from agentapp.cli.review import private_key
    from agentapp.vault.coaching import add_record
    from agentapp.vault.keys import KeyProblem, installed_public_key_path, load_public_key

    review, store, days = _open(s)
    steps = read_text(args.next_steps)
    try:
        key = load_public_key(installed_public_key_path(s.data_dir))
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    m = add_record(review, store, args.recording, (args.analysis, args.self_review), steps,
                   args.session, lambda seal: private_key(args, seal), key, days)  # fmt: skip
    print(_("coaching record {id} sealed; purged on {purge:%Y-%m-%d}").format(
        id=m.id, purge=dt.datetime.fromtimestamp(m.purge_after, dt.UTC)))  # fmt: skip
    return 0


def listed(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.vault.coaching import records

    review, store, _days = _open(s)
    found = records(review, store)
    for m in sorted(found, key=lambda m: m.created_at):
        print(_("{id}  on {recording}  {trainee}  session {session}  by {author}").format(
            id=m.id, recording=m.recording, trainee=m.trainee, session=m.session,
            author=m.author))  # fmt: skip
    if not found:
        print(_("no coaching record visible to {name} ({role})").format(
            name=review.who.name, role=review.who.role))  # fmt: skip
    return 0


def show(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.cli.review import private_key
    from agentapp.vault.coaching import list_pdf, read_record

    audited_reason(args.reason)
    review, store, _days = _open(s)
    out = getattr(args, "out", None)
    if out is not None:
        out = pdf_path(out)
    meta, c = read_record(review, store, args.id, args.reason,
                          lambda seal: private_key(args, seal))  # fmt: skip
    if out is None:
        print_coaching(c)
        return 0
    list_pdf(review, meta, out)
    write_coaching_pdf(c, meta.author, out)
    return 0


def pdf_path(out: Path) -> Path:
    """`out`, absolute, if it names a new .pdf file; refused in one line otherwise."""
    out = out.absolute()
    if out.suffix.lower() != ".pdf" or out.exists():
        raise CliError(_("--out must name a new .pdf file"), 2)
    return out


def print_coaching(c: Coaching) -> None:
    from agentapp.core.coaching import said, side_by_side

    print(_("Coaching record of {trainee}, recording {id}, session {session}").format(
        trainee=c.trainee, id=c.recording, session=c.session.isoformat()))  # fmt: skip
    trainer, trainee = _("trainer: {said}"), _("trainee: {said}")
    for r in side_by_side(c):
        print(f"{r.criterion}\n    {trainer.format(said=said(r.trainer))}\n"
              f"    {trainee.format(said=said(r.trainee))}")  # fmt: skip
    print(_("Next steps:"))
    print(c.next_steps)


def write_coaching_pdf(c: Coaching, author: str, out: Path) -> None:
    """The record as a text-only PDF at `out` (listed for the purge by the caller first)."""
    from agentapp.ui.coaching_pdf import write_pdf

    try:
        write_pdf(c, author, out)
    except OSError as exc:
        raise CliError(_("the PDF is not written: {exc}").format(exc=exc)) from None
    print(_("written to {path} (text only; removed with the record's deadline)").format(path=out))
