"""Delete, for good, every recording, note, analysis and coaching record past its deadline
(docs/rules.md R9).
An analysis or a note outlives its recording: each has its own deadline.

Runs at agent start, every hour while the agent runs, and as `agentapp purge`. Each item
purged is written to the audit trail (id and deadline only). Exported files listed with
their recording's deadline (vault/exports.py) are removed too, where this machine reaches
them; one it cannot remove (another machine's, a permission) is reported, traced and kept
on the list, so every later purge says so again until it is gone.

Threading: call from one thread at a time per data folder (the agent's watchdog, or the CLI).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentapp.core.policy import MAX_RETENTION_DAYS, Policy
from agentapp.core.retention import created_from_id, deadline
from agentapp.files import layout
from agentapp.vault import people
from agentapp.vault.analyses import AnalysesStore
from agentapp.vault.audit import AuditError, AuditLog
from agentapp.vault.coaching import CoachingStore
from agentapp.vault.exports import ExportsIndex, this_host
from agentapp.vault.grants import GrantError, Grants
from agentapp.vault.notes import NotesStore, SealedDocs
from agentapp.vault.store import Vault, VaultError, remove_for_good

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Purged:
    kind: str  # "recording" | "example" | "note" | "analysis" | "coaching" | "share" | "export"
    id: str  # an export's: its path
    deadline: float
    problem: str = ""  # an export past its deadline that could not be removed: why

    def describe(self) -> str:
        when = dt.datetime.fromtimestamp(self.deadline, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        what = f"{self.kind} {self.id} (deadline {when})"
        return f"{what} NOT removed: {self.problem}" if self.problem else what


def purge_expired(
    data_dir: Path, now: float, policy: Policy | None, audit: AuditLog | None, who: str = "agentapp"
) -> list[Purged]:
    """Without a readable policy, recordings fall back to the 6-month limit, never longer."""
    days = policy.retention_days if policy else MAX_RETENTION_DAYS
    note_days = policy.notes_retention_days if policy else None
    vault = Vault(layout.recordings(data_dir))
    documents: list[SealedDocs[Any]] = [
        NotesStore(layout.notes(data_dir)),
        AnalysesStore(layout.analyses(data_dir)),
        CoachingStore(layout.coaching(data_dir)),
        *(AnalysesStore(folder) for _login, folder in people.folders(data_dir)),  # self-reviews
    ]
    done: list[Purged] = []
    examples = layout.examples(data_dir)
    vaults = [(vault, "recording")] + ([(Vault(examples), "example")] if examples.is_dir() else [])
    for kept, kind in vaults:
        done += _purge_recordings(kept, kind, now, days)
    for store in documents:
        for doc in store.metas():
            due = deadline(doc.created_at, doc.purge_after, note_days)
            if due <= now:
                try:
                    store.delete(doc.id)
                except OSError as exc:
                    log.error("could not purge %s %s: %s", store.kind, doc.id, exc)
                    continue
                done.append(Purged(store.kind, doc.id, due))
        for orphan in store.orphans():
            remove_for_good(orphan)
    done += _purge_grants(Grants(data_dir), [v for v, _kind in vaults], now)
    done += _purge_exports(ExportsIndex(layout.exports(data_dir)), now, days)
    for item in done:
        if item.problem:
            log.error("export past its deadline: %s", item.describe())
        else:
            log.warning("purged %s", item.describe())
        if audit is not None:
            try:
                audit.append(who, "purge failed" if item.problem else "purge",
                             f"{item.kind} {item.id}", item.problem or "retention deadline reached",
                             role="system")  # fmt: skip
            except AuditError as exc:
                log.error("purge of %s not traced: %s", item.id, exc)
    return done


def _purge_recordings(vault: Vault, kind: str, now: float, days: int) -> list[Purged]:
    out = []
    for folder in vault.folders():
        meta = vault.read_meta(folder)
        if meta is not None:
            due = deadline(meta.started_at, meta.purge_after, days)
        else:  # damaged metadata: the id still tells when it was made
            created = created_from_id(folder.name)
            if created is None:
                continue
            due = deadline(created, None, days)
        if due <= now:
            try:
                vault.delete(folder.name)
            except (OSError, VaultError) as exc:
                log.error("could not purge %s %s: %s", kind, folder.name, exc)
                continue
            out.append(Purged(kind, folder.name, due))
    return out


def _purge_grants(grants: Grants, vaults: list[Vault], now: float) -> list[Purged]:
    """A share goes with its recording (or teaching example): when it is gone, or past its
    deadline."""
    out = []
    for rid, login in grants.all():
        g = grants.get(rid, login)
        if g is not None and g.until > now and any((v.root / rid).is_dir() for v in vaults):
            continue
        try:
            grants.withdraw(rid, login)
        except (OSError, GrantError) as exc:
            log.error("could not purge the share of %s with %s: %s", rid, login, exc)
            continue
        out.append(Purged("share", f"{rid} with {login}", g.until if g else now))
    return out


def _purge_exports(index: ExportsIndex, now: float, days: int) -> list[Purged]:
    out: list[Purged] = []
    forget = []
    for r in index.records():
        due = deadline(r.started_at, r.purge_after, days)
        if due > now:
            continue
        path = Path(r.path)
        if r.host != this_host():
            out.append(Purged("export", r.path, due, f"it is on {r.host}: remove it there"))
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            forget.append(r)  # removed by hand, moved, or never written (a failed export)
            continue
        except OSError as exc:
            out.append(Purged("export", r.path, due, f"{exc.strerror or exc}: remove it by hand"))
            continue
        forget.append(r)
        out.append(Purged("export", r.path, due))
    try:
        index.keep_only(forget)
    except OSError as exc:
        log.error("the list of exports cannot be updated: %s", exc)
    return out
