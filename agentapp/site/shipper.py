"""Deliver sealed recordings to the site folder, and keep a stub here (quota, retention).

A finished (or interrupted) recording is copied to `<site>/recordings/.incoming-<id>/`, each
file flushed, then renamed to `<site>/recordings/<id>/` — so the site never shows half a
recording — and only then are the local segments removed and the local metadata marked
`shipped` (kept for the weekly quota and purged at its deadline like any recording). A copy
that is already complete at the site (a stop between rename and local clean-up) is not sent
twice. An unreachable site is retried every `interval` seconds; only ciphertext ever moves.

Threading: one daemon thread.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path

from agentapp.files import layout
from agentapp.vault.store import (
    META,
    STATUS_COMPLETE,
    STATUS_INTERRUPTED,
    Vault,
    recording_ids_since,
    remove_for_good,
)

log = logging.getLogger(__name__)


class RecordingShipper:
    def __init__(self, vault: Vault, site: Path, interval: float = 10.0) -> None:
        self.vault = vault
        self.dest = layout.recordings(site)
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one recording at a time: shipped, or withdrawn
        self._thread = threading.Thread(target=self._run, name="shipper", daemon=True)
        self.problem: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            self.ship_all()
            if self._stop.wait(self._interval):
                return

    def ship_all(self) -> int:
        """Deliver every finished recording; stops at the first failure (retried later)."""
        shipped = 0
        for meta in self.vault.recordings():
            if meta.status not in (STATUS_COMPLETE, STATUS_INTERRUPTED):
                continue
            try:
                with self._lock:
                    if self.vault.has(meta.id):  # not withdrawn meanwhile
                        self._ship(meta.id)
            except OSError as exc:
                if self.problem is None:
                    log.warning("site folder unreachable, recordings wait here sealed: %s", exc)
                self.problem = f"site folder unreachable: {exc.strerror or exc}"
                return shipped
            shipped += 1
        if self.problem is not None and shipped:
            log.warning("site folder reachable again")
            self.problem = None
        return shipped

    def ids_since(self, agent: str, since: float) -> set[str]:
        """The ids of `agent`'s recordings at the site started at `since` or later (from any
        desk). Only this week's folders are opened: an id starts with its UTC start time.
        An unreachable site gives none (the desk's own count stands)."""
        try:
            return recording_ids_since(self.dest, agent, since)
        except OSError:
            return set()

    def withdraw(self, rid: str) -> None:
        """Erase a recording here and at the site (the caller objected after the call), never
        halfway through its delivery. Any thread. Raises OSError if the site cannot be
        reached (the copy here is gone already)."""
        with self._lock:
            if self.vault.has(rid):
                self.vault.delete(rid)
            for copy in (self.dest / rid, self.dest / f".incoming-{rid}"):
                if copy.exists():
                    remove_for_good(copy)
        log.info("recording %s withdrawn from the site folder", rid)

    def _ship(self, rid: str) -> None:
        src = self.vault.folder(rid)
        meta_bytes = (src / META).read_bytes()
        final = self.dest / rid
        if not (final.is_dir() and (final / META).read_bytes() == meta_bytes):
            if not self.dest.is_dir():
                raise FileNotFoundError(2, "No such folder", str(self.dest))
            incoming = self.dest / f".incoming-{rid}"
            remove_for_good(incoming)
            incoming.mkdir(mode=0o700)
            for f in sorted(src.iterdir()):
                if f.name.startswith("."):
                    continue
                shutil.copyfile(f, incoming / f.name)
                fd = os.open(incoming / f.name, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            if final.exists():  # a stale, different copy: replaced as a whole
                remove_for_good(final)
            os.replace(incoming, final)
        self.vault.keep_stub(rid, meta_bytes)
        log.info("recording %s delivered to the site folder", rid)
