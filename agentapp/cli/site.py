"""The commands that run a site: recording keys and the policy-signing key, checking and
publishing a signed policy, enrolments in a draft, and the trainer console.

Threading: run on the CLI's single thread.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agentapp import layout
from agentapp.cli.base import CliError, Parser, Sub, day, handled, read_passphrase

if TYPE_CHECKING:  # crypto and the site's modules load with the command that needs them
    from agentapp.settings import Settings


def register(sub: Sub, common: argparse.ArgumentParser, keyed: argparse.ArgumentParser) -> None:
    keys = sub.add_parser("keys", help="recording keys").add_subparsers(
        dest="keys_command", metavar="ACTION", parser_class=Parser, required=True
    )
    init = keys.add_parser("init", parents=[common], help="create the recording key pair")
    init.add_argument(
        "--private-out",
        type=Path,
        help="write the private key to this passphrase-protected file instead of the OS key store",
    )
    init.add_argument("--passphrase-file", type=Path, help="file holding the passphrase")
    init.add_argument("--force", action="store_true", help="replace an existing public key")
    handled(init, keys_init)
    handled(keys.add_parser("signing-init", parents=[common],
                            help="create the site's policy-signing key pair"),
            signing_init)  # fmt: skip

    pol = sub.add_parser("policy", help="policy files").add_subparsers(
        dest="policy_command", metavar="ACTION", parser_class=Parser, required=True
    )
    check = pol.add_parser("check", help="validate a policy file")
    check.add_argument("file", type=Path)
    handled(check, policy_check, plain=True)
    pub = pol.add_parser("publish", parents=[common],
                         help="sign a policy and publish it to every agent")  # fmt: skip
    pub.add_argument("file", type=Path)
    pub.add_argument("--site", type=Path, required=True, help="the site folder")
    pub.add_argument("--dry-run", action="store_true", help="show what would change, only")
    handled(pub, publish)

    con = sub.add_parser("console", parents=[common], help="the trainer console (Qt)")
    con.add_argument("--site", type=Path, required=True, help="the site folder")
    con.add_argument("--draft", type=Path, help="default: <data dir>/policy-draft.toml")
    con.add_argument("--mine", action="store_true", help="a trainee's view: own recordings")
    handled(con, console)

    en = sub.add_parser("enrol", help="enrol an agent in a training (edits a policy draft)")
    en.add_argument("name", help="the agent")
    en.add_argument("--policy", type=Path, required=True, help="the draft to edit")
    en.add_argument("--training", required=True)
    en.add_argument("--start", type=day, help="default: today")
    en.add_argument("--end", type=day, help="default: start + 3 months (at most 183 days)")
    en.add_argument("--sampling", type=int, default=30, help="%% of calls drawn (default 30)")
    en.add_argument("--quota", type=int, default=10, help="recordings per week (default 10)")
    en.add_argument("--fps", type=int, help="this trainee's frame rate (default: the policy's)")
    handled(en, enrol, plain=True)
    un = sub.add_parser("unenrol", help="end an agent's enrolment now (edits a policy draft)")
    un.add_argument("name")
    un.add_argument("--policy", type=Path, required=True, help="the draft to edit")
    handled(un, enrol, plain=True)


def policy_check(args: argparse.Namespace) -> int:
    path: Path = args.file
    from agentapp.core.policy import PolicyError, load_policy

    try:
        p = load_policy(path)
    except PolicyError as exc:
        raise CliError(f"policy refused: {exc}") from None
    print(f"policy {path}: valid (version {p.version}, purpose {p.purpose})")
    print(f"  controller: {p.controller.name} — DPO: {p.controller.dpo_contact}")
    print(f"  applications: {', '.join(a.name for a in p.applications)}")
    print(
        f"  recording: {p.fps} fps, segments of {p.segment_seconds} s, calls cut at "
        f"{p.max_call_minutes} min, internal calls {'on' if p.record_internal_calls else 'off'}, "
        f"kept {p.retention_days} days"
    )
    for e in p.enrolments:
        print(
            f"  enrolled: {e.agent} in '{e.training}' {e.start} → {e.end}, "
            f"{e.sampling_percent}% of calls, at most {e.weekly_quota}/week"
            + (f", {e.fps} fps" if e.fps else "")
        )
    return 0


def keys_init(args: argparse.Namespace, s: Settings) -> int:
    data_dir = s.data_dir
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from agentapp.vault.keys import (
        KeyProblem,
        public_key_path,
        store_private_in_keystore,
        write_private_file,
        write_public_key,
    )
    from agentapp.vault.sealing import fingerprint

    pub_path = public_key_path(data_dir)
    if pub_path.exists() and not args.force:
        raise CliError(
            f"a recording key already exists ({pub_path}); recordings sealed for it need its "
            "private key. Use --force to replace it anyway"
        )
    if (args.private_out is None) != (args.passphrase_file is None):
        raise CliError("--private-out and --passphrase-file go together", 2)
    private = X25519PrivateKey.generate()
    try:
        if args.private_out is not None:
            passphrase = read_passphrase(args.passphrase_file)
            write_private_file(private, args.private_out, passphrase)
            where = f"passphrase-protected file {args.private_out}"
        else:
            store_private_in_keystore(private)
            where = "the OS key store"
    except FileExistsError:
        raise CliError(f"{args.private_out} already exists: not overwritten") from None
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    write_public_key(private.public_key(), pub_path)
    print(f"recording key {fingerprint(private.public_key())} created")
    print(f"  private key: {where} (needed to export recordings; keep it off agent desks)")
    print(f"  public key:  {pub_path} (agents seal recordings for it)")
    return 0


def signing_init(args: argparse.Namespace, s: Settings) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from agentapp.site.signing import PUBLIC_FILE, store_private, write_public
    from agentapp.vault.keys import KeyProblem

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
    from agentapp.core.policy import PolicyError
    from agentapp.settings import signing_key_path
    from agentapp.site import publish as site
    from agentapp.site.signing import key_id, load_private, load_public
    from agentapp.vault.audit import AuditError, ReviewerTrail
    from agentapp.vault.keys import KeyProblem

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
        trail = ReviewerTrail(args.site, s.user)  # at the site, where the DPO reads it
        trail.append(s.user, "policy published", str(p.target), f"version {p.new.version}",
                     role="trainer")  # fmt: skip
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

    from agentapp.core.policy import Enrolment, PolicyError
    from agentapp.core.policy_writer import default_end, with_enrolment, without_enrolment
    from agentapp.vault.store import write_atomic

    try:
        draft = args.policy.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {args.policy}: {exc}") from None
    try:
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
        write_atomic(args.policy, new.text.encode(), mode=0o644)
    except OSError as exc:
        raise CliError(f"cannot write {args.policy}: {exc}") from None
    print(f"{args.policy}: version {new.policy.version}: {what}")
    print("  (publish it with 'agentapp policy publish')")
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
    from agentapp.ui.console import ConsoleWindow, run_console

    return run_console(lambda: ConsoleWindow(model, locator.windows, load_private_from_keystore,
                                             pick=locator.pick))  # fmt: skip
