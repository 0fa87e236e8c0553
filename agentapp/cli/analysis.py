"""The analysis grid on a recording, from the command line (R1, R7–R9): the form to fill, the
filled form sealed, the analyses listed and read. Each act is vault/review.py's (checked and
traced there); this module only reads files and prints.

    agentapp analysis form RECORDING [--out FILE]
    agentapp analysis add RECORDING FILE        (FILE "-": standard input)
    agentapp analysis list [--recording RECORDING]
    agentapp analysis show ID --reason WHY [--key FILE --passphrase-file FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from agentapp.cli.base import CliError, Parser, Sub, audited_reason, handled
from agentapp.i18n import _

if TYPE_CHECKING:
    from agentapp.agent.settings import Settings
    from agentapp.core.analysis import Analysis
    from agentapp.core.grid import Grid
    from agentapp.core.policy import Policy
    from agentapp.vault.review import Review
    from agentapp.vault.store import RecordingMeta

MAX_FORM = 200_000  # bytes: a grid of 30 criteria with full comments is ~70 kB


def register(sub: Sub, common: argparse.ArgumentParser, keyed: argparse.ArgumentParser) -> None:
    an = sub.add_parser(
        "analysis", help=_("the training's analysis grid on a recording (trainers; sealed)")
    ).add_subparsers(dest="analysis_command", metavar="ACTION", parser_class=Parser,
                     required=True)  # fmt: skip
    fm = an.add_parser("form", parents=[common],
                       help=_("the grid to fill for a recording, as a TOML form"))  # fmt: skip
    fm.add_argument("recording")
    fm.add_argument("--out", type=Path, help=_("write the form to this file (default: print)"))
    handled(fm, form)
    ad = an.add_parser("add", parents=[common], help=_("seal a filled form on its recording"))
    ad.add_argument("recording")
    ad.add_argument("file", help=_("the filled form ('-': standard input)"))
    handled(ad, add)
    ls = an.add_parser("list", parents=[common], help=_("the analyses you may read"))
    ls.add_argument("--recording", help=_("only those on this recording"))
    handled(ls, list_analyses)
    sh = an.add_parser("show", parents=[common, keyed], help=_("decrypt and print one analysis"))
    sh.add_argument("id")
    sh.add_argument("--reason", required=True, help=_("why (audited)"))
    handled(sh, show)


def form(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.core.access import Action

    review, policy = _review(s)
    meta = review.allowed(Action.ANALYSIS, args.recording)
    write_form(policy.grid_for(meta.training) if policy else None, meta, args.out)
    return 0


def write_form(grid: Grid | None, meta: RecordingMeta, out: Path | None) -> None:
    """The grid's form for `meta`, printed or written to a new file `out`."""
    from agentapp.core.analysis import form as grid_form

    if grid is None:
        raise CliError(_("training '{training}' has no analysis grid in the policy").format(
            training=meta.training))  # fmt: skip
    text = grid_form(grid, meta.id, meta.duration_s)
    if out is None:
        print(text, end="")
        return
    try:
        with open(out, "x", encoding="utf-8") as f:  # never over another file
            f.write(text)
    except OSError as exc:
        raise CliError(_("cannot write the form: {exc}").format(exc=exc)) from None
    print(_("form for {id} written to {file}").format(id=meta.id, file=out))


def add(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.vault.keys import installed_public_key_path

    review, policy = _review(s)
    items = read_form_file(args.file)
    meta = review.meta(args.recording)
    grid = policy.grid_for(meta.training) if policy else None
    days = policy.notes_retention_days if policy else 365
    a = review.add_analysis(meta.id, items, grid, installed_public_key_path(s.data_dir), days,
                            time.time())  # fmt: skip
    print(_("analysis {id} sealed; purged on {purge:%Y-%m-%d}").format(
        id=a.id, purge=dt.datetime.fromtimestamp(a.purge_after, dt.UTC)))  # fmt: skip
    return 0


def list_analyses(args: argparse.Namespace, s: Settings) -> int:
    review, _policy = _review(s)
    found = [a for a in review.analyses() if args.recording in (None, a.recording)]
    for a in sorted(found, key=lambda a: a.created_at):
        when = dt.datetime.fromtimestamp(a.created_at, dt.UTC)
        purge = dt.datetime.fromtimestamp(a.purge_after, dt.UTC)
        print(_("{id}  on {recording}  {training}  by {author}  {when:%Y-%m-%d %H:%M} UTC  "
                "(purged on {purge:%Y-%m-%d})").format(
            id=a.id, recording=a.recording, training=a.training, author=a.author, when=when,
            purge=purge))  # fmt: skip
    if not found:
        print(_("no analysis visible to {name} ({role})").format(
            name=review.who.name, role=review.who.role))  # fmt: skip
    return 0


def show(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.cli.review import private_key

    audited_reason(args.reason)
    review, _policy = _review(s)
    print_analysis(review.read_analysis(args.id, args.reason, lambda seal: private_key(args, seal)))
    return 0


def print_analysis(a: Analysis) -> None:
    from agentapp.core.analysis import describe

    print(_("Analysis of recording {id}, training '{training}'").format(
        id=a.recording, training=a.training))  # fmt: skip
    for line in describe(a):
        print(line)


def _review(s: Settings) -> tuple[Review, Policy | None]:
    from agentapp.cli.review import review_for, who_of

    who, policy = who_of(s)
    return review_for(s, who), policy


def read_form_file(name: str) -> object:
    """The [[mark]] tables of a filled form file ('-': standard input), unchecked."""
    from agentapp.core.analysis import AnalysisError, form_items

    try:
        return form_items(read_text(name))
    except AnalysisError as exc:
        raise CliError(_("analysis not saved: {exc}").format(exc=exc)) from None


def read_text(name: str) -> str:
    """A text a person wrote, from a file or standard input ('-'), bounded and decoded."""
    try:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_FORM + 1)
        else:
            with open(name, "rb") as f:
                data = f.read(MAX_FORM + 1)
        if len(data) > MAX_FORM:
            raise CliError(_("the text is larger than {n} bytes").format(n=MAX_FORM))
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(_("cannot read {name}: {exc}").format(name=name, exc=exc)) from None
