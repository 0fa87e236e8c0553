"""Decrypt a recording in memory and write a playable MP4 the person asked for.

This and the capture package are the only places that touch PyAV. Decryption happens in
memory; the only plaintext file is the export the user asked for, created 0600.

Threading: plain functions, run on the caller's thread.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.core.geometry import Rect
from agentapp.core.videopack import Packet, Segment, VoicePacket, unpack
from agentapp.i18n import _
from agentapp.vault.sealing import SEGMENT_MAGIC, Opener, SealError, open_segment, unseal
from agentapp.vault.store import Vault, VaultError

_MS = Fraction(1, 1000)


@dataclass(frozen=True, slots=True)
class ExportSummary:
    path: Path
    frames: int
    first_s: float
    last_s: float
    width: int
    height: int
    size_bytes: int
    cut_short: bool = False  # the recording's sealed end is missing (agent killed mid-call)
    voice: bool = False  # the file carries the call's voice (left: agent, right: caller)


def open_segments(vault: Vault, rid: str, private: Opener) -> list[Segment]:
    """Every segment of a recording, decrypted and checked in memory, in order: each belongs
    to this recording at this place, follows the one before it whole, and holds its
    fragments whole and in order. A recording cut short (the agent was killed) opens up to
    where it was cut; its last segment then has `call_end` False. Raises VaultError."""
    vault.get(rid)
    out: list[Segment] = []
    paths = vault.segment_paths(rid)
    prev = ""
    for i, path in enumerate(paths, start=1):
        blob = path.read_bytes()
        try:
            if blob.startswith(SEGMENT_MAGIC):
                seg = open_segment(blob, private)
                expected: dict[str, object] = {"rec": rid, "seq": i, "prev": prev}
            else:
                header, plain = unseal(blob, private)
                expected, seg = {"rec": rid, "seq": i}, None
        except SealError as exc:
            raise VaultError(f"{path.name}: {exc}") from None
        if (seg.context if seg else header.get("ctx")) != expected:
            raise VaultError(
                _("{name} does not belong at this place in {rid} (tampered?)").format(
                    name=path.name, rid=rid
                )
            )
        if seg is None:
            out.append(_mp4_segment(plain))
            continue
        last = i == len(paths)
        if (seg.torn or seg.call_end) and not last:
            raise VaultError(
                _("{name} is followed by segments it does not lead to (tampered?)").format(
                    name=path.name
                )
            )
        out.append(_packet_segment(path.name, seg.payloads, seg.call_end))
        prev = seg.last_tag.hex()
    if not out:
        raise VaultError(_("recording {rid} has no segment").format(rid=rid))
    return out


def _packet_segment(name: str, payloads: list[bytes], call_end: bool) -> Segment:
    packets: list[Packet] = []
    voice: list[VoicePacket] = []
    width = height = 0
    try:
        for payload in payloads:
            fragment = unpack(payload)
            width, height = fragment.width, fragment.height
            packets.extend(fragment.packets)
            voice.extend(fragment.voice)
    except ValueError as exc:
        raise VaultError(f"{name}: {exc}") from None
    return Segment(width, height, tuple(packets), call_end=call_end, voice=tuple(voice))


def _mp4_segment(mp4: bytes) -> Segment:
    with av.open(io.BytesIO(mp4)) as c:
        cc = c.streams.video[0].codec_context
        return Segment(cc.width, cc.height, mp4=mp4)


def iter_frames(src: Segment | bytes | Path) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds since off-hook, BGR pixels) for each frame of a decrypted segment, or of an
    MP4 in memory or on disk (an export)."""
    if isinstance(src, Segment) and not src.mp4:
        yield from _decode_packets(src.packets)
        return
    mp4 = src.mp4 if isinstance(src, Segment) else src
    with av.open(io.BytesIO(mp4) if isinstance(mp4, bytes) else str(mp4), mode="r") as container:
        for frame in container.decode(video=0):
            t = float(frame.time) if frame.time is not None else 0.0
            yield t, frame.to_ndarray(format="bgr24")


def _decode_packets(packets: tuple[Packet, ...]) -> Iterator[tuple[float, np.ndarray]]:
    """Decoded frames in order; a repeat packet yields the picture before it again, at its
    own time, right after that picture (whatever delay the decoder has)."""
    repeats: dict[int, list[int]] = {}  # a coded picture's pts -> the repeats that follow it
    coded: list[Packet] = []
    for p in packets:
        if not p.repeat:
            coded.append(p)
        elif coded:  # (a repeat of nothing, after a damaged cut, shows nothing)
            repeats.setdefault(coded[-1].pts_ms, []).append(p.pts_ms)
    decoder = av.CodecContext.create("h264", "r")
    for c in [*coded, None]:
        if c is None:
            frames = decoder.decode(None)
        else:
            packet = av.Packet(c.data)
            packet.pts, packet.time_base = c.pts_ms, _MS
            frames = decoder.decode(packet)
        for frame in frames:
            pts = frame.pts or 0
            bgr = frame.to_ndarray(format="bgr24")
            again = repeats.pop(pts, [])
            if not again:
                yield pts / 1000, bgr
                continue
            kept = bgr.copy()  # as decoded: the caller may draw on the frame it is given
            yield pts / 1000, bgr
            for t in again:
                yield t / 1000, kept.copy()


BLOCK = 16  # pixels: the blur's block, and its box passes' width


def blur(canvas: np.ndarray, rect: Rect) -> None:
    """Make a rectangle unreadable for good: the mean of each 16-pixel block (what was in a
    block is gone), then a blur that hides the blocks' edges (two 16-pixel box passes,
    close to a Gaussian)."""
    h, w = canvas.shape[:2]
    x0, y0 = max(0, rect.x), max(0, rect.y)
    x1, y1 = min(w, rect.x + rect.w), min(h, rect.y + rect.h)
    if x1 <= x0 or y1 <= y0:
        return
    roi = canvas[y0:y1, x0:x1]
    rows, cols = np.arange(0, y1 - y0, BLOCK), np.arange(0, x1 - x0, BLOCK)
    tall, wide = np.diff(rows, append=y1 - y0), np.diff(cols, append=x1 - x0)
    sums = np.add.reduceat(np.add.reduceat(roi.astype(np.float32), rows, axis=0), cols, axis=1)
    means = sums / np.outer(tall, wide)[..., None]
    blocks = np.repeat(np.repeat(means, tall, axis=0), wide, axis=1)
    for axis in (0, 1, 0, 1):
        blocks = _box(blocks, axis)
    roi[:] = np.clip(np.rint(blocks), 0, 255).astype(np.uint8)


def _box(a: np.ndarray, axis: int) -> np.ndarray:
    """The mean of BLOCK values around each one along `axis` (edges repeated)."""
    half = BLOCK // 2
    pad = [(0, 0)] * a.ndim
    pad[axis] = (half, BLOCK - half)
    c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=np.float64)
    n = a.shape[axis]
    hi = np.take(c, np.arange(BLOCK, BLOCK + n), axis=axis)
    lo = np.take(c, np.arange(0, n), axis=axis)
    return ((hi - lo) / BLOCK).astype(np.float32)


BAND = 18  # pixels added under each frame for the watermark


def mark_text(agent: str, who: str, verb: str, anonymised: bool = False) -> str:
    """The watermark of every export and viewing, in the reviewer's language: whose recording
    (never on an anonymised extract), who `verb`-ed it ("viewed" or "exported") and when,
    and that it is for training."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    whose = _("ANONYMISED extract") if anonymised else agent
    line = {
        "viewed": _("{whose} - viewed by {who} {stamp} - training only"),
        "exported": _("{whose} - exported by {who} {stamp} - training only"),
    }[verb]
    return line.format(whose=whose, who=who, stamp=stamp)


def neutral_name() -> str:
    """An anonymised extract's file name: names neither the agent nor the recording."""
    return f"training-extract-{secrets.token_hex(4)}.mp4"


@dataclass(frozen=True, slots=True)
class Mark:
    """A watermark: its text, and what draws it on the band (the front end's: Qt's painter,
    ui/watermark.py; the vault has no font)."""

    text: str
    draw: Callable[[str, int], np.ndarray]  # (text, width) -> (BAND, width, 3) BGR uint8

    def band(self, width: int) -> np.ndarray:
        band = self.draw(self.text, width)
        if band.shape != (BAND, width, 3):
            raise ValueError("a watermark band of another size")
        return band


def export_recording(
    vault: Vault,
    rid: str,
    private: X25519PrivateKey,
    out: Path,
    mark: Mark,
    blurs: tuple[Rect, ...] = (),
    voice: bool = True,
) -> ExportSummary:
    """Re-encode a recording to `out` with `mark` burned into every frame (and written as the
    file's only metadata) and each of `blurs` (window coordinates) made unreadable. The call's
    voice, if it was recorded, goes with it as a stereo AAC track (left: the agent, right:
    the caller), unless `voice` is False (an anonymised extract: voices identify people)."""
    segments = open_segments(vault, rid, private)
    sound: list[VoicePacket] = []
    if voice:
        from agentapp.vault.attach import recording_voice

        sound = recording_voice(vault, rid, private, segments)
    width, height = _size(segments)
    tmp = out.with_name(f".{out.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    frames, first, last = 0, None, 0.0
    try:
        with av.open(str(tmp), mode="w", format="mp4") as dst:
            dst.metadata["comment"] = mark.text
            stream = dst.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = width, height + BAND, "yuv420p"
            stream.time_base = _MS
            stream.codec_context.time_base = _MS
            stream.options = {"preset": "veryfast", "crf": "23"}
            audio = _voice_stream(dst) if sound else None  # every stream before the first mux
            last_ms = -1
            for t, canvas in marked_frames(segments, mark, blurs):
                frame = av.VideoFrame.from_ndarray(canvas, format="bgr24")
                ms = max(round(t * 1000), last_ms + 1)
                frame.pts, frame.time_base = ms, _MS
                last_ms = ms
                for packet in stream.encode(frame):
                    dst.mux(packet)
                frames += 1
                first = t if first is None else first
                last = t
            for packet in stream.encode():
                dst.mux(packet)
            if audio is not None:
                call_ms = round(vault.get(rid).duration_s * 1000)  # off-hook to on-hook
                _mux_voice(dst, audio, sound, max(call_ms, last_ms + 1))
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportSummary(
        out, frames, first or 0.0, last, width, height + BAND, out.stat().st_size,
        cut_short=not segments[-1].call_end, voice=bool(sound),
    )  # fmt: skip


def _voice_stream(dst: av.container.OutputContainer) -> av.audio.stream.AudioStream:
    from agentapp.vault.voice import RATE

    stream = dst.add_stream("aac", rate=RATE)
    stream.layout = "stereo"
    stream.time_base = Fraction(1, RATE)
    return stream


def _mux_voice(dst: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
               sound: list[VoicePacket], until_ms: int) -> None:  # fmt: skip
    """The voice as stereo AAC, sample 0 at off-hook like the frames' times."""
    from agentapp.vault.voice import RATE, decode

    samples = decode(sound, until_ms).astype(np.float32) / 32768
    step = 1024
    for at in range(0, samples.shape[1], step):
        chunk = np.ascontiguousarray(samples[:, at : at + step])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = RATE, at, Fraction(1, RATE)
        for packet in stream.encode(frame):
            dst.mux(packet)
    for packet in stream.encode(None):
        dst.mux(packet)


def video_size(segments: list[Segment]) -> tuple[int, int]:
    """The recording's picture size (the largest of its segments), watermark band excluded."""
    return _size(segments)


def _size(segments: list[Segment]) -> tuple[int, int]:
    sized = [(s.width, s.height) for s in segments if s.mp4 or s.packets] or [(2, 2)]
    return max(w for w, _h in sized), max(h for _w, h in sized)


def marked_frames(
    segments: list[Segment],
    mark: Mark,
    blurs: tuple[Rect, ...] = (),
    size: tuple[int, int] | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Decoded frames of decrypted segments, one size (a resized window is padded; `size`:
    the whole recording's, when these are some of its segments), blurred, with the watermark
    band under them. Lazy: one frame in memory at a time (playback)."""
    width, height = size or _size(segments)
    band = mark.band(width)  # under the window, so the mark hides none of what it shows
    for seg in segments:
        for t, bgr in iter_frames(seg):
            canvas = np.zeros((height + BAND, width, 3), np.uint8)
            canvas[: bgr.shape[0], : bgr.shape[1]] = bgr
            for rect in blurs:
                blur(canvas[:height], rect)
            canvas[height:] = band
            yield t, canvas
