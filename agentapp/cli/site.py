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

from agentapp.cli.base import CliError, Parser, Sub, day, handled, read_passphrase
from agentapp.files import layout
from agentapp.i18n import _

if TYPE_CHECKING:  # crypto and the site's modules load with the command that needs them
    from agentapp.agent.settings import Settings


def register(sub: Sub, common: argparse.ArgumentParser, keyed: argparse.ArgumentParser) -> None:
    keys = sub.add_parser("keys", help=_("recording keys")).add_subparsers(
        dest="keys_command", metavar="ACTION", parser_class=Parser, required=True
    )
    init = keys.add_parser("init", parents=[common], help=_("create the recording key pair"))
    init.add_argument(
        "--private-out",
        type=Path,
        help=_(
            "write the private key to this passphrase-protected file instead of the OS key store"
        ),
    )
    init.add_argument("--passphrase-file", type=Path, help=_("file holding the passphrase"))
    init.add_argument("--force", action="store_true", help=_("replace an existing public key"))
    handled(init, keys_init)
    handled(keys.add_parser("signing-init", parents=[common],
                            help=_("create the site's policy-signing key pair")),
            signing_init)  # fmt: skip

    pol = sub.add_parser("policy", help=_("policy files")).add_subparsers(
        dest="policy_command", metavar="ACTION", parser_class=Parser, required=True
    )
    check = pol.add_parser("check", help=_("validate a policy file"))
    check.add_argument("file", type=Path)
    handled(check, policy_check, plain=True)
    pub = pol.add_parser(
        "publish", parents=[common], help=_("sign a policy and publish it to every agent")
    )
    pub.add_argument("file", type=Path)
    pub.add_argument("--site", type=Path, required=True, help=_("the site folder"))
    pub.add_argument("--dry-run", action="store_true", help=_("show what would change, only"))
    handled(pub, publish)

    con = sub.add_parser("console", parents=[common], help=_("the trainer console (Qt)"))
    con.add_argument("--site", type=Path, required=True, help=_("the site folder"))
    con.add_argument("--draft", type=Path, help=_("default: <data dir>/policy-draft.toml"))
    con.add_argument("--mine", action="store_true", help=_("a trainee's view: own recordings"))
    handled(con, console)

    en = sub.add_parser("enrol", help=_("enrol an agent in a training (edits a policy draft)"))
    en.add_argument("name", help=_("the agent"))
    en.add_argument("--policy", type=Path, required=True, help=_("the draft to edit"))
    en.add_argument("--training", required=True)
    en.add_argument("--start", type=day, help=_("default: today"))
    en.add_argument("--end", type=day, help=_("default: start + 3 months (at most 183 days)"))
    en.add_argument("--sampling", type=int, default=30, help=_("%% of calls drawn (default 30)"))
    en.add_argument("--quota", type=int, default=10, help=_("recordings per week (default 10)"))
    en.add_argument("--fps", type=int, help=_("this trainee's frame rate (default: the policy's)"))
    handled(en, enrol, plain=True)
    un = sub.add_parser("unenrol", help=_("end an agent's enrolment now (edits a policy draft)"))
    un.add_argument("name")
    un.add_argument("--policy", type=Path, required=True, help=_("the draft to edit"))
    handled(un, enrol, plain=True)


def policy_check(args: argparse.Namespace) -> int:
    path: Path = args.file
    from agentapp.core.policy import PolicyError, load_policy

    try:
        p = load_policy(path)
    except PolicyError as exc:
        raise CliError(_("policy refused: {exc}").format(exc=exc)) from None
    print(
        _("policy {path}: valid (version {version}, purpose {purpose})").format(
            path=path, version=p.version, purpose=p.purpose
        )
    )
    print(
        _("  controller: {name} — DPO: {dpo_contact}").format(
            name=p.controller.name, dpo_contact=p.controller.dpo_contact
        )
    )
    print(_("  applications: {names}").format(names=", ".join(a.name for a in p.applications)))
    print(
        _(
            "  recording: {fps} fps, segments of {segment_seconds} s, calls "
            "cut at {max_call_minutes} min, internal calls {internal}, kept "
            "{retention_days} days"
        ).format(
            fps=p.fps,
            segment_seconds=p.segment_seconds,
            max_call_minutes=p.max_call_minutes,
            internal=_("on") if p.record_internal_calls else _("off"),
            retention_days=p.retention_days,
        )
    )
    for e in p.enrolments:
        line = _(
            "  enrolled: {agent} in '{training}' {start} → {end}, {percent}% of calls, "
            "at most {quota}/week"
        ).format(agent=e.agent, training=e.training, start=e.start, end=e.end,
                 percent=e.sampling_percent, quota=e.weekly_quota)  # fmt: skip
        print(line + (_(", {fps} fps").format(fps=e.fps) if e.fps else ""))
    for g in p.grids:
        print(_("  analysis grid of '{training}': {criteria}").format(
            training=g.training, criteria=", ".join(c.name for c in g.criteria)))  # fmt: skip
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
            _(
                "a recording key already exists ({pub_path}); recordings sealed "
                "for it need its private key. Use --force to replace it anyway"
            ).format(pub_path=pub_path)
        )
    if (args.private_out is None) != (args.passphrase_file is None):
        raise CliError(_("--private-out and --passphrase-file go together"), 2)
    private = X25519PrivateKey.generate()
    try:
        if args.private_out is not None:
            passphrase = read_passphrase(args.passphrase_file)
            write_private_file(private, args.private_out, passphrase)
            where = _("passphrase-protected file {path}").format(path=args.private_out)
        else:
            store_private_in_keystore(private)
            where = _("the OS key store")
    except FileExistsError:
        raise CliError(
            _("{private_out} already exists: not overwritten").format(private_out=args.private_out)
        ) from None
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    write_public_key(private.public_key(), pub_path)
    print(
        _("recording key {fingerprint} created").format(
            fingerprint=fingerprint(private.public_key())
        )
    )
    print(
        _("  private key: {where} (needed to export recordings; keep it off agent desks)").format(
            where=where
        )
    )
    print(_("  public key:  {pub_path} (agents seal recordings for it)").format(pub_path=pub_path))
    return 0


def signing_init(args: argparse.Namespace, s: Settings) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from agentapp.site.signing import PUBLIC_FILE, store_private, write_public
    from agentapp.vault.keys import KeyProblem

    path = layout.keys(s.data_dir) / PUBLIC_FILE
    if path.exists():
        raise CliError(
            _("a policy-signing key already exists ({path}); agents trust it").format(path=path)
        )
    private = Ed25519PrivateKey.generate()
    try:
        kid = store_private(private)
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    write_public(private.public_key(), path)
    print(_("policy-signing key {kid} created").format(kid=kid))
    print(_("  private key: the OS key store of this machine (it signs every published policy)"))
    print(
        _(
            "  public key:  {path} — install it on every agent as "
            "/etc/agentapp/{PUBLIC_FILE} (or in each agent's <data "
            "dir>/keys/)"
        ).format(path=path, PUBLIC_FILE=PUBLIC_FILE)
    )
    return 0


def publish(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.agent.settings import signing_key_path
    from agentapp.core.policy import PolicyError
    from agentapp.site import publish as site
    from agentapp.site.signing import key_id, load_private, load_public
    from agentapp.vault.audit import AuditError, ReviewerTrail
    from agentapp.vault.keys import KeyProblem

    try:
        public = load_public(signing_key_path(s.data_dir))
        p = site.plan(args.site, args.file.read_bytes(), public, str(args.file))
    except OSError as exc:
        raise CliError(_("cannot read {file}: {exc}").format(file=args.file, exc=exc)) from None
    except PolicyError as exc:
        raise CliError(_("policy refused: {exc}").format(exc=exc)) from None
    if p.untrusted:
        print(
            _("(the site's current policy cannot be trusted: {untrusted})").format(
                untrusted=p.untrusted
            ),
            file=sys.stderr,
        )
    for action, what in p.changes:
        print(f"  {action}: {what}")
    if args.dry_run:
        print(_("dry run: nothing published"))
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
        raise CliError(_("refused: {exc} (publishing must be traced)").format(exc=exc)) from None
    except OSError as exc:
        raise CliError(_("cannot write {target}: {exc}").format(target=p.target, exc=exc)) from None
    print(
        _(
            "policy version {version} signed with key {key_id} and published "
            "to {target}; agents pick it up within seconds"
        ).format(version=p.new.version, key_id=key_id(public), target=p.target)
    )
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
        raise CliError(
            _("cannot read {policy}: {exc}").format(policy=args.policy, exc=exc)
        ) from None
    try:
        if args.command == "unenrol":
            new = without_enrolment(draft, args.name)
            what = _("{agent} is no longer enrolled").format(agent=args.name)
        else:
            start = args.start or dt.date.today()
            end = args.end or default_end(start)
            e = Enrolment(args.name, args.training, start, end, args.sampling, args.quota, args.fps)
            new = with_enrolment(draft, e)
            what = _(
                "{agent} enrolled in '{training}' {start} → {end}, {percent}% of calls, "
                "at most {quota}/week"
            ).format(agent=args.name, training=args.training, start=start, end=end,
                     percent=args.sampling, quota=args.quota)  # fmt: skip
    except PolicyError as exc:
        raise CliError(_("policy refused: {exc}").format(exc=exc)) from None
    try:
        write_atomic(args.policy, new.text.encode(), mode=0o644)
    except OSError as exc:
        raise CliError(
            _("cannot write {policy}: {exc}").format(policy=args.policy, exc=exc)
        ) from None
    print(
        _("{policy}: version {version}: {what}").format(
            policy=args.policy, version=new.policy.version, what=what
        )
    )
    print(_("  (publish it with 'agentapp policy publish')"))
    return 0


def console(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.platform.factory import create_locator
    from agentapp.trainer.console import ConsoleError, ConsoleModel
    from agentapp.vault.keys import load_private_from_keystore

    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        raise CliError(_("the console needs a display (the same actions exist as commands)"))
    model = ConsoleModel(s, args.site, args.draft, mine=args.mine)
    try:
        model.draft() if not args.mine else None
    except ConsoleError as exc:
        raise CliError(str(exc)) from None
    locator = create_locator()
    from agentapp.ui.console import ConsoleWindow, run_console

    return run_console(lambda: ConsoleWindow(model, locator.windows, load_private_from_keystore,
                                             pick=locator.pick))  # fmt: skip
