"""Command line: `agentapp <command>`. Bad input gives one clear line and a non-zero exit.

Exit codes: 0 done · 1 refused or failed (the line says why) · 2 bad arguments ·
3 the agent is not running (hook).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from agentapp import __version__, layout
from agentapp.errors import Refusal


class CliError(Refusal):
    """A command's refusal or failure (code 2: the command line itself was wrong)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


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


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="agentapp", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"agentapp {__version__}")
    common = _Parser(add_help=False)
    common.add_argument(
        "--data-dir",
        help="all agent state (default: $AGENTAPP_DATA_DIR or the platform's user data dir)",
    )
    common.add_argument("--agent", help="agent identity (default: $AGENTAPP_AGENT or login name)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", parents=[common], help="run the agent (the default command)")
    no_tray = "no tray: records only on desks the policy lists in headless_desks"
    run.add_argument("--headless", action="store_true", help=no_tray)
    run.add_argument("--policy", help="policy file (default: <data dir>/policy.toml)")
    run.add_argument("-v", "--verbose", action="store_true")

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

    source = sub.add_parser("source", help="the configured call-event source").add_subparsers(
        dest="source_command", metavar="ACTION", parser_class=_Parser, required=True
    )
    secret = source.add_parser("secret", parents=[common], help="store the AMI/ESL secret in "
                               "the OS key store (read from stdin or --from-file)")  # fmt: skip
    secret.add_argument("--from-file", type=Path)

    doctor = sub.add_parser("doctor", parents=[common], help="can this workstation record?")
    doctor.add_argument("--json", action="store_true")

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

    keys = sub.add_parser("keys", help="recording keys").add_subparsers(
        dest="keys_command", metavar="ACTION", parser_class=_Parser, required=True
    )
    init = keys.add_parser("init", parents=[common], help="create the recording key pair")
    init.add_argument(
        "--private-out",
        type=Path,
        help="write the private key to this passphrase-protected file instead of the OS key store",
    )
    init.add_argument("--passphrase-file", type=Path, help="file holding the passphrase")
    init.add_argument("--force", action="store_true", help="replace an existing public key")
    keys.add_parser("signing-init", parents=[common],
                    help="create the site's policy-signing key pair")  # fmt: skip

    pol = sub.add_parser("policy", help="policy files").add_subparsers(
        dest="policy_command", metavar="ACTION", parser_class=_Parser, required=True
    )
    check = pol.add_parser("check", help="validate a policy file")
    check.add_argument("file", type=Path)
    pub = pol.add_parser("publish", parents=[common],
                         help="sign a policy and publish it to every agent")  # fmt: skip
    pub.add_argument("file", type=Path)
    pub.add_argument("--site", type=Path, required=True, help="the site folder")
    pub.add_argument("--dry-run", action="store_true", help="show what would change, only")

    con = sub.add_parser("console", parents=[common], help="the trainer console (Qt)")
    con.add_argument("--site", type=Path, required=True, help="the site folder")
    con.add_argument("--draft", type=Path, help="default: <data dir>/policy-draft.toml")
    con.add_argument("--mine", action="store_true", help="a trainee's view: own recordings")

    en = sub.add_parser("enrol", help="enrol an agent in a training (edits a policy draft)")
    en.add_argument("name", help="the agent")
    en.add_argument("--policy", type=Path, required=True, help="the draft to edit")
    en.add_argument("--training", required=True)
    en.add_argument("--start", type=_day, help="default: today")
    en.add_argument("--end", type=_day, help="default: start + 3 months (at most 183 days)")
    en.add_argument("--sampling", type=int, default=30, help="%% of calls drawn (default 30)")
    en.add_argument("--quota", type=int, default=10, help="recordings per week (default 10)")
    en.add_argument("--fps", type=int, help="this trainee's frame rate (default: the policy's)")
    un = sub.add_parser("unenrol", help="end an agent's enrolment now (edits a policy draft)")
    un.add_argument("name")
    un.add_argument("--policy", type=Path, required=True, help="the draft to edit")

    rec = sub.add_parser("recordings", help="sealed recordings").add_subparsers(
        dest="rec_command", metavar="ACTION", parser_class=_Parser, required=True
    )
    ls = rec.add_parser("list", parents=[common], help="the recordings you may see (metadata)")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--reason", help="why you are looking (audited)")
    keyed = _Parser(add_help=False)
    keyed.add_argument("--key", type=Path, help="passphrase-protected private key file")
    keyed.add_argument("--passphrase-file", type=Path)
    ex = rec.add_parser("export", parents=[common, keyed],
                        help="decrypt one recording to a watermarked video file")  # fmt: skip
    ex.add_argument("id")
    ex.add_argument("--out", type=Path, required=True,
                    help="the .mp4 to write (with --anonymise: or a folder)")  # fmt: skip
    ex.add_argument("--reason", required=True, help="why you need to see it (audited)")
    ex.add_argument("--anonymise", action="store_true",
                    help="for another trainee: no agent name, --blur rectangles")  # fmt: skip
    ex.add_argument("--blur", type=_rect, action="append", metavar="X,Y,W,H",
                    help="a window rectangle to blur in every frame (repeatable)")  # fmt: skip
    vw = rec.add_parser("view", parents=[common, keyed], help="play one recording (no file)")
    vw.add_argument("id")
    vw.add_argument("--reason", required=True, help="why you need to see it (audited)")
    rm = rec.add_parser("delete", parents=[common], help="delete one recording for good")
    rm.add_argument("id")
    rm.add_argument("--reason", required=True, help="why (audited)")

    nt = sub.add_parser("notes", help="trainers' analysis notes (sealed)").add_subparsers(
        dest="notes_command", metavar="ACTION", parser_class=_Parser, required=True
    )
    nt.add_parser("list", parents=[common], help="the notes you may read")
    na = nt.add_parser("add", parents=[common], help="seal a note on a recording (stdin or --file)")
    na.add_argument("recording")
    na.add_argument("--file", type=Path)
    ns = nt.add_parser("show", parents=[common, keyed], help="decrypt and print one note")
    ns.add_argument("id")
    ns.add_argument("--reason", required=True, help="why (audited)")

    au = sub.add_parser("audit", help="the audit trail (admin/DPO)").add_subparsers(
        dest="audit_command", metavar="ACTION", parser_class=_Parser, required=True
    )
    au.add_parser("verify", parents=[common], help="check the chain; name the first broken entry")
    show = au.add_parser("show", parents=[common], help="print the trail")
    show.add_argument("--json", action="store_true")

    sub.add_parser("purge", parents=[common], help="delete what passed its retention deadline")

    co = sub.add_parser("compliance", help="GDPR documents from the live policy").add_subparsers(
        dest="compliance_command", metavar="DOCUMENT", parser_class=_Parser, required=True
    )
    for name, what in (("register", "the art. 30 register entry"),
                       ("notice", "the information notice")):  # fmt: skip
        doc = co.add_parser(name, parents=[common], help=what)
        doc.add_argument("--lang", choices=["fr", "en"], help="default: from the locale")
        doc.add_argument("--policy", help="policy file (default: <data dir>/policy.toml)")
        if name == "register":
            doc.add_argument("--json", action="store_true")
        else:
            doc.add_argument("--for-agent", help="the notice as this agent sees it")

    sub.add_parser("status", parents=[common], help="what the running agent is doing")

    demo = sub.add_parser("demo", help="record a sample call on a virtual display, end to end")
    demo.add_argument("--seconds", type=float, default=5.0)
    demo.add_argument("--keep", type=Path, help="keep the demo's data and export in this folder")
    return p


def _day(text: str) -> object:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-12-31") from None


def _rect(text: str) -> object:
    from agentapp.core.geometry import Rect

    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not X,Y,W,H") from None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be positive")
    return Rect(x, y, w, h)


def main(argv: Sequence[str] | None = None) -> int:
    from agentapp.hookcli import fast_path, invocation_time

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
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if any(x.startswith("-") for x in extra):  # never echo a hook's other values
        parser.error(f"unrecognized arguments: {' '.join(x for x in extra if x[:1] == '-')}")
    if args.command is None:  # `agentapp` alone starts the agent with its tray
        args = _parser().parse_args(["run"])
    try:
        from agentapp.logs import console_logging

        console_logging()
        return _dispatch(args)
    except Refusal as exc:  # the command line's own, and the review module's
        sys.stderr.write(f"agentapp: {exc}\n")
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # last resort: one line for the person, the traceback to a file
        where = _crash_report()
        sys.stderr.write(
            f"agentapp: unexpected error: {type(exc).__name__}: {exc} (details in {where})\n"
        )
        return 1


def _crash_report() -> str:
    """Write the current traceback to the agent log (or a temporary file); return where."""
    import tempfile
    import traceback

    text = traceback.format_exc()
    try:
        from agentapp.paths import default_data_dir

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
    from agentapp.settings import settings

    if args.command == "policy" and args.policy_command == "check":
        return _policy_check(args.file)
    if args.command in ("enrol", "unenrol"):
        from agentapp.cli_site import enrol

        return enrol(args)
    if args.command == "demo":
        from agentapp.demo import run_demo

        return run_demo(seconds=args.seconds, keep=args.keep)
    if args.command == "machine":  # before settings(): it may repair a refused agent.toml
        return _machine(args)
    from agentapp.core.config import ConfigError

    try:
        s = settings(args.data_dir, args.agent, getattr(args, "policy", None))
    except ConfigError as exc:
        raise CliError(f"configuration refused: {exc}") from None
    if args.command != "doctor":  # doctor says it among its checks
        from agentapp.datafolder import UnsafeFolder, check

        try:
            check(str(s.data_dir))
        except UnsafeFolder as exc:
            raise CliError(str(exc), 2) from None
    if args.command == "run":
        return _run(args, s)
    if args.command == "keys" and args.keys_command == "signing-init":
        from agentapp.cli_site import signing_init

        return signing_init(args, s)
    if args.command == "keys":
        return _keys_init(args, s.data_dir)
    if args.command == "policy":
        from agentapp.cli_site import publish

        return publish(args, s)
    if args.command == "notice":
        return _notice(args, s)
    if args.command == "console":
        from agentapp.cli_site import console

        return console(args, s)
    if args.command == "doctor":
        from agentapp.doctor import report, run_checks

        checks = run_checks(s)
        print(report(checks, args.json))
        return 0 if all(c.ok for c in checks) else 1
    if args.command == "source":
        return _source_secret(args, s)
    if args.command == "status":
        from agentapp.telephony.hook import agent_status

        print(json.dumps(agent_status(s.data_dir), indent=1))
        return 0
    from agentapp import cli_vault

    if args.command == "recordings":
        handler = {"list": cli_vault.list_recordings, "export": cli_vault.export,
                   "view": cli_vault.view, "delete": cli_vault.delete}  # fmt: skip
        return handler[args.rec_command](args, s)
    return {"notes": cli_vault.notes, "audit": cli_vault.audit, "purge": cli_vault.purge,
            "compliance": cli_vault.compliance}[args.command](args, s)  # fmt: skip


def _run(args: argparse.Namespace, s: object) -> int:
    from agentapp.app import run_agent
    from agentapp.logs import setup_logging
    from agentapp.settings import Settings
    from agentapp.telephony.hook import HookError

    assert isinstance(s, Settings)
    setup_logging(s.data_dir, verbose=getattr(args, "verbose", False))
    try:
        return run_agent(s, headless=getattr(args, "headless", False))
    except HookError as exc:
        raise CliError(str(exc)) from None


def _notice(args: argparse.Namespace, s: object) -> int:
    from agentapp.app import build_engine
    from agentapp.core.policy import PolicyError
    from agentapp.settings import Settings, ui_language

    assert isinstance(s, Settings)
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


def _source_secret(args: argparse.Namespace, s: object) -> int:
    from agentapp.settings import Settings
    from agentapp.vault.keys import KeyProblem, store_secret

    assert isinstance(s, Settings)
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


def _policy_check(path: Path) -> int:
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


def _keys_init(args: argparse.Namespace, data_dir: Path) -> int:
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


def read_passphrase(path: Path | None) -> bytes:
    env = os.environ.get("AGENTAPP_KEY_PASSPHRASE")
    if path is None:
        if env:
            return env.encode()
        raise CliError("this key file needs --passphrase-file (or AGENTAPP_KEY_PASSPHRASE)")
    try:
        return path.read_bytes().rstrip(b"\r\n")
    except OSError as exc:
        raise CliError(f"cannot read the passphrase file: {exc}") from None


if __name__ == "__main__":
    raise SystemExit(main())
