"""Command line: `agentapp <command>`. Bad input gives one clear line and a non-zero exit.

Exit codes: 0 done · 1 refused or failed (the line says why) · 2 bad arguments ·
3 the agent is not running (hook).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from agentapp import __version__
from agentapp.cli import (
    agent,
    analysis,
    argparse_texts,
    coaching,
    examples,
    hub,
    review,
    sharing,
    site,
)
from agentapp.cli.base import CliError, Parser
from agentapp.core.errors import Refusal
from agentapp.files import layout
from agentapp.i18n import _

# each adds its own sub-commands (cli/base.py)
GROUPS = (agent, site, review, analysis, coaching, sharing, examples, hub)


def _parser() -> argparse.ArgumentParser:
    argparse_texts.install()
    p = Parser(
        prog="agentapp",
        description=_(
            "Screen video of the business application during calls, for training only. "
            "Bad input gives one clear line and a non-zero exit."
        ),
    )
    p.add_argument(
        "--version",
        action="version",
        version=f"agentapp {__version__}",
        help=_("show program's version number and exit"),
    )
    common = Parser(add_help=False)
    common.add_argument(
        "--data-dir",
        help=_("all agent state (default: $AGENTAPP_DATA_DIR or the platform's user data dir)"),
    )
    common.add_argument(
        "--agent", help=_("agent identity (default: $AGENTAPP_AGENT or login name)")
    )
    keyed = Parser(add_help=False)  # the commands that decrypt
    keyed.add_argument("--key", type=Path, help=_("passphrase-protected private key file"))
    keyed.add_argument("--passphrase-file", type=Path)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for group in GROUPS:
        group.register(sub, common, keyed)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from agentapp.telephony.hookcli import fast_path, invocation_time

    started = invocation_time()  # a hook's event time: when the softphone ran the command
    argv = list(argv) if argv is not None else sys.argv[1:]
    code = fast_path(argv, started)
    if code is not None:
        return code
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    # Softphones (MicroSIP) append the caller's number to a hook command: accepted so the hook
    # works, never read, logged or sent. Anything that looks like an option is still an error.
    if extra and args.command != "hook":
        parser.error(_("unrecognized arguments: %s") % " ".join(extra))
    if any(x.startswith("-") for x in extra):  # never echo a hook's other values
        parser.error(_("unrecognized arguments: %s") % " ".join(x for x in extra if x[:1] == "-"))
    if args.command is None:  # `agentapp` alone starts the agent with its tray
        args = _parser().parse_args(["run"])
    try:
        from agentapp.files.logs import console_logging

        console_logging()
        return _dispatch(args)
    except Refusal as exc:  # every error a person reads (core/errors.py)
        sys.stderr.write(f"agentapp: {exc}\n")
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # last resort: one line for the person, the traceback to a file
        where = _crash_report()
        sys.stderr.write(
            _("agentapp: unexpected error: {name}: {exc} (details in {where})\n").format(
                name=type(exc).__name__, exc=exc, where=where
            )
        )
        return 1


def _crash_report() -> str:
    """Write the current traceback to the agent log (or a temporary file); return where."""
    import tempfile
    import traceback

    text = traceback.format_exc()
    try:
        from agentapp.files.paths import default_data_dir

        path = layout.log_file(default_data_dir())
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(path, "a") as f:
            f.write(text)
        return str(path)
    except Exception:
        fd, name = tempfile.mkstemp(prefix="agentapp-error-", suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return name


def _dispatch(args: argparse.Namespace) -> int:
    handler = getattr(args, "handler", None)
    if handler is None:  # hook and control run on the fast path (telephony/hookcli.py)
        raise CliError(_("'{command}' is not run here").format(command=args.command), 2)
    if args.plain:
        return int(handler(args))
    from agentapp.agent.settings import settings
    from agentapp.core.config import ConfigError

    try:
        s = settings(args.data_dir, args.agent, getattr(args, "policy", None))
    except ConfigError as exc:
        raise CliError(_("configuration refused: {exc}").format(exc=exc)) from None
    if args.command != "doctor":  # doctor says it among its checks
        from agentapp.files.datafolder import UnsafeFolder, check

        try:
            check(str(s.data_dir))
        except UnsafeFolder as exc:
            raise CliError(str(exc), 2) from None
    return int(handler(args, s))


if __name__ == "__main__":
    raise SystemExit(main())
