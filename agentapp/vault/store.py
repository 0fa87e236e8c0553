"""The local vault: one folder per recording, sealed segments and a small metadata file.

Layout under `<data dir>/recordings/` (folders 0700, files 0600):

    <recording id>/recording.json   metadata (docs/rules.md R13: agent, date, time, duration,
                                     application, size, hash — no caller, no call id)
    <recording id>/seg-000001.seal  sealed segments, in order; each grows by one sealed
                                     record per fragment of video (vault/sealing.py)
    .gone-<recording id>/           being deleted (renamed first, so it leaves the index at once)

Metadata is written to a temporary name, flushed and renamed, so a crash leaves either the
previous state or the new one. Segments are appended to, record by record, each flushed to
the disk before the next: a crash leaves whole records and at most one torn record at the
end, which recovery cuts off. Only ciphertext is ever written. Thread-safe per recording
writer; the vault itself only reads or creates folders.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import stat
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agentapp.core.errors import Refusal
from agentapp.core.names import is_recording_id, is_safe_component, is_segment_name, shown
from agentapp.i18n import _
from agentapp.vault.sealing import SEGMENT_MAGIC, SealError, read_header, whole_records_end

META = "recording.json"
VOICE_FILE = "voice-attached.seal"  # a PBX's recording of the call, sealed in (vault/attach.py)
STATUS_RECORDING = "recording"
STATUS_COMPLETE = "complete"
STATUS_INTERRUPTED = "interrupted"
STATUS_SHIPPED = "shipped"  # delivered (site folder, hub): only the metadata stays here
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class VaultError(Refusal):
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
    # the call's voice: "" not recorded (the policy's choice), "recording" recorded with the
    # video, or "no voice: <why>" (the softphone's sound could not be found or read)
    voice: str = ""

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


def append_durably(path: Path, line: bytes) -> None:
    """Append one line and flush it to the disk (a link planted in its place is refused)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | _NOFOLLOW, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o600, durable: bool = True) -> None:
    """`data` replaces `path` whole (a reader sees the old file or the new one). `durable`:
    on the disk before this returns (synced, file and folder); not for what only says how
    things are now (the agent's status), which a crash may leave one step behind."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        _fsync_dir(path.parent)


def place_folder(base: Path, name: str, files: dict[str, bytes]) -> Path:
    """`files` as the folder `base/name`, whole or not at all, replacing an earlier copy.
    Nothing is followed on the way: `base` must be a real folder (not a link), `name` and each
    file name a safe path component (core/names.py), and every entry is made relative to an
    opened folder with O_NOFOLLOW and O_EXCL, so a link planted in `base` is refused, never
    written through. Raises VaultError (nothing written) or OSError."""
    bad = [n for n in (name, *files) if not is_safe_component(n)]
    if bad:
        raise VaultError(_("refused the name {name}").format(name=shown(bad[0])))
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        base_fd = os.open(base, flags)
    except OSError as exc:
        raise VaultError(_("{base} is not a folder of its own ({exc})").format(
            base=base, exc=exc.strerror)) from None  # fmt: skip
    try:
        try:
            old = os.stat(name, dir_fd=base_fd, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None and not stat.S_ISDIR(old.st_mode):
            raise VaultError(_("{path} is not a folder (a link?): refused").format(
                path=base / name))  # fmt: skip
        stage = f".incoming-{name}-{secrets.token_hex(4)}"
        os.mkdir(stage, 0o700, dir_fd=base_fd)
        try:
            stage_fd = os.open(stage, flags, dir_fd=base_fd)
            try:
                for fname, data in files.items():
                    fd = os.open(fname, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                                 0o600, dir_fd=stage_fd)  # fmt: skip
                    with os.fdopen(fd, "wb") as f:
                        f.write(data)
                        f.flush()
                        os.fsync(f.fileno())
                os.fsync(stage_fd)
            finally:
                os.close(stage_fd)
            if old is not None:
                gone = f".gone-{name}-{secrets.token_hex(4)}"
                os.rename(name, gone, src_dir_fd=base_fd, dst_dir_fd=base_fd)
                remove_for_good(base / gone)
            os.rename(stage, name, src_dir_fd=base_fd, dst_dir_fd=base_fd)
        except BaseException:
            remove_for_good(base / stage)
            raise
        os.fsync(base_fd)
    finally:
        os.close(base_fd)
    return base / name


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


def write_problem(recordings: Path, trail: Path) -> str | None:
    """Can a recording and its trail be written now? A file made and removed in the
    recordings folder (never following a link), and the trail opened for appending (nothing
    written): None, or why not (a folder turned read-only by a disk error says so here, not
    at the next call)."""
    probe = recordings / ".write-probe"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, b"\0")
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        return f"cannot write recordings in {recordings}: {exc.strerror or exc}"
    try:
        fd = os.open(trail, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        os.close(fd)
    except OSError as exc:
        return f"cannot write the audit trail {trail}: {exc.strerror or exc}"
    return None


@dataclass(slots=True)
class _SegmentFile:
    offsets: list[int]  # where each record starts
    frames: list[int]  # frames in each record
    fd: int | None = None  # open for appending while it is the newest segment


class RecordingWriter:
    """Writes one recording's sealed segments. Called from the capture thread only (the
    engine finishes or discards it once that thread is done).

    A segment is written as it grows: its sealed header first, then one sealed record per
    fragment, each appended and flushed to the disk (fsync) before the next is made, so a
    crash keeps every whole record; `Vault.recover_interrupted` trims a torn last one."""

    def __init__(self, folder: Path, meta: RecordingMeta) -> None:
        self.folder = folder
        self.meta = meta
        self._segments: dict[int, _SegmentFile] = {}
        self._lock = threading.Lock()
        self._save()

    def _save(self) -> None:
        write_atomic(self.folder / META, json.dumps(self.meta.to_json(), indent=1).encode())

    def segment_path(self, seq: int) -> Path:
        return self.folder / f"seg-{seq:06d}.seal"

    def new_segment(self, seq: int, header: bytes) -> None:
        """Create segment `seq` with its sealed header (the newest: older ones are closed)."""
        with self._lock:
            self._close_all()
            path = self.segment_path(seq)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            try:
                _write_all(fd, header)
            except BaseException:
                os.close(fd)
                path.unlink(missing_ok=True)
                raise
            _fsync_dir(self.folder)
            self._segments[seq] = _SegmentFile([], [], fd)
            self.meta.segments = len(self._segments)
            self._save()

    def append(self, seq: int, record: bytes, frames: int) -> None:
        """Append one sealed record to segment `seq` (the newest) and flush it to the disk."""
        with self._lock:
            seg = self._segments[seq]
            fd = self._open(seq)
            offset = os.lseek(fd, 0, os.SEEK_END)
            try:
                _write_all(fd, record)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, offset)  # no torn record left behind (disk full)
                raise
            seg.offsets.append(offset)
            seg.frames.append(frames)
            self.meta.frames += frames

    def cut(self, seq: int, index: int) -> None:
        """Forget record `index` of segment `seq` and every record after it: later segments
        are removed, this one is truncated (its header stays for the record that follows)."""
        with self._lock:
            for later in sorted(s for s in self._segments if s > seq):
                self._close(later)
                self.meta.frames -= sum(self._segments.pop(later).frames)
                self.segment_path(later).unlink(missing_ok=True)
            seg = self._segments[seq]
            if index < len(seg.offsets):
                fd = self._open(seq)
                os.ftruncate(fd, seg.offsets[index])
                os.fsync(fd)
                self.meta.frames -= sum(seg.frames[index:])
                del seg.offsets[index:], seg.frames[index:]
            self.meta.segments = len(self._segments)

    def add_segment(self, sealed: bytes, frames: int) -> Path:
        """Store one complete sealed segment at once (sample recordings, tests)."""
        with self._lock:
            self._close_all()
            seq = max(self._segments, default=0) + 1
            path = self.segment_path(seq)
            write_atomic(path, sealed)
            self._segments[seq] = _SegmentFile([0], [frames])
            self.meta.segments = len(self._segments)
            self.meta.frames += frames
            self._tally()
            self._save()
            return path

    def _tally(self) -> None:
        """Size and digest of what is on disk now (a few MB at most: read back at the end)."""
        digest, size = hashlib.sha256(), 0
        for seq in sorted(self._segments):
            data = self.segment_path(seq).read_bytes()
            digest.update(data)
            size += len(data)
        self.meta.size_bytes, self.meta.sha256 = size, digest.hexdigest()

    def _open(self, seq: int) -> int:
        """Segment `seq`'s file, open for appending (reopened after a newer segment began)."""
        seg = self._segments[seq]
        if seg.fd is None:
            seg.fd = os.open(self.segment_path(seq), os.O_WRONLY | os.O_APPEND | _NOFOLLOW)
        return seg.fd

    def _close(self, seq: int) -> None:
        seg = self._segments[seq]
        if seg.fd is not None:
            os.close(seg.fd)
            seg.fd = None

    def _close_all(self) -> None:
        for seq in self._segments:
            self._close(seq)

    def finish(
        self, duration_s: float, paused_spans: list[tuple[float, float]], end_reason: str
    ) -> RecordingMeta:
        with self._lock:
            self._close_all()
            self._tally()
            self.meta.duration_s = round(duration_s, 3)
            self.meta.paused_spans = [(round(a, 3), round(b, 3)) for a, b in paused_spans]
            self.meta.end_reason = end_reason
            self.meta.status = STATUS_COMPLETE
            self._save()
            return self.meta

    def discard(self) -> None:
        """Delete everything this recording wrote (caller objects, nothing captured)."""
        with self._lock:
            self._close_all()
            shutil.rmtree(self.folder, ignore_errors=True)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fsync(fd)


def _fsync_dir(folder: Path) -> None:
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class Vault:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        root.chmod(0o700)

    @classmethod
    def reading(cls, root: Path) -> Vault:
        """Another person's recordings folder (a site's, mounted on a desk), read as it is:
        neither made nor its mode changed."""
        vault = cls.__new__(cls)
        vault.root = root
        return vault

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

    def folder(self, rid: str) -> Path:
        """The folder of recording `rid`, whether it exists or not. Raises VaultError when
        `rid` is not a recording id (core/names.py): an id from a command line, a site folder
        or a hub never becomes any other path."""
        if not is_recording_id(rid):
            raise VaultError(_("no recording {rid}: not a recording id").format(rid=shown(rid)))
        return self.root / rid

    def recordings(self) -> list[RecordingMeta]:
        """Every readable recording, in the order the calls started (ids carry only whole
        seconds, so two calls in one second would otherwise come in random order)."""
        out = []
        for folder in sorted(self.root.iterdir()) if self.root.exists() else []:
            if not is_recording_id(folder.name):
                continue
            meta = self.read_meta(folder)
            if meta is not None:
                out.append(meta)
        return sorted(out, key=lambda m: (m.started_at, m.id))

    def get(self, rid: str) -> RecordingMeta:
        meta = self.read_meta(self.folder(rid))
        if meta is None:
            raise VaultError(
                _("no recording {rid!r} (see 'agentapp recordings list')").format(rid=rid)
            )
        return meta

    def save_meta(self, meta: RecordingMeta) -> None:
        """Write back a finished recording's metadata (a voice attached to it)."""
        self.get(meta.id)  # it exists, and its id is a folder of this vault
        write_atomic(self.folder(meta.id) / META, json.dumps(meta.to_json(), indent=1).encode())

    def segment_paths(self, rid: str) -> list[Path]:
        return sorted(p for p in self.folder(rid).glob("seg-*.seal") if is_segment_name(p.name))

    def sealed_files(self, rid: str) -> list[Path]:
        """What a delivery carries: the segments and an attached voice (if any)."""
        return [*self.segment_paths(rid), self.folder(rid) / VOICE_FILE]

    def keep_stub(self, rid: str, meta_bytes: bytes) -> None:
        """Delivered elsewhere: the sealed files go, the metadata (`meta_bytes`, as it was
        delivered) stays here as STATUS_SHIPPED, for the weekly quota and the purge."""
        for sealed in self.sealed_files(rid):
            sealed.unlink(missing_ok=True)
        stub = json.loads(meta_bytes)
        stub["status"] = STATUS_SHIPPED
        write_atomic(self.folder(rid) / META, json.dumps(stub, indent=1).encode())

    def count_since(self, agent: str, since: float) -> int:
        return len(recording_ids_since(self.root, agent, since))

    def folders(self) -> list[Path]:
        """Every recording folder, readable metadata or not (purge looks at them all)."""
        if not self.root.exists():
            return []
        return sorted(p for p in self.root.iterdir() if is_recording_id(p.name) and p.is_dir())

    def delete(self, rid: str) -> None:
        """Gone for good: renamed out of the index first, then removed."""
        folder = self.folder(rid)
        if folder.is_symlink() or not folder.is_dir():
            raise VaultError(_("no recording {rid}").format(rid=rid))
        doomed = self.root / f".gone-{rid}"
        os.replace(folder, doomed)
        remove_for_good(doomed)

    def recover_interrupted(self) -> list[str]:
        """At start-up, put the vault back in order after a crash, a kill -9 or a power loss:

        - stray temporary files (ciphertext only) and half-deleted folders are removed;
        - a recording left 'recording' keeps every whole sealed record of its segments (a
          torn record at the end of one is cut off) and is marked interrupted; one with no
          whole record at all is removed;
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
            kept = [seg for seg in segments if _trim_torn(seg)]
            if not kept:
                remove_for_good(folder)
                continue
            digest = hashlib.sha256()
            for seg in kept:
                digest.update(seg.read_bytes())
            meta.segments = len(kept)
            meta.size_bytes = sum(seg.stat().st_size for seg in kept)
            meta.sha256 = digest.hexdigest()
            meta.status = STATUS_INTERRUPTED
            meta.end_reason = "agent stopped during the call"
            write_atomic(folder / META, json.dumps(meta.to_json(), indent=1).encode())
            fixed.append(meta.id)
        return fixed

    def has(self, rid: str) -> bool:
        """Whether `rid` is a recording id with a folder here (a real one, not a link)."""
        if not is_recording_id(rid):
            return False
        folder = self.root / rid
        return folder.is_dir() and not folder.is_symlink()

    @staticmethod
    def read_meta(folder: Path) -> RecordingMeta | None:
        """The folder's metadata, when it is a recording's: its id must be the folder's name
        (a recording.json written elsewhere cannot point at another folder)."""
        if not is_recording_id(folder.name) or folder.is_symlink():
            return None
        try:
            meta = RecordingMeta.from_json(json.loads((folder / META).read_text()))
        except (OSError, ValueError, TypeError):
            return None
        return meta if meta.id == folder.name else None


def recording_ids_since(root: Path, agent: str, since: float) -> set[str]:
    """The ids of `agent`'s recordings under `root` (a vault, or the site's recordings)
    started at `since` or later. Only those folders are opened: an id starts with its UTC
    start time. Raises OSError when `root` cannot be listed."""
    first = dt.datetime.fromtimestamp(since, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    found: set[str] = set()
    for name in os.listdir(root) if root.exists() else []:
        if not is_recording_id(name) or name < first:
            continue
        meta = Vault.read_meta(root / name)
        if meta is not None and meta.agent == agent and meta.started_at >= since:
            found.add(meta.id)
    return found


def _trim_torn(path: Path) -> bool:
    """Cut a torn record off the end of a segment; False when nothing whole is left in it
    (then it is removed). A file sealed whole (an older format, or unreadable) is left alone."""
    try:
        blob = path.read_bytes()
        if not blob.startswith(SEGMENT_MAGIC):
            return True
        end = whole_records_end(blob)
        _x, first = read_header(blob)
    except (OSError, SealError):
        return True
    if end <= first:
        path.unlink(missing_ok=True)
        return False
    if end < len(blob):
        with open(path, "r+b") as f:
            f.truncate(end)
            os.fsync(f.fileno())
    return True
