"""The commands that reach recordings, notes and the audit trail (R7–R9, R14).

The checks and the trail are vault/review.py's, shared with the trainer console: the person's
role from the live policy, the reason, the access traced *before* acting (when the trail
cannot be written, nothing is shown, exported or deleted), refusals and failures traced too.
Errors are CliError or the review module's ReviewError (one line, non-zero exit).

Threading: run on the CLI's single thread.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from agentapp.cli.base import (
    CliError,
    Parser,
    Sub,
    audited_reason,
    handled,
    moment,
    read_passphrase,
    rect,
)
from agentapp.files import layout
from agentapp.i18n import N_, _, ngettext

if TYPE_CHECKING:  # the codecs, crypto and vault load with the command that needs them
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from agentapp.agent.settings import Settings
    from agentapp.core.access import Person
    from agentapp.core.config import HubConfig
    from agentapp.core.policy import Policy
    from agentapp.vault.audit import Trail
    from agentapp.vault.review import Review
    from agentapp.vault.store import RecordingMeta


def _policy(s: Settings) -> Policy | None:
    """The policy roles come from: on a site, only its signed copy (R7, R8)."""
    from agentapp.agent.settings import policy_loader
    from agentapp.core.policy import PolicyError

    try:
        return policy_loader(s)()
    except PolicyError:
        return None  # no policy: nobody is trainer or admin (fail closed)


def readable_policy(s: Settings) -> Policy:
    """The policy, for a command that cannot do without it: one that cannot be read (or its
    version checked in the key store) is said as such, never taken for a policy without
    the thing asked."""
    from agentapp.agent.settings import policy_loader
    from agentapp.core.policy import PolicyError

    try:
        return policy_loader(s)()
    except PolicyError as exc:
        raise CliError(_("the policy cannot be read: {exc}").format(exc=exc)) from None


def who_of(s: Settings) -> tuple[Person, Policy | None]:
    from agentapp.core.access import person

    policy = _policy(s)
    return person(policy, s.user), policy


def review_for(s: Settings, who: Person) -> Review:
    from agentapp.vault.analyses import AnalysesStore
    from agentapp.vault.audit import trail_for
    from agentapp.vault.exports import ExportsIndex
    from agentapp.vault.notes import NotesStore
    from agentapp.vault.review import Review
    from agentapp.vault.store import Vault

    d = s.data_dir
    return Review(who, trail_for(d, who.name), Vault(layout.recordings(d)),
                  NotesStore(layout.notes(d)), ExportsIndex(layout.exports(d)),
                  AnalysesStore(layout.analyses(d)))  # fmt: skip


def register(sub: Sub, common: argparse.ArgumentParser, keyed: argparse.ArgumentParser) -> None:
    rec = sub.add_parser("recordings", help=_("sealed recordings")).add_subparsers(
        dest="rec_command", metavar="ACTION", parser_class=Parser, required=True
    )
    ls = rec.add_parser("list", parents=[common], help=_("the recordings you may see (metadata)"))
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--reason", help=_("why you are looking (audited)"))
    handled(ls, list_recordings)
    ex = rec.add_parser(
        "export",
        parents=[common, keyed],
        help=_("decrypt one recording to a watermarked video file"),
    )
    ex.add_argument("id")
    ex.add_argument(
        "--out",
        type=Path,
        required=True,
        help=_("the .mp4 to write (with --anonymise: or a folder)"),
    )
    ex.add_argument("--reason", required=True, help=_("why you need to see it (audited)"))
    ex.add_argument(
        "--anonymise",
        action="store_true",
        help=_("for another trainee: no agent name, --blur rectangles"),
    )
    ex.add_argument(
        "--blur",
        type=rect,
        action="append",
        metavar="X,Y,W,H",
        help=_("a window rectangle to blur in every frame (repeatable)"),
    )
    handled(ex, export)
    vw = rec.add_parser("view", parents=[common, keyed], help=_("play one recording (no file)"))
    vw.add_argument("id")
    vw.add_argument("--reason", required=True, help=_("why you need to see it (audited)"))
    handled(vw, view)
    rm = rec.add_parser("delete", parents=[common], help=_("delete one recording for good"))
    rm.add_argument("id")
    rm.add_argument("--reason", required=True, help=_("why (audited)"))
    handled(rm, delete)
    av = rec.add_parser(
        "attach-voice",
        parents=[common],
        help=_("seal a PBX recording of the call into a recording as its voice"),
    )
    av.add_argument("id")
    av.add_argument("file", type=Path, help=_("the PBX's file (WAV, MP3, Ogg…; stereo: left the "
                                               "agent, right the caller)"))  # fmt: skip
    av.add_argument("--start", required=True, type=moment,
                    help=_("when the file's first sample was recorded, e.g. "
                           "2026-12-02T14:03:05.120+01:00 (the PBX's log says)"))  # fmt: skip
    av.add_argument("--reason", required=True, help=_("why (audited)"))
    av.add_argument("--delete-source", action="store_true",
                    help=_("remove the PBX's file once it is sealed"))  # fmt: skip
    handled(av, attach_voice)

    nt = sub.add_parser("notes", help=_("trainers' analysis notes (sealed)")).add_subparsers(
        dest="notes_command", metavar="ACTION", parser_class=Parser, required=True
    )
    handled(nt.add_parser("list", parents=[common], help=_("the notes you may read")), notes)
    na = nt.add_parser(
        "add", parents=[common], help=_("seal a note on a recording (stdin or --file)")
    )
    na.add_argument("recording")
    na.add_argument("--file", type=Path)
    na.add_argument("--at", type=float, metavar="SECONDS",
                    help=_("the moment of the recording the note is about (seconds from the "
                           "off-hook)"))  # fmt: skip
    handled(na, notes)
    ns = nt.add_parser("show", parents=[common, keyed], help=_("decrypt and print one note"))
    ns.add_argument("id")
    ns.add_argument("--reason", required=True, help=_("why (audited)"))
    handled(ns, notes)

    au = sub.add_parser("audit", help=_("the audit trail (admin/DPO)")).add_subparsers(
        dest="audit_command", metavar="ACTION", parser_class=Parser, required=True
    )
    verify = au.add_parser(
        "verify", parents=[common], help=_("check the chain; name the first broken entry")
    )
    handled(verify, audit)
    show = au.add_parser("show", parents=[common], help=_("print the trail"))
    show.add_argument("--json", action="store_true")
    handled(show, audit)

    pu = sub.add_parser(
        "purge", parents=[common], help=_("delete what passed its retention deadline")
    )
    pu.add_argument(
        "--site",
        action="store_true",
        help=_("purge the site folder of agent.toml (the daily timer, agentapp-site-purge@)"),
    )
    handled(pu, purge)

    co = sub.add_parser("compliance", help=_("GDPR documents from the live policy")).add_subparsers(
        dest="compliance_command", metavar="DOCUMENT", parser_class=Parser, required=True
    )
    for name, what in (("register", N_("the art. 30 register entry")),
                       ("notice", N_("the information notice"))):  # fmt: skip
        doc = co.add_parser(name, parents=[common], help=_(what))
        doc.add_argument("--lang", choices=["fr", "en"], help=_("default: from the locale"))
        doc.add_argument("--policy", help=_("policy file (default: <data dir>/policy.toml)"))
        if name == "register":
            doc.add_argument("--json", action="store_true")
        else:
            doc.add_argument("--for-agent", help=_("the notice as this agent sees it"))
        handled(doc, compliance)


# --------------------------------------------------------------------------- recordings


def list_recordings(args: argparse.Namespace, s: Settings) -> int:
    who, _x = who_of(s)
    metas = review_for(s, who).recordings(args.reason or "")
    if args.json:
        print(json.dumps([m.to_json() for m in metas], indent=1))
        return 0
    if not metas:
        print(_("no recordings visible to {name} ({role})").format(name=who.name, role=who.role))
    for m in metas:
        j = m.to_json()
        print(
            _(
                "{id}  {agent:<12} {started_at_iso}  {duration_s:7.1f} s  "
                "{frames:5d} frames  {megabytes:6.2f} MB  {application}  {status}  "
                "purge {purge:%Y-%m-%d}"
            ).format(
                id=m.id,
                agent=m.agent,
                started_at_iso=j["started_at_iso"],
                duration_s=m.duration_s,
                frames=m.frames,
                megabytes=m.size_bytes / 1e6,
                application=m.application,
                status=m.status,
                purge=dt.datetime.fromtimestamp(m.purge_after, dt.UTC),
            )
        )
    return 0


def private_key(args: argparse.Namespace, first_segment: Path) -> X25519PrivateKey:
    from agentapp.vault.sealing import key_id_of

    return private_key_for(args, key_id_of(first_segment))


def private_key_for(args: argparse.Namespace, kid: str) -> X25519PrivateKey:
    """The recording key's private half: the --key file, or the key store's entry `kid`."""
    from agentapp.vault.keys import load_private_file, load_private_from_keystore

    if args.key is not None:
        return load_private_file(args.key, read_passphrase(args.passphrase_file))
    return load_private_from_keystore(kid)


def export(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.core.access import Action
    from agentapp.ui.watermark import qt_mark
    from agentapp.vault.export import export_recording, mark_text
    from agentapp.vault.keys import KeyProblem
    from agentapp.vault.sealing import SealError
    from agentapp.vault.store import VaultError

    audited_reason(args.reason)
    who, _x = who_of(s)
    anonymise = bool(args.anonymise)
    if args.blur and not anonymise:
        raise CliError(_("--blur goes with --anonymise"), 2)
    review = review_for(s, who)
    action = Action.EXPORT_ANONYMISED if anonymise else Action.EXPORT
    meta = review.allowed(action, args.id)
    out = _export_path(args.out, meta, anonymise)
    access = review.begin(action, meta.id, args.reason, out)
    try:
        private = private_key(args, access.segments[0])
        mark = qt_mark(mark_text(meta.agent, who.name, "exported", anonymise))
        summary = export_recording(review.vault, meta.id, private, out, mark,
                                   tuple(args.blur or ()), voice=not anonymise)  # fmt: skip
    except (VaultError, KeyProblem, SealError, OSError, CliError) as exc:
        raise review.failed(access, exc) from None
    print(
        _(
            "exported {what} to {path}: {frames} frames, "
            "{width}x{height}, {first_s:.2f}–{last_s:.2f} s after off-hook, "
            "{size_bytes} bytes, watermarked '{mark}'"
        ).format(
            what=(_("an anonymised extract of {id}") if anonymise else "{id}").format(id=meta.id),
            path=summary.path,
            frames=summary.frames,
            width=summary.width,
            height=summary.height,
            first_s=summary.first_s,
            last_s=summary.last_s,
            size_bytes=summary.size_bytes,
            mark=mark.text,
        )
    )
    if summary.voice:
        print(_("  with the call's voice: left channel the agent, right channel the caller"))
    elif anonymise and meta.voice == "recording":
        print(_("  without the call's voice: an anonymised extract never carries voices"))
    elif meta.voice.startswith("no voice"):
        print(_("  no voice in this recording: {why}").format(
            why=meta.voice.removeprefix("no voice: ")))  # fmt: skip
    if summary.cut_short:
        print(
            _(
                "note: this recording was cut short (the agent stopped during "
                "the call); it is exported up to that moment"
            )
        )
    return 0


def view(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.core.access import Action
    from agentapp.ui.watermark import qt_mark
    from agentapp.vault.export import mark_text
    from agentapp.vault.keys import KeyProblem
    from agentapp.vault.playback import open_playback
    from agentapp.vault.sealing import SealError
    from agentapp.vault.store import VaultError

    audited_reason(args.reason)
    who, _x = who_of(s)
    review = review_for(s, who)
    review.allowed(Action.VIEW, args.id)
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        raise CliError(_("no display to play the recording on (an export works without one)"))
    access = review.begin(Action.VIEW, args.id, args.reason)
    meta = access.meta
    mark = qt_mark(mark_text(meta.agent, who.name, "viewed"))
    try:
        playback = open_playback(review.vault, args.id, private_key(args, access.segments[0]),
                                 mark)  # fmt: skip
    except (VaultError, KeyProblem, SealError, OSError, CliError) as exc:
        raise review.failed(access, exc) from None
    from agentapp.ui.player import play

    play(playback, _("agentapp — recording {id}").format(id=meta.id))
    return 0


def _export_path(out: Path, meta: RecordingMeta, anonymise: bool) -> Path:
    if anonymise and out.is_dir():
        from agentapp.vault.export import neutral_name

        out = out / neutral_name()
    if out.suffix.lower() != ".mp4":
        raise CliError(
            _("--out must name a .mp4 file or a folder")
            if anonymise
            else _("--out must name a .mp4 file"),
            2,
        )
    if anonymise and (meta.agent.lower() in out.name.lower() or meta.id in out.name):
        raise CliError(
            _(
                "an anonymised export's file name must not name the agent or the "
                "recording: give a folder and a neutral name is chosen"
            ),
            2,
        )
    if out.exists():
        raise CliError(_("{out} already exists: not overwritten").format(out=out))
    return out


def delete(args: argparse.Namespace, s: Settings) -> int:
    audited_reason(args.reason)
    who, _x = who_of(s)
    review_for(s, who).delete(args.id, args.reason)
    print(_("recording {id} deleted for good").format(id=args.id))
    return 0


def attach_voice(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.vault.keys import KeyProblem, installed_public_key_path, load_public_key

    audited_reason(args.reason)
    who, _x = who_of(s)
    try:
        public = load_public_key(installed_public_key_path(s.data_dir))
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    done = review_for(s, who).attach_voice(args.id, args.file, args.start, args.reason, public)
    tracks = _("agent and caller") if done.channels == 2 else _("one mixed track")
    print(_("voice sealed into {id}: {seconds:.1f} s of the call, the file starting "
            "{offset:+.2f} s from the off-hook ({tracks})").format(
        id=args.id, seconds=done.seconds, offset=done.offset_s, tracks=tracks))  # fmt: skip
    if args.delete_source:
        args.file.unlink()
        print(_("{file} removed").format(file=args.file))
    else:
        print(_("the PBX's own file is left at {file}: remove it when it is no longer needed")
              .format(file=args.file))  # fmt: skip
    return 0


# --------------------------------------------------------------------------- notes


def notes(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.vault.keys import installed_public_key_path

    who, policy = who_of(s)
    review = review_for(s, who)
    if args.notes_command == "list":
        visible = review.notes()
        for n in visible:
            when = dt.datetime.fromtimestamp(n.created_at, dt.UTC)
            at = "" if n.at_s is None else _(" at {moment}").format(moment=f"{n.at_s:.1f} s")
            print(
                _("{id}  on {recording}{at}  by {author}  {when:%Y-%m-%d %H:%M} UTC").format(
                    id=n.id, recording=n.recording, at=at, author=n.author, when=when
                )
            )
        if not visible:
            print(_("no notes visible to {name} ({role})").format(name=who.name, role=who.role))
        return 0
    if args.notes_command == "add":
        try:
            text = args.file.read_text() if args.file else sys.stdin.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(str(exc)) from None
        days = policy.notes_retention_days if policy else 365
        key = installed_public_key_path(s.data_dir)
        n = review.add_note(args.recording, text, key, days, time.time(), at_s=args.at)
        print(
            _("note {id} sealed; purged on {purge:%Y-%m-%d}").format(
                id=n.id, purge=dt.datetime.fromtimestamp(n.purge_after, dt.UTC)
            )
        )
        return 0
    audited_reason(args.reason)
    print(review.read_note(args.id, args.reason, lambda seal: private_key(args, seal)))
    return 0


# --------------------------------------------------------------------------- audit, purge


def audit(args: argparse.Namespace, s: Settings) -> int:
    """On a desk its one trail; at a site every reviewer's trail, each verified, or shown
    together in time order with the trail each entry comes from."""
    from agentapp.vault.audit import AuditError, trails

    who, _x = who_of(s)
    review = review_for(s, who)
    review.audit_allowed()
    try:
        found = trails(review.audit)
        if args.audit_command == "verify":
            return _verify(review, found, s.config.hub)
        entries = sorted(
            ({**e, "trail": t.name} if t.name else e for t in found for e in t.log.entries()),
            key=lambda e: str(e["at"]),
        )
        review.trace("audit show", f"{len(entries)} entries")
    except AuditError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(entries, indent=1, ensure_ascii=False))
        return 0
    for e in entries:
        why = f"  — {e['reason']}" if e["reason"] else ""
        where = f"[{e['trail']}] " if "trail" in e else ""
        print(
            _(
                "{where}{seq:>6}  {at}  {who} ({role}, login {login})  {action}  {target}{why}"
            ).format(
                where=where,
                seq=e["seq"],
                at=e["at"],
                who=e["who"],
                role=e["role"],
                login=e["login"],
                action=e["action"],
                target=e["target"],
                why=why,
            )
        )
    return 0


def _verify(review: Review, found: list[Trail], hub: HubConfig | None = None) -> int:
    """One line per trail (named by person and key id at a site); 1 if any is broken. With a
    hub, a desk's trail is also compared with the hub's copy of it."""
    broken = []
    for t in found:
        verdict = t.log.verify()
        print(f"{t.name}: {verdict.describe()}" if t.name else verdict.describe())
        if not verdict.ok:
            broken.append(f"{t.name}: {verdict.problem}" if t.name else verdict.problem)
    if not found:
        print(_("no audit trail here yet"))
    if hub is not None and len(found) == 1:
        from agentapp.hub.connect import HubError
        from agentapp.hub.link import check_with_hub

        try:
            ok, said = check_with_hub(hub, found[0].log)
        except HubError as exc:
            ok, said = True, _("not compared with the hub: {exc}").format(exc=exc)
        print(_("hub: {said}").format(said=said))
        if not ok:
            broken.append(said)
    review.trace("audit verify", "", "; ".join(broken) or "intact")
    return 1 if broken else 0


def purge(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.agent.settings import config_path, settings
    from agentapp.files.paths import system_dir
    from agentapp.vault.audit import AuditError, trail_for
    from agentapp.vault.keys import ensure_keystore
    from agentapp.vault.purge import purge_expired

    if args.site:
        if s.config.site is None:
            raise CliError(_("--site: no site folder in agent.toml ({path})").format(
                path=config_path(s.data_dir)))  # fmt: skip
        s = settings(str(s.config.site), args.agent)
    ensure_keystore(system_dir())  # (a service account's kiosk key store, unlocked)
    who, policy = who_of(s)
    try:
        log = trail_for(s.data_dir, who.name)
        log.keys.key()
    except AuditError as exc:
        raise CliError(
            _("refused: {exc} (every deletion must be traced)").format(exc=exc)
        ) from None
    gone = purge_expired(s.data_dir, time.time(), policy, log, who=who.name)
    kinds = {"recording": _("recording"), "example": _("teaching example"),
             "note": _("note"), "analysis": _("analysis"),
             "coaching": _("coaching record"), "share": _("share"),
             "export": _("export")}  # fmt: skip
    for item in gone:
        when = dt.datetime.fromtimestamp(item.deadline, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        what = _("{kind} {id} (deadline {when})").format(
            kind=kinds.get(item.kind, item.kind), id=item.id, when=when
        )
        if item.problem:
            print(_("could not purge {what}: {why}").format(what=what, why=item.problem))
        else:
            print(_("purged {what}").format(what=what))
    left = [item for item in gone if item.problem]
    if gone:
        n = len(gone) - len(left)
        print(ngettext("{n} item purged", "{n} items purged", n).format(n=n))
    else:
        print(_("nothing has reached its deadline"))
    return 1 if left else 0


# --------------------------------------------------------------------------- compliance


def compliance(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.agent.settings import ui_language
    from agentapp.core.notice import build_notice
    from agentapp.core.policy import PolicyError, load_policy
    from agentapp.core.register import build_register

    try:
        policy = load_policy(s.policy_path)
    except PolicyError as exc:
        raise CliError(_("policy refused: {exc}").format(exc=exc)) from None
    language = args.lang or ui_language()
    if args.compliance_command == "register":
        doc = build_register(policy, language)
        print(json.dumps(doc.as_json(), indent=1, ensure_ascii=False) if args.json
              else doc.as_text())  # fmt: skip
        return 0
    print(build_notice(policy, args.for_agent or s.agent, language).as_text())
    return 0
