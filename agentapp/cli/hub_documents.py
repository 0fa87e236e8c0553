"""The training's documents at the hub, from the command line (docs/hub.md):

    agentapp hub documents [ID] [--json]       (the metadata this login may see)
    agentapp hub document N --reason WHY [--out FILE.pdf]
                                               (one decrypted and printed; a coaching record
                                                also as a text-only PDF for the session)
    agentapp hub coaching ID --session DATE --next-steps FILE [--analysis N] [--self-review N]
                                               (a trainer: the session's record, kept there
                                                and given to its trainee)

Documents are sealed for the site's recording key: a trainer of the training opens them with
its private half (the key store, or --key). A coaching record is also given to its trainee: a
slip made on the trainer's desk opens it for the key the trainee registered at the hub, so she
reads it on her own desk (and nothing else of the training's documents). The hub decides who
may read a document's sealed part (schema 6's read_document) and traces each read before
anything is decrypted.

Threading: run on the CLI's single thread.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentapp.cli.base import CliError, Sub, audited_reason, day, handled
from agentapp.cli.hub_login import person
from agentapp.cli.hub_training import recording_id
from agentapp.i18n import _

if TYPE_CHECKING:
    from agentapp.agent.settings import Settings
    from agentapp.core.analysis import Analysis
    from agentapp.hub.training import HubDocument

MAX_DOC_ID = 2**63 - 1  # the hub's ids are bigint


def register_on(
    hub: Sub,
    common: argparse.ArgumentParser,
    login: argparse.ArgumentParser,
    keyed: argparse.ArgumentParser,
) -> None:
    docs = hub.add_parser(
        "documents", parents=[common, login], help=_("the training's documents you may see")
    )
    docs.add_argument("id", nargs="?", help=_("only those on this recording"))
    docs.add_argument("--json", action="store_true")
    handled(docs, hub_documents)
    one = hub.add_parser("document", parents=[common, login, keyed],
                         help=_("decrypt and print one training document (trainers)"))  # fmt: skip
    one.add_argument("n", type=document_id, help=_("its number (hub documents)"))
    one.add_argument("--reason", required=True, help=_("why (audited)"))
    one.add_argument("--out", type=Path, help=_("a coaching record: a new .pdf file"))
    handled(one, hub_document)
    said = _("write the record of a coaching session at the hub (trainers)")
    co = hub.add_parser("coaching", parents=[common, login, keyed], help=said)
    co.add_argument("id")
    co.add_argument("--session", type=day, required=True, help=_("the session's date"))
    co.add_argument("--next-steps", required=True, metavar="FILE",
                    help=_("the next steps agreed, as text ('-': standard input)"))  # fmt: skip
    co.add_argument("--analysis", type=document_id, help=_("the trainer's analysis (its number)"))
    co.add_argument("--self-review", type=document_id,
                    help=_("the trainee's own review (its number)"))  # fmt: skip
    handled(co, hub_coaching)


def document_id(text: str) -> int:
    """A hub document's number, as argparse's type: digits, within the hub's bound."""
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= 19) or int(text) > MAX_DOC_ID:
        raise argparse.ArgumentTypeError(_("a document number is a positive whole number"))
    return int(text)


def hub_documents(args: argparse.Namespace, s: Settings) -> int:
    from agentapp.hub.training import documents

    rid = recording_id(args.id) if args.id is not None else None
    with person(args, s) as db:
        found = documents(db, rid)
    if args.json:
        rows = [{"id": d.id, "kind": d.kind, "recording": d.recording_id, "agent": d.agent,
                 "training": d.training, "author": d.author,
                 "written_at": d.written_at.isoformat(), "purge_after": d.purge_after.isoformat()}
                for d in found]  # fmt: skip
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    if not found:
        print(_("no training document that you may see at the hub"))
    for d in found:
        print(_("{n:>5}  {kind:<12} {rid}  {agent}  {training}  by {author} on {written:%Y-%m-%d}"
                "  until {until:%Y-%m-%d}").format(
            n=d.id, kind=d.kind, rid=d.recording_id, agent=d.agent, training=d.training,
            author=d.author, written=d.written_at, until=d.purge_after))  # fmt: skip
    return 0


def hub_document(args: argparse.Namespace, s: Settings) -> int:
    """One document decrypted in memory and printed (a coaching record: or written as a PDF,
    listed first for the purge at the record's deadline and traced at the hub)."""
    from agentapp.cli.analysis import print_analysis
    from agentapp.cli.coaching import pdf_path, print_coaching, write_coaching_pdf
    from agentapp.core.analysis import AnalysisError, from_document
    from agentapp.core.coaching import from_record
    from agentapp.hub.training import read_document

    reason = audited_reason(args.reason)
    out = pdf_path(args.out) if args.out is not None else None
    with person(args, s) as db:
        doc = read_document(db, args.n, reason)
        if out is not None and doc.kind != "coaching":
            raise CliError(_("only a coaching record is written as a PDF"), 2)
        content = _opened(args, doc)
        try:
            if doc.kind != "coaching":
                print_analysis(from_document(content))
                return 0
            record = from_record(content)
        except AnalysisError as exc:
            raise CliError(
                _("document {n} cannot be read: {exc}").format(n=doc.id, exc=exc)
            ) from None
        if out is None:
            print_coaching(record)
            return 0
        _list_pdf(db, s, doc, out)
    write_coaching_pdf(record, doc.author, out)
    return 0


def hub_coaching(args: argparse.Namespace, s: Settings) -> int:
    """The record of a session on a recording the hub holds: the trainer's analysis and the
    trainee's self-review read from the hub (each read traced there), the next steps, the
    session's date; sealed here for the site's recording key and kept at the hub a year (it
    checks that this login trains the recording's training, and traces it)."""
    from agentapp.cli.analysis import read_text
    from agentapp.core.analysis import AnalysisError
    from agentapp.core.coaching import check_session, coaching, to_document
    from agentapp.hub.training import recording_row, seal_document, store_document
    from agentapp.vault.keys import KeyProblem, installed_public_key_path, load_public_key

    rid = recording_id(args.id)
    steps = read_text(args.next_steps)
    try:
        public = load_public_key(installed_public_key_path(s.data_dir))
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    why = f"coaching session of {args.session.isoformat()}"
    with person(args, s) as db:
        rec = recording_row(db, rid)
        try:
            check_session(rec.started_at.astimezone(dt.UTC).date(), args.session, dt.date.today())
            mine = _analysis(args, db, args.analysis, "analysis", rid, why)
            theirs = _analysis(args, db, args.self_review, "self-review", rid, why)
            record = coaching(rid, rec.training, rec.agent, args.session, steps, mine, theirs)
        except AnalysisError as exc:
            raise CliError(_("coaching record not saved: {exc}").format(exc=exc)) from None
        sealed = seal_document("coaching", rid, to_document(record), public)
        n = store_document(db, "coaching", rid, sealed)
        print(_("coaching record {n} on {rid} is at the hub, sealed, for a year").format(
            n=n, rid=rid))  # fmt: skip
        print(_give(args, db, n, sealed, rec.agent))
    return 0


def _give(args: argparse.Namespace, db: Any, n: int, sealed: bytes, trainee: str) -> str:
    """The record given to its trainee, for the key they registered at the hub (a slip made
    here with the site's key); what became of it, in one line."""
    from agentapp.cli.review import private_key_for
    from agentapp.hub.connect import HubError
    from agentapp.hub.training import give_document, registered_key
    from agentapp.vault.keys import KeyProblem
    from agentapp.vault.sealing import SealError, key_id_in, slip_for

    try:
        key = registered_key(db, trainee)
    except HubError:
        said = _("{trainee} has no key at the hub yet: read the record with them at the session "
                 "(their desk registers one with `agentapp hub key`)")  # fmt: skip
        return said.format(trainee=trainee)
    try:
        site = private_key_for(args, key_id_in(sealed))
        slip = slip_for(sealed, site, key)
    except (KeyProblem, SealError, KeyError) as exc:
        raise CliError(_("the record is kept but not given: {exc}").format(exc=exc)) from None
    give_document(db, n, slip)
    said = _("given to {trainee}, who reads it on their desk with `agentapp hub document {n}`")
    return said.format(trainee=trainee, n=n)


def _opened(args: argparse.Namespace, doc: HubDocument) -> dict[str, Any]:
    """The document's content: with this person's own key when it was given to them (its
    slip names the key), else with the private half of the site's key it was sealed for."""
    from agentapp.cli.review import private_key_for
    from agentapp.hub.training import open_document
    from agentapp.vault.keys import KeyProblem, load_private_from_keystore
    from agentapp.vault.sealing import SealError, SlipKeys, key_id_in

    assert doc.sealed is not None
    if doc.slip is not None and args.key is None:
        try:
            mine = load_private_from_keystore(doc.slip.get("kid", ""))
        except KeyProblem:
            mine = None  # (not this person's key: a trainer reads it with the site's)
        if mine is not None:
            return open_document(doc, SlipKeys(mine, [doc.slip]))
    try:
        private = private_key_for(args, key_id_in(doc.sealed))
    except (KeyProblem, SealError, KeyError) as exc:
        raise CliError(
            _("document {n} cannot be opened: {exc}").format(n=doc.id, exc=exc)
        ) from None
    return open_document(doc, private)


def _analysis(
    args: argparse.Namespace, db: Any, n: int | None, kind: str, rid: str, why: str
) -> Analysis | None:
    """Document `n`, of `kind`, on `rid`, read (traced) and opened; None when not given."""
    from agentapp.core.analysis import from_document
    from agentapp.hub.training import read_document

    if n is None:
        return None
    doc = read_document(db, n, why)
    if doc.kind != kind:
        words = {"analysis": _("an analysis"), "self-review": _("a self-review"),
                 "coaching": _("a coaching record")}  # fmt: skip
        raise CliError(_("document {n} is {found}, not {kind}").format(
            n=n, found=words.get(doc.kind, doc.kind), kind=words[kind]))  # fmt: skip
    if doc.recording_id != rid:
        raise CliError(_("document {n} is on another recording").format(n=n))
    return from_document(_opened(args, doc))


def _list_pdf(db: Any, s: Settings, doc: HubDocument, out: Path) -> None:
    """Before the PDF is written: listed in this desk's exports with the record's deadline
    (the purge removes it then) and traced at the hub."""
    import time

    from agentapp.files import layout
    from agentapp.hub.training import trace
    from agentapp.vault.exports import ExportRecord, ExportsIndex, this_host

    written, until = doc.written_at.timestamp(), doc.purge_after.timestamp()
    record = ExportRecord(str(out), doc.recording_id, written, until, s.user, this_host(),
                          time.time())  # fmt: skip
    try:
        ExportsIndex(layout.exports(s.data_dir)).add(record)
    except OSError as exc:
        raise CliError(_("the PDF cannot be listed: {exc}").format(exc=exc)) from None
    trace(db, "export file", doc.recording_id, f"coaching record {doc.id} to {out}")
