"""The agent's own commands: run, hook and control (their parsers: they run on the fast path
of telephony/hookcli.py), notice, status, doctor, the event source's secret, machine-wide
settings and the demo."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agentapp.cli.base import CliError, Parser, Sub, handled

if TYPE_CHECKING:
    from agentapp.settings import Settings


def register(sub: Sub, common: argparse.ArgumentParser, keyed: argparse.ArgumentParser) -> None:
    run = sub.add_parser("run", parents=[common], help="run the agent (the default command)")
    no_tray = "no tray: records only on desks the policy lists in headless_desks"
    run.add_argument("--headless", action="store_true", help=no_tray)
    run.add_argument("--policy", help="policy file (default: <data dir>/policy.toml)")
    run.add_argument("-v", "--verbose", action="store_true")
    handled(run, _run)

    hook = sub.add_parser("hook", parents=[common], help="tell the agent a call started/ended")
    hook.add_argument("event", choices=["off-hook", "on-hook"])
    hook.add_argument("--call-id", required=True)
    hook.add_argument("--internal", action="store_true", help="agent-to-agent call")

    control = sub.add_parser("control", parents=[common], help="secure pause, caller objects")
    control.add_argument("action", choices=["pause", "resume", "caller-objects"])

    notice = sub.add_parser("notice", parents=[common], help="the information notice")
    notice.add_argument("action", choices=["show", "acknowledge"])
    notice.add_argument("--lang", choices=["fr", "en"], help="default: from the locale")
    notice.add_argument("--policy", help="policy file (default: <data dir>/policy.toml)")
    handled(notice, _notice)

    source = sub.add_parser("source", help="the configured call-event source").add_subparsers(
        dest="source_command", metavar="ACTION", parser_class=Parser, required=True
    )
    secret = source.add_parser("secret", parents=[common], help="store the AMI/ESL secret in "
                               "the OS key store (read from stdin or --from-file)")  # fmt: skip
    secret.add_argument("--from-file", type=Path)
    handled(secret, _source_secret)

    doctor = sub.add_parser("doctor", parents=[common], help="can this workstation record?")
    doctor.add_argument("--json", action="store_true")
    handled(doctor, _doctor)

    machine = sub.add_parser("machine", help="machine-wide settings (installers, IT)")
    mc = machine.add_subparsers(dest="machine_command", required=True, metavar="ACTION")
    conf = mc.add_parser("configure", help="check, then write agent.toml and the site's public"
                         " keys in the system folder (empty settings: left alone)")  # fmt: skip
    conf.add_argument("--system-dir", type=Path, help="default: /etc/agentapp, %%PROGRAMDATA%%"
                      "\\agentapp on Windows ($AGENTAPP_SYSTEM_DIR)")  # fmt: skip
    conf.add_argument("--site-folder", default="", help="the site folder (absolute path)")
    conf.add_argument("--event-source", default="",
                      help="hook | baresip://HOST:PORT?account=sip:{user}@PBX | ami://USER@HOST:"
                      "PORT?endpoint=PJSIP/{user} | esl://HOST:PORT?extension={user}")  # fmt: skip
    conf.add_argument("--recording-key", default="",
                      help="recording public key: a .pem path or its base64 line")  # fmt: skip
    conf.add_argument("--signing-key", default="",
                      help="policy-signing public key: a .pem path or its base64 line")  # fmt: skip
    # before settings are read: it may repair a refused agent.toml
    handled(conf, _machine, plain=True)

    status = sub.add_parser("status", parents=[common], help="what the running agent is doing")
    handled(status, _status)

    demo = sub.add_parser("demo", help="record a sample call on a virtual display, end to end")
    demo.add_argument("--seconds", type=float, default=5.0)
    demo.add_argument("--keep", type=Path, help="keep the demo's data and export in this folder")
    handled(demo, _demo, plain=True)


def _run(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.app import run_agent
    from agentapp.logs import setup_logging
    from agentapp.telephony.hook import HookError

    setup_logging(s.data_dir, verbose=getattr(args, "verbose", False))
    try:
        return run_agent(s, headless=getattr(args, "headless", False))
    except HookError as exc:
        raise CliError(str(exc)) from None


def _notice(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.app import build_engine
    from agentapp.core.policy import PolicyError
    from agentapp.settings import ui_language

    engine = build_engine(s)
    language = args.lang or ui_language()
    if args.action == "show":
        print(engine.notice(language).as_text())
        if engine.notice_needed():
            print("(not acknowledged yet: 'agentapp notice acknowledge' after reading it)")
        return 0
    if s.agent != s.own_agent:
        raise CliError(
            f"only {s.agent} can acknowledge their notice, in their own session (this is "
            f"{s.user}'s): the trail must say the agent read it"
        )
    try:
        engine.acknowledge_notice(language)
    except PolicyError as exc:
        raise CliError(f"policy refused: {exc}") from None
    print(f"notice acknowledged by {s.agent} ({language})")
    return 0


def _source_secret(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.vault.keys import KeyProblem, store_secret

    cfg = s.config.source
    if cfg.kind not in ("ami", "esl"):
        raise CliError(f"the configured source ({cfg.describe}) needs no secret")
    try:
        raw = args.from_file.read_text() if args.from_file else sys.stdin.read()
    except OSError as exc:
        raise CliError(f"cannot read the secret: {exc}") from None
    value = raw.strip("\r\n")
    if not value:
        raise CliError("empty secret", 2)
    try:
        store_secret(cfg.secret_entry, value)
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    print(f"secret for {cfg.describe} stored in the OS key store")
    return 0


def _doctor(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.doctor import report, run_checks

    checks = run_checks(s)
    print(report(checks, args.json))
    return 0 if all(c.ok for c in checks) else 1


def _status(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.telephony.hook import agent_status

    print(json.dumps(agent_status(s.data_dir), indent=1))
    return 0


def _machine(args: argparse.Namespace) -> int:
    from agentapp.machine import MachineSettings, MachineSetupError, configure
    from agentapp.paths import system_dir

    given = MachineSettings(args.site_folder, args.event_source, args.recording_key,
                            args.signing_key)  # fmt: skip
    try:
        done = configure(args.system_dir or system_dir(), given)
    except MachineSetupError as exc:
        raise CliError(f"machine settings refused, nothing written: {exc}") from None
    print("\n".join(done))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from agentapp.demo.run import run_demo

    return run_demo(seconds=args.seconds, keep=args.keep)
