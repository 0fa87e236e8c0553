"""The commands that run a site: the policy-signing key and publishing a signed policy.

Threading: run on the CLI's single thread.
"""

from __future__ import annotations

import argparse
import os
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agentapp import layout
from agentapp.cli import CliError
from agentapp.core.policy import PolicyError
from agentapp.settings import Settings, signing_key_path
from agentapp.site.signing import (
    PUBLIC_FILE,
    key_id,
    load_private,
    load_public,
    store_private,
    write_public,
)
from agentapp.vault.audit import AuditError, AuditLog
from agentapp.vault.keys import KeyProblem
from agentapp.vault.store import write_atomic


def signing_init(args: argparse.Namespace, s: Settings) -> int:
    path = layout.keys(s.data_dir) / PUBLIC_FILE
    if path.exists():
        raise CliError(f"a policy-signing key already exists ({path}); agents trust it")
    private = Ed25519PrivateKey.generate()
    try:
        kid = store_private(private)
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    write_public(private.public_key(), path)
    print(f"policy-signing key {kid} created")
    print("  private key: the OS key store of this machine (it signs every published policy)")
    print(f"  public key:  {path} — install it on every agent as "
          f"/etc/agentapp/{PUBLIC_FILE} (or in each agent's <data dir>/keys/)")  # fmt: skip
    return 0


def publish(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.site import publish as site

    try:
        public = load_public(signing_key_path(s.data_dir))
        p = site.plan(args.site, args.file.read_bytes(), public, str(args.file))
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc}") from None
    except PolicyError as exc:
        raise CliError(f"policy refused: {exc}") from None
    if p.untrusted:
        print(f"(the site's current policy cannot be trusted: {p.untrusted})", file=sys.stderr)
    for action, what in p.changes:
        print(f"  {action}: {what}")
    if args.dry_run:
        print("dry run: nothing published")
        return 0
    try:
        private = load_private(public)
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    try:
        AuditLog.in_dir(s.data_dir).append(s.user, "policy published", str(p.target),
                                           f"version {p.new.version}", role="trainer")  # fmt: skip
        site.publish(p, private)
    except AuditError as exc:
        raise CliError(f"refused: {exc} (publishing must be traced)") from None
    except OSError as exc:
        raise CliError(f"cannot write {p.target}: {exc}") from None
    print(f"policy version {p.new.version} signed with key {key_id(public)} and published to "
          f"{p.target}; agents pick it up within seconds")  # fmt: skip
    return 0


def enrol(args: argparse.Namespace) -> int:
    """Edit a policy draft: one enrolment added, changed or removed, the version increased."""
    import datetime as dt

    from agentapp.core.policy import Enrolment, load_policy
    from agentapp.core.policy_writer import default_end, to_toml, with_enrolment, without_enrolment

    try:
        draft = load_policy(args.policy)
        if args.command == "unenrol":
            new = without_enrolment(draft, args.name)
            what = f"{args.name} is no longer enrolled"
        else:
            start = args.start or dt.date.today()
            end = args.end or default_end(start)
            e = Enrolment(args.name, args.training, start, end, args.sampling, args.quota, args.fps)
            new = with_enrolment(draft, e)
            what = (f"{args.name} enrolled in '{args.training}' {start} → {end}, "
                    f"{args.sampling}% of calls, at most {args.quota}/week")  # fmt: skip
    except PolicyError as exc:
        raise CliError(f"policy refused: {exc}") from None
    try:
        write_atomic(args.policy, to_toml(new).encode(), mode=0o644)
    except OSError as exc:
        raise CliError(f"cannot write {args.policy}: {exc}") from None
    print(f"{args.policy}: version {new.version}: {what}")
    print("  (comments of the draft are not kept; publish it with 'agentapp policy publish')")
    return 0


def console(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.console import ConsoleError, ConsoleModel
    from agentapp.platform.factory import create_locator
    from agentapp.vault.keys import load_private_from_keystore

    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        raise CliError("the console needs a display (the same actions exist as commands)")
    model = ConsoleModel(s, args.site, args.draft, mine=args.mine)
    try:
        model.draft() if not args.mine else None
    except ConsoleError as exc:
        raise CliError(str(exc)) from None
    locator = create_locator()
    from agentapp.ui.console_window import ConsoleWindow, run_console

    return run_console(lambda: ConsoleWindow(model, locator.windows, load_private_from_keystore,
                                             pick=locator.pick))  # fmt: skip
