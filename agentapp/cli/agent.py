"""The agent's own commands: run, hook and control (their parsers: they run on the fast path
of telephony/hookcli.py), notice, status, doctor, the event source's secret, machine-wide
settings and the demo."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agentapp.cli.base import CliError, Parser, Sub, handled
from agentapp.i18n import _

if TYPE_CHECKING:
    from agentapp.agent.settings import Settings


def register(sub: Sub, common: argparse.ArgumentParser, keyed: argparse.ArgumentParser) -> None:
    run = sub.add_parser("run", parents=[common], help=_("run the agent (the default command)"))
    no_tray = "no tray: records only on desks the policy lists in headless_desks"
    run.add_argument("--headless", action="store_true", help=no_tray)
    run.add_argument("--policy", help=_("policy file (default: <data dir>/policy.toml)"))
    run.add_argument("-v", "--verbose", action="store_true")
    handled(run, _run)

    hook = sub.add_parser("hook", parents=[common], help=_("tell the agent a call started/ended"))
    hook.add_argument("event", choices=["off-hook", "on-hook"])
    hook.add_argument("--call-id", required=True)
    hook.add_argument("--internal", action="store_true", help=_("agent-to-agent call"))

    control = sub.add_parser("control", parents=[common], help=_("secure pause, caller objects"))
    control.add_argument("action", choices=["pause", "resume", "caller-objects"])

    notice = sub.add_parser("notice", parents=[common], help=_("the information notice"))
    notice.add_argument("action", choices=["show", "acknowledge"])
    notice.add_argument("--lang", choices=["fr", "en"], help=_("default: from the locale"))
    notice.add_argument("--policy", help=_("policy file (default: <data dir>/policy.toml)"))
    handled(notice, _notice)

    source = sub.add_parser("source", help=_("the configured call-event source")).add_subparsers(
        dest="source_command", metavar="ACTION", parser_class=Parser, required=True
    )
    secret = source.add_parser(
        "secret",
        parents=[common],
        help=_("store the AMI/ESL secret in the OS key store (read from stdin or --from-file)"),
    )
    secret.add_argument("--from-file", type=Path)
    handled(secret, _source_secret)

    doctor = sub.add_parser("doctor", parents=[common], help=_("can this workstation record?"))
    doctor.add_argument("--json", action="store_true")
    handled(doctor, _doctor)

    machine = sub.add_parser("machine", help=_("machine-wide settings (installers, IT)"))
    mc = machine.add_subparsers(dest="machine_command", required=True, metavar="ACTION")
    conf = mc.add_parser(
        "configure",
        help=_(
            "check, then write agent.toml and the site's public keys in the "
            "system folder (empty settings: left alone)"
        ),
    )
    conf.add_argument(
        "--system-dir",
        type=Path,
        help=_(
            "default: /etc/agentapp, %%PROGRAMDATA%%\\agentapp on Windows ($AGENTAPP_SYSTEM_DIR)"
        ),
    )
    conf.add_argument("--site-folder", default="", help=_("the site folder (absolute path)"))
    conf.add_argument(
        "--event-source",
        default="",
        help=_(
            "hook | baresip://HOST:PORT?account=sip:{user}@PBX | "
            "ami://USER@HOST:PORT?endpoint=PJSIP/{user} | "
            "esl://HOST:PORT?extension={user}"
        ),
    )
    conf.add_argument(
        "--recording-key",
        default="",
        help=_("recording public key: a .pem path or its base64 line"),
    )
    conf.add_argument(
        "--signing-key",
        default="",
        help=_("policy-signing public key: a .pem path or its base64 line"),
    )
    # before settings are read: it may repair a refused agent.toml
    handled(conf, _machine, plain=True)
    kiosk = mc.add_parser(
        "kiosk-keystore",
        help=_(
            "give an account without a login key store (autologin, kiosk) a per-machine "
            "one, unlocked at the agent's start (root)"
        ),
    )
    kiosk.add_argument("user", help=_("the desk's OS account"))
    kiosk.add_argument("--remove", action="store_true", help=_("take it away"))
    kiosk.add_argument("--system-dir", type=Path, help=_("default: /etc/agentapp"))
    handled(kiosk, _kiosk, plain=True)

    status = sub.add_parser("status", parents=[common], help=_("what the running agent is doing"))
    handled(status, _status)

    demo = sub.add_parser("demo", help=_("record a sample call on a virtual display, end to end"))
    demo.add_argument("--seconds", type=float, default=5.0)
    demo.add_argument("--keep", type=Path, help=_("keep the demo's data and export in this folder"))
    handled(demo, _demo, plain=True)


def _run(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.agent.app import run_agent
    from agentapp.files.logs import setup_logging
    from agentapp.telephony.hook import HookError

    place = setup_logging(s.data_dir, verbose=getattr(args, "verbose", False))
    logging.getLogger("agentapp").info("log: %s", place.describe())
    try:
        return run_agent(s, headless=getattr(args, "headless", False))
    except HookError as exc:
        raise CliError(str(exc)) from None


def _notice(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.agent.notices import desk_notices
    from agentapp.agent.settings import policy_loader, ui_language
    from agentapp.core.policy import PolicyError

    notices = desk_notices(s.agent, s.data_dir, policy_loader(s))
    language = args.lang or ui_language()
    if args.action == "show":
        print(notices.notice(language).as_text())
        if notices.needed():
            print(_("(not acknowledged yet: 'agentapp notice acknowledge' after reading it)"))
        return 0
    if s.agent != s.own_agent:
        raise CliError(
            _(
                "only {agent} can acknowledge their notice, in their own session "
                "(this is {user}'s): the trail must say the agent read it"
            ).format(agent=s.agent, user=s.user)
        )
    try:
        notices.acknowledge(language)
    except PolicyError as exc:
        raise CliError(_("policy refused: {exc}").format(exc=exc)) from None
    print(_("notice acknowledged by {agent} ({language})").format(agent=s.agent, language=language))
    return 0


def _source_secret(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.vault.keys import KeyProblem, store_secret

    cfg = s.config.source
    if cfg.kind not in ("ami", "esl"):
        raise CliError(
            _("the configured source ({source}) needs no secret").format(source=cfg.describe)
        )
    try:
        raw = args.from_file.read_text() if args.from_file else sys.stdin.read()
    except OSError as exc:
        raise CliError(_("cannot read the secret: {exc}").format(exc=exc)) from None
    value = raw.strip("\r\n")
    if not value:
        raise CliError(_("empty secret"), 2)
    try:
        store_secret(cfg.secret_entry, value)
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    print(_("secret for {source} stored in the OS key store").format(source=cfg.describe))
    return 0


def _doctor(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.agent.doctor import report, run_checks

    checks = run_checks(s)
    print(report(checks, args.json))
    return 0 if all(c.ok for c in checks) else 1


def _status(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.telephony.hook import agent_status

    print(json.dumps(agent_status(s.data_dir), indent=1))
    return 0


def _machine(args: argparse.Namespace) -> int:
    from agentapp.agent.machine import MachineSettings, MachineSetupError, configure
    from agentapp.files.paths import system_dir

    given = MachineSettings(args.site_folder, args.event_source, args.recording_key,
                            args.signing_key)  # fmt: skip
    try:
        done = configure(args.system_dir or system_dir(), given)
    except MachineSetupError as exc:
        raise CliError(
            _("machine settings refused, nothing written: {exc}").format(exc=exc)
        ) from None
    print("\n".join(done))
    return 0


def _kiosk(args: argparse.Namespace) -> int:
    if not sys.platform.startswith("linux"):
        raise CliError(_("kiosk key stores are for Linux desks (gnome-keyring)"))
    from agentapp.files.paths import system_dir
    from agentapp.platform.kiosk import KioskError, provision, remove, secret_path

    system = args.system_dir or system_dir()
    if args.remove:
        gone = remove(system, args.user)
        print(_("removed {path}").format(path=secret_path(system, args.user)) if gone else
              _("{user} had no kiosk key store").format(user=args.user))  # fmt: skip
        return 0
    try:
        path, made = provision(system, args.user)
    except (KioskError, OSError) as exc:
        raise CliError(_("kiosk key store refused: {exc}").format(exc=exc)) from None
    print((_("made {path}") if made else _("kept {path}")).format(path=path))
    print(_("  at the next start of agentapp in {user}'s session, the key store is unlocked "
            "with it").format(user=args.user))  # fmt: skip
    return 0


def _demo(args: argparse.Namespace) -> int:
    from agentapp.demo.run import run_demo

    return run_demo(seconds=args.seconds, keep=args.keep)
