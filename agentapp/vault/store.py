"""The local vault: one folder per recording, sealed segments and a small metadata file.

Layout under `<data dir>/recordings/` (folders 0700, files 0600):

    <recording id>/recording.json   metadata (RULES.md R13: agent, date, time, duration,
                                     application, size, hash — no caller, no call id)
    <recording id>/seg-000001.seal  sealed segments, in order
    .gone-<recording id>/           being deleted (renamed first, so it leaves the index at once)

Every file is written to a temporary name (holding ciphertext only), flushed and renamed, so
a crash leaves either the previous state or the new one, never a half-written file under its
final name. Thread-safe per recording writer; the vault itself only reads or creates folders.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

META = "recording.json"
STATUS_RECORDING = "recording"
STATUS_COMPLETE = "complete"
STATUS_INTERRUPTED = "interrupted"


class VaultError(RuntimeError):
    pass


@dataclass(slots=True)
class RecordingMeta:
    id: str
    agent: str
    started_at: float  # wall-clock seconds (off-hook)
    application: str
    purge_after: float
    purpose: str = "training"
    training: str = ""  # the enrolment's training: decides which trainers may see it (R7)
    status: str = STATUS_RECORDING
    duration_s: float = 0.0
    frames: int = 0  # frames encoded (a static window's unchanged frames are held, not encoded)
    unchanged_frames: int = 0  # frame ticks that showed the same pixels as the last frame
    dropped_frames: int = 0  # grabs thrown away (window moved or covered mid-grab)
    late_ticks: int = 0  # frame intervals that started late (a loaded machine)
    # "composite": only the window's own pixels were read; "masked": its rectangle on the
    # screen with everything above it blacked out (fallback, `capture_note` says why)
    capture_mode: str = ""
    capture_note: str = ""
    segments: int = 0
    size_bytes: int = 0
    sha256: str = ""
    paused_spans: list[tuple[float, float]] = field(default_factory=list)  # seconds from start
    end_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["started_at_iso"] = dt.datetime.fromtimestamp(self.started_at, dt.UTC).isoformat(
            timespec="milliseconds"
        )
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RecordingMeta:
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        d["paused_spans"] = [tuple(s) for s in d.get("paused_spans", [])]
        return cls(**d)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def remove_for_good(path: Path) -> None:
    """Unlink a file or a folder tree. Only ciphertext and metadata ever live here, so no
    overwrite pass is needed (nor reliable on SSDs and copy-on-write file systems)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


class RecordingWriter:
    """Writes one recording's sealed segments. Called from the capture thread only."""

    def __init__(self, folder: Path, meta: RecordingMeta) -> None:
        self.folder = folder
        self.meta = meta
        self._hash = hashlib.sha256()
        self._lock = threading.Lock()
        self._save()

    def _save(self) -> None:
        write_atomic(self.folder / META, json.dumps(self.meta.to_json(), indent=1).encode())

    def add_segment(self, sealed: bytes, frames: int) -> Path:
        with self._lock:
            self.meta.segments += 1
            path = self.folder / f"seg-{self.meta.segments:06d}.seal"
            write_atomic(path, sealed)
            self._hash.update(sealed)
            self.meta.size_bytes += len(sealed)
            self.meta.frames += frames
            self.meta.sha256 = self._hash.hexdigest()
            self._save()
            return path

    def finish(
        self, duration_s: float, paused_spans: list[tuple[float, float]], end_reason: str
    ) -> RecordingMeta:
        with self._lock:
            self.meta.duration_s = round(duration_s, 3)
            self.meta.paused_spans = [(round(a, 3), round(b, 3)) for a, b in paused_spans]
            self.meta.end_reason = end_reason
            self.meta.status = STATUS_COMPLETE
            self._save()
            return self.meta

    def discard(self) -> None:
        """Delete everything this recording wrote (caller objects, nothing captured)."""
        with self._lock:
            shutil.rmtree(self.folder, ignore_errors=True)


class Vault:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        root.chmod(0o700)

    def begin(
        self,
        agent: str,
        started_at: float,
        application: str,
        retention_days: int,
        training: str = "",
    ) -> RecordingWriter:
        rid = dt.datetime.fromtimestamp(started_at, dt.UTC).strftime("%Y%m%dT%H%M%SZ-")
        rid += secrets.token_hex(4)
        folder = self.root / rid
        folder.mkdir(mode=0o700)
        meta = RecordingMeta(
            id=rid,
            agent=agent,
            started_at=started_at,
            application=application,
            purge_after=started_at + retention_days * 86400,
            training=training,
        )
        return RecordingWriter(folder, meta)

    def recordings(self) -> list[RecordingMeta]:
        """Every readable recording, in the order the calls started (ids carry only whole
        seconds, so two calls in one second would otherwise come in random order)."""
        out = []
        for folder in sorted(self.root.iterdir()) if self.root.exists() else []:
            if folder.name.startswith("."):
                continue
            meta = self.read_meta(folder)
            if meta is not None:
                out.append(meta)
        return sorted(out, key=lambda m: (m.started_at, m.id))

    def get(self, rid: str) -> RecordingMeta:
        if not rid or "/" in rid or rid.startswith("."):
            raise VaultError(f"no recording {rid!r}")
        meta = self.read_meta(self.root / rid)
        if meta is None:
            raise VaultError(f"no recording {rid!r} (see 'agentapp recordings list')")
        return meta

    def segment_paths(self, rid: str) -> list[Path]:
        return sorted((self.root / rid).glob("seg-*.seal"))

    def count_since(self, agent: str, since: float) -> int:
        return sum(1 for m in self.recordings() if m.agent == agent and m.started_at >= since)

    def folders(self) -> list[Path]:
        """Every recording folder, readable metadata or not (purge looks at them all)."""
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def delete(self, rid: str) -> None:
        """Gone for good: renamed out of the index first, then removed."""
        folder = self.root / rid
        if not rid or "/" in rid or rid.startswith(".") or not folder.is_dir():
            raise VaultError(f"no recording {rid!r}")
        doomed = self.root / f".gone-{rid}"
        os.replace(folder, doomed)
        remove_for_good(doomed)

    def recover_interrupted(self) -> list[str]:
        """At start-up, put the vault back in order after a crash or power loss:

        - stray temporary files (ciphertext only) and half-deleted folders are removed;
        - a recording left 'recording' keeps its complete sealed segments — including one
          sealed and renamed just before the stop but not yet counted in its metadata — and
          is marked interrupted; one with no sealed segment at all is removed;
        - a folder with neither metadata nor segments (a stop right after it was made) goes.
        Returns the ids of the recordings it marked interrupted.
        """
        fixed = []
        for doomed in self.root.glob(".gone-*") if self.root.exists() else []:
            remove_for_good(doomed)
        for folder in self.folders():
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
            meta = self.read_meta(folder)
            segments = self.segment_paths(folder.name)
            if meta is None:
                if not segments and not (folder / META).exists():
                    remove_for_good(folder)
                continue
            if meta.status != STATUS_RECORDING:
                continue
            if not segments:
                remove_for_good(folder)
                continue
            if len(segments) != meta.segments:
                digest = hashlib.sha256()
                for seg in segments:
                    digest.update(seg.read_bytes())
                meta.segments = len(segments)
                meta.size_bytes = sum(seg.stat().st_size for seg in segments)
                meta.sha256 = digest.hexdigest()
            meta.status = STATUS_INTERRUPTED
            meta.end_reason = "agent stopped during the call"
            write_atomic(folder / META, json.dumps(meta.to_json(), indent=1).encode())
            fixed.append(meta.id)
        return fixed

    @staticmethod
    def read_meta(folder: Path) -> RecordingMeta | None:
        try:
            return RecordingMeta.from_json(json.loads((folder / META).read_text()))
        except (OSError, ValueError, TypeError):
            return None
