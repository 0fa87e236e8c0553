"""The site hub's commands (docs/hub.md): a trial hub in one command, logins, this desk's
password, the policy's enrolments, the recordings one may see, the trail, the purge (the
training's shares and documents: cli/hub_training.py, cli/hub_documents.py).

A person's command connects as that person's own hub login ([hub] of agent.toml, or --hub,
--user, --ca); `--dir` administers a trial hub made by `hub init` over its local socket, as
the account that owns it.

Threading: run on the CLI's single thread.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentapp.cli.base import (
    CliError,
    Parser,
    Sub,
    audited_reason,
    day,
    handled,
    read_passphrase,
)
from agentapp.cli.hub_login import hub_config as _config
from agentapp.cli.hub_login import person as _person
from agentapp.i18n import _

if TYPE_CHECKING:
    from agentapp.agent.settings import Settings


def register(sub: Sub, common: argparse.ArgumentParser, keyed: argparse.ArgumentParser) -> None:
    hub = sub.add_parser("hub", help=_("the site hub on PostgreSQL")).add_subparsers(
        dest="hub_command", metavar="ACTION", parser_class=Parser, required=True
    )
    login = Parser(add_help=False)  # whose hub login: agent.toml's [hub], or these
    login.add_argument("--hub", metavar="URL", help=_("postgresql://host:port/agentapp"))
    login.add_argument("--user", help=_("your hub login"))
    login.add_argument("--ca", type=Path, help=_("the hub's CA certificate"))
    trial = Parser(add_help=False)
    trial.add_argument("--dir", type=Path, help=_("a trial hub's folder (its owner only)"))

    init = hub.add_parser("init", help=_("make and start a trial hub in a new folder"))
    init.add_argument("dir", type=Path)
    init.add_argument("--port", type=int, default=5433)
    init.add_argument(
        "--timezone",
        default=os.environ.get("TZ") or "Europe/Paris",
        help=_("the site's time zone: weeks start on its Mondays"),
    )
    init.add_argument("--max-connections", type=int, default=200)
    init.add_argument(
        "--run-as",
        default="",
        metavar="ACCOUNT",
        help=_("as root: the unprivileged account the server runs as"),
    )
    handled(init, hub_init, plain=True)
    stop = hub.add_parser("stop", help=_("stop a trial hub"))
    stop.add_argument("dir", type=Path)
    handled(stop, hub_stop, plain=True)

    add = hub.add_parser(
        "add-login", parents=[common, login, trial], help=_("a hub login for a desk or a person")
    )
    add.add_argument("role", help=_("the login's name, e.g. desk-pc12 or alice"))
    add.add_argument("--kind", required=True, choices=("desk", "agent", "trainer", "dpo", "admin"))
    add.add_argument("--person", help=_("the name the policy gives them (default: the login)"))
    add.add_argument(
        "--password-out",
        type=Path,
        help=_("write the new password to this file (0600) instead of showing it"),
    )
    handled(add, add_login)

    pw = hub.add_parser(
        "login",
        parents=[common, login],
        help=_("store this desk's or your hub password in the OS key store"),
    )
    pw.add_argument("--password-file", type=Path, help=_("default: read it from stdin"))
    handled(pw, hub_login)
    st = hub.add_parser("status", parents=[common, login], help=_("who the hub knows you as"))
    handled(st, hub_status)

    pub = hub.add_parser(
        "publish",
        parents=[common, login, trial],
        help=_("give the hub the policy's enrolments and trainers (IT)"),
    )
    pub.add_argument("file", type=Path)
    handled(pub, hub_publish)
    ls = hub.add_parser(
        "list", parents=[common, login], help=_("the recordings at the hub that you may see")
    )
    ls.add_argument("--of", dest="of_agent", metavar="AGENT")
    ls.add_argument("--training")
    ls.add_argument("--since", type=day)
    ls.add_argument("--json", action="store_true")
    handled(ls, hub_list)
    fe = hub.add_parser(
        "fetch",
        parents=[common, login],
        help=_("copy one recording, sealed, from the hub to a folder of yours"),
    )
    fe.add_argument("id")
    fe.add_argument(
        "--into",
        type=Path,
        required=True,
        help=_("a data folder: then 'agentapp recordings view ID --data-dir' it"),
    )
    fe.add_argument("--reason", required=True, help=_("why you need it (audited at the hub)"))
    handled(fe, hub_fetch)
    im = hub.add_parser(
        "import-trails",
        parents=[common, login, trial],
        help=_("copy a site folder's reviewer trails into the hub's (IT)"),
    )
    im.add_argument("--site", type=Path, required=True, help=_("the site folder"))
    handled(im, hub_import_trails)
    nt = hub.add_parser(
        "note",
        parents=[common, login],
        help=_("a trainer's note on a recording at the hub (sealed)"),
    )
    nt.add_argument("id")
    nt.add_argument("--text", required=True)
    nt.add_argument("--at", type=float, metavar="SECONDS", help=_("the moment it is about"))
    handled(nt, hub_note)
    ns = hub.add_parser(
        "notes", parents=[common, login, keyed], help=_("the notes on a recording at the hub")
    )
    ns.add_argument("id")
    ns.add_argument(
        "--read", metavar="REASON", help=_("decrypt and print them, for this reason (audited)")
    )
    handled(ns, hub_notes)
    au = hub.add_parser(
        "audit",
        parents=[common, login, trial],
        help=_("verify and print the hub's audit trail (DPO, IT)"),
    )
    au.add_argument("--quiet", action="store_true", help=_("the verdict only"))
    handled(au, hub_audit)
    pu = hub.add_parser(
        "purge",
        parents=[common, login, trial],
        help=_("delete the recordings past their deadline at the hub (IT)"),
    )
    handled(pu, hub_purge)
    up = hub.add_parser(
        "upgrade",
        parents=[common, login, trial],
        help=_("bring the hub's schema to this agentapp's (a trial hub's owner, a superuser)"),
    )
    handled(up, hub_upgrade)
    from agentapp.cli.hub_documents import register_on as register_documents
    from agentapp.cli.hub_mine import register_mine
    from agentapp.cli.hub_training import register_on

    register_on(hub, common, login, keyed)
    register_documents(hub, common, login, keyed)
    register_mine(hub, common, login)


# ------------------------------------------------------------------ connections
def _admin(args: argparse.Namespace, s: Settings) -> Any:
    if getattr(args, "dir", None) is not None:
        from agentapp.hub.cluster import load

        return load(args.dir).admin()
    return _person(args, s)


# ------------------------------------------------------------------ commands
def hub_init(args: argparse.Namespace) -> int:
    from agentapp.hub.cluster import init

    cluster = init(args.dir, args.port, args.timezone, args.max_connections, args.run_as)
    print(_("trial hub running: {url} (TLS: {ca})").format(url=cluster.url, ca=cluster.ca))
    print(
        _("next: agentapp hub add-login --dir {dir} desk-NAME --kind desk").format(
            dir=cluster.folder
        )
    )
    return 0


def hub_stop(args: argparse.Namespace) -> int:
    from agentapp.hub.cluster import load, stop

    stop(load(args.dir))
    print(_("trial hub stopped"))
    return 0


def add_login(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.admin import add_login as add

    with _admin(args, s) as db:
        password = add(db, args.role, args.kind, args.person or args.role)
    if args.password_out:
        fd = os.open(args.password_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(password + "\n")
        print(
            _("login {role} added ({kind}); its password is in {path}").format(
                role=args.role, kind=args.kind, path=args.password_out
            )
        )
    else:
        print(
            _("login {role} added ({kind}); its password, shown once: {pw}").format(
                role=args.role, kind=args.kind, pw=password
            )
        )
    return 0


def hub_login(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.connect import connect
    from agentapp.vault.keys import KeyProblem, store_secret

    cfg = _config(args, s)
    try:
        text = args.password_file.read_text() if args.password_file else sys.stdin.read()
    except OSError as exc:
        raise CliError(_("cannot read the password: {exc}").format(exc=exc)) from None
    password = text.strip()
    if not password:
        raise CliError(_("no password given"), 2)
    with connect(cfg.url, cfg.user, password, cfg.ca, app="agentapp cli") as db:
        who = db.execute("SELECT agentapp.me(), agentapp.my_kind()").fetchone() or (None, None)
    try:
        store_secret(cfg.secret_entry, password)
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    print(
        _("the hub knows {user} as {person} ({kind}); the password is in the key store").format(
            user=cfg.user, person=who[0] or "?", kind=who[1] or "?"
        )
    )
    return 0


def hub_status(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.admin import refused

    with _person(args, s) as db, refused(_("answer")):
        person, kind = db.execute("SELECT agentapp.me(), agentapp.my_kind()").fetchone()
        print(
            _("hub {url}: you are {person} ({kind})").format(
                url=_config(args, s).url, person=person or "?", kind=kind or "?"
            )
        )
        if kind == "desk":
            used = db.execute("SELECT agentapp.week_used(%s)", (s.agent,)).fetchone()[0]
            print(_("{agent}: {n} recordings this week at the hub").format(agent=s.agent, n=used))
    return 0


def hub_publish(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.core.policy import PolicyError, load_policy
    from agentapp.hub.admin import policy_digest, publish_policy

    try:
        policy = load_policy(args.file)
        digest = policy_digest(args.file.read_bytes())
    except (PolicyError, OSError) as exc:
        raise CliError(str(exc)) from None
    with _admin(args, s) as db:
        publish_policy(db, policy, digest)
    print(
        _("the hub follows policy version {v}: {n} enrolments").format(
            v=policy.version, n=len(policy.enrolments)
        )
    )
    return 0


def hub_list(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.admin import recordings

    with _person(args, s) as db:
        rows = recordings(db, args.of_agent, args.training, args.since)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        **r.__dict__,
                        "started_at": r.started_at.isoformat(),
                        "purge_after": r.purge_after.isoformat(),
                    }
                    for r in rows
                ],
                indent=1,
            )
        )
        return 0
    for r in rows:
        print(
            f"{r.id}  {r.agent}  {r.training}  {r.started_at:%Y-%m-%d %H:%M}  "
            f"{r.duration_s:.0f} s  {r.desk}"
        )
    print(_("{n} recordings").format(n=len(rows)))
    return 0


def hub_fetch(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.admin import fetch

    reason = audited_reason(args.reason)
    with _person(args, s) as db:
        folder = fetch(db, args.id, args.into.absolute(), reason)
    print(_("recording {rid} is in {folder}, sealed").format(rid=args.id, folder=folder))
    return 0


def hub_import_trails(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.admin import import_site_trails

    with _admin(args, s) as db:
        done = import_site_trails(db, args.site)
    for t in done:
        if t.problem:
            print(_("{name}: not imported: {why}").format(name=t.name, why=t.problem))
        else:
            print(_("{name}: {n} entries at the hub").format(name=t.name, n=t.entries))
    if not done:
        print(_("no trail in {site}").format(site=args.site))
    return 1 if any(t.problem for t in done) else 0


def hub_note(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.admin import add_note
    from agentapp.vault.keys import KeyProblem, installed_public_key_path, load_public_key

    try:
        public = load_public_key(installed_public_key_path(s.data_dir))
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    with _person(args, s) as db:
        nid = add_note(db, args.id, args.text, public, args.at)
    print(_("note {n} on {rid} is at the hub, sealed").format(n=nid, rid=args.id))
    return 0


def hub_notes(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.admin import notes, open_note
    from agentapp.vault.keys import KeyProblem, load_private_file, load_private_from_keystore
    from agentapp.vault.sealing import SealError, key_id_in

    reason = None if args.read is None else audited_reason(args.read, "--read")
    with _person(args, s) as db:
        found = notes(db, args.id, reason)
    for n in found:
        when = _("whole call") if n.at_s is None else f"{n.at_s:.1f} s"
        print(f"{n.id}  {when}  {n.author}  {n.written_at:%Y-%m-%d %H:%M}")
        if reason:
            try:
                if args.key:
                    private = load_private_file(args.key, read_passphrase(args.passphrase_file))
                else:
                    private = load_private_from_keystore(key_id_in(n.sealed))
            except (KeyProblem, SealError) as exc:
                raise CliError(str(exc)) from None
            print("    " + open_note(n, private).replace("\n", "\n    "))
    print(_("{n} notes").format(n=len(found)))
    return 0


def hub_audit(args: argparse.Namespace, s: Settings) -> int:
    """The chain verified, then held against the heads this person verified before (their
    own signed record) and the checkpoints desks shipped; the head verified now is added."""
    from agentapp.core.auditchain import CHECKPOINT, checkpoints
    from agentapp.hub.admin import (
        audit_rows,
        desk_checkpoints,
        first_unheld,
        heads_record,
        unheld_text,
        verify_trail,
    )
    from agentapp.vault.audit import AuditError, login_name

    with _admin(args, s) as db:
        rows = audit_rows(db)
    if not args.quiet:
        for r in rows:
            print(
                f"{r['seq']:>6} {r['at']:%Y-%m-%d %H:%M:%S} {r['db_user']:<14} "
                f"{r['who']:<12} {r['action']} {r['target']} {r['reason']}".rstrip()
            )
    verdict = verify_trail(rows)
    print(verdict.describe())
    if not verdict.ok:
        return 1
    broken = False
    desks = desk_checkpoints(rows)
    bad = first_unheld(rows, desks)
    if bad is not None:
        print(unheld_text(bad, rows, mine=False))
        broken = True
    elif desks:
        print(_("checkpoints taken by desks: {n}, all held").format(n=len(desks)))
    try:
        record = heads_record(s.data_dir, _hub_url(args, s))
        kept = record.verify()
        if not kept.ok:
            print(_("the checkpoints kept here ({path}): {verdict}").format(
                path=record.path, verdict=kept.describe()))  # fmt: skip
            return 1
        mine = checkpoints(record.entries())
        bad = first_unheld(rows, mine)
        if bad is not None:
            print(unheld_text(bad, rows, mine=True))
            broken = True
        elif mine:
            last = mine[-1]
            print(_("heads verified here before: {n}, all held (the last: entry {seq} on {at})")
                  .format(n=len(mine), seq=last.seq, at=last.at[:19]))  # fmt: skip
        if not broken and rows and (not mine or mine[-1].seq < rows[-1]["seq"]):
            record.append(login_name(), CHECKPOINT, str(rows[-1]["seq"]), rows[-1]["hash"],
                          role="dpo")  # fmt: skip
            print(_("entry {n} kept here as this trail's checkpoint").format(n=rows[-1]["seq"]))
    except AuditError as exc:
        raise CliError(str(exc)) from None
    return 1 if broken else 0


def _hub_url(args: argparse.Namespace, s: Settings) -> str:
    """The hub a checkpoint belongs to."""
    if getattr(args, "dir", None) is not None:
        from agentapp.hub.cluster import load

        return load(args.dir).url
    return _config(args, s).url


def hub_upgrade(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.schema import upgrade

    with _admin(args, s) as db:
        was, now = upgrade(db)
    if was == now:
        print(_("the hub has schema {v} already: nothing to do").format(v=now))
    else:
        print(_("the hub's schema is now {now} (it was {was})").format(now=now, was=was))
    return 0


def hub_purge(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.admin import purge

    with _admin(args, s) as db:
        done = purge(db)
    if done.documents is None:  # (a hub made with schema 4 does not count them)
        print(_("{n} recordings past their deadline deleted at the hub").format(
            n=done.recordings))  # fmt: skip
    else:
        print(_("{n} recordings past their deadline and {d} training documents past their "
                "year deleted at the hub").format(n=done.recordings, d=done.documents))  # fmt: skip
    return 0
