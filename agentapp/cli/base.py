"""What every command group shares: its error, the parser class, the argument types, the
passphrase. Nothing heavy is imported here (the command line starts fast).

A group module has `register(sub, common, keyed)`: it adds its sub-commands to `sub` and
sets, on each, `handler` (called with the parsed arguments, and the desk's Settings unless
`plain=True`). cli/main.py assembles the groups and calls the handler: no if-chain.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from agentapp.core.errors import Refusal
from agentapp.i18n import _


class CliError(Refusal):
    """A command's refusal or failure (code 2: the command line itself was wrong)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(
            _("{prog}: error: {message} (see {prog} --help)\n").format(
                prog=self.prog, message=message
            )
        )
        raise SystemExit(2)


Sub = Any  # argparse's sub-parser action (its type is private)


def handled(parser: argparse.ArgumentParser, handler: Any, plain: bool = False) -> None:
    """`handler(args, settings)` runs this command (`plain`: `handler(args)`, no settings
    read: it works without a data folder)."""
    parser.set_defaults(handler=handler, plain=plain)


def day(text: str) -> object:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not a date like 2026-12-31").format(text=text)
        ) from None


def moment(text: str) -> float:
    """An ISO date and time (with its offset; none: UTC) as seconds since the epoch."""
    import datetime as dt

    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not a date and time like 2026-12-02T14:03:05.120+01:00").format(
                text=text
            )
        ) from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


def rect(text: str) -> object:
    from agentapp.core.geometry import Rect

    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(_("{text!r} is not X,Y,W,H").format(text=text)) from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise argparse.ArgumentTypeError(
            _("{text!r}: width and height must be positive").format(text=text)
        )
    return Rect(x, y, w, h)


def audited_reason(text: str | None, option: str = "--reason") -> str:
    """The reason given with `option`, as the audit trail will hold it (vault/review.py);
    code 2 when it is too short to mean anything."""
    from agentapp.vault.review import ReviewError, reason_of

    try:
        return reason_of(text)
    except ReviewError:
        pass
    raise CliError(
        _("give a real reason with {option} (it is written to the audit trail)").format(
            option=option
        ),
        2,
    )


def read_passphrase(path: Path | None) -> bytes:
    env = os.environ.get("AGENTAPP_KEY_PASSPHRASE")
    if path is None:
        if env:
            return env.encode()
        raise CliError(_("this key file needs --passphrase-file (or AGENTAPP_KEY_PASSPHRASE)"))
    try:
        return path.read_bytes().rstrip(b"\r\n")
    except OSError as exc:
        raise CliError(_("cannot read the passphrase file: {exc}").format(exc=exc)) from None


OWN_REVIEW = "my own review"  # the reason traced when a trainee gives none


def need_display() -> None:
    """Refuses in one line when there is no desktop to show a recording on."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise CliError(_("no display to play the recording on"))
