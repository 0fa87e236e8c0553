"""A call recording the site's PBX already makes (Asterisk MixMonitor, FreeSWITCH
record_session, a cloud PBX's download), sealed into an agentapp recording as its voice, so
the trainer plays voice and screen together under the recording's own rules: the same key,
deadline, access and trail.

The file is decoded in memory, placed on the recording's timeline by its wall-clock start,
trimmed to the call (off-hook to on-hook), encoded to Opus as the desk's voice is
(capture/voice.py `opus_packets`) and sealed for the recording public key into one file next
to the segments, bound to the recording's id. No plaintext copy is written; the PBX's own file
is left where it is (`--delete-source` removes it once sealed).

A stereo file is taken as the agent (left) and the caller (right), as MixMonitor's `r()`/`t()`
pair mixed to stereo gives; a mono file, the usual mix of both, goes to the caller's channel.

Threading: plain functions, on the caller's thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from agentapp.capture.voice import RATE, opus_packets
from agentapp.core.videopack import AGENT, CALLER, Segment, VoicePacket, pack, unpack
from agentapp.i18n import _
from agentapp.vault.sealing import CALL_END, Opener, SealError, SegmentSealer, open_segment
from agentapp.vault.store import VOICE_FILE, Vault, VaultError, write_atomic

ATTACHED = "attached"  # RecordingMeta.voice once a PBX recording is sealed in


@dataclass(frozen=True, slots=True)
class Attached:
    seconds: float  # how much of the file fell inside the call
    offset_s: float  # where the file's first sample is on the recording's timeline
    channels: int


def _context(rid: str) -> dict[str, object]:
    return {"rec": rid, "voice": ATTACHED}


def _samples(source: Path) -> tuple[np.ndarray, int]:
    """The file's audio at RATE as int16, shape (channels, n)."""
    try:
        with av.open(str(source)) as container:
            if not container.streams.audio:
                raise VaultError(_("{name} holds no sound").format(name=source.name))
            stream = container.streams.audio[0]
            channels = min(2, stream.codec_context.channels or 1)
            layout = "stereo" if channels == 2 else "mono"
            resampler = av.AudioResampler(format="s16p", layout=layout, rate=RATE)
            parts = []
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray())
            for out in resampler.resample(None):
                parts.append(out.to_ndarray())
    except av.FFmpegError as exc:
        raise VaultError(_("{name} cannot be read as sound: {exc}").format(
            name=source.name, exc=exc)) from None  # fmt: skip
    if not parts:
        raise VaultError(_("{name} holds no sound").format(name=source.name))
    return np.concatenate(parts, axis=1).astype(np.int16), channels


def attach_voice(vault: Vault, rid: str, source: Path, starts_at: float,
                 public_key: X25519PublicKey) -> Attached:  # fmt: skip
    """Seal `source` (its first sample at wall-clock `starts_at`) into recording `rid` as its
    voice. Raises VaultError (nothing of the call in the file, unreadable file, …)."""
    meta = vault.get(rid)
    audio, channels = _samples(source)
    offset = starts_at - meta.started_at
    first = round(offset * RATE)  # the file's first sample on the recording's timeline
    end = round(meta.duration_s * RATE)
    lo, hi = max(0, -first), min(audio.shape[1], end - first)
    if hi <= lo:
        raise VaultError(_("{name} does not overlap the call (it starts {offset:+.1f} s from "
                           "the off-hook, the call lasts {duration:.1f} s)").format(
            name=source.name, offset=offset, duration=meta.duration_s))  # fmt: skip
    start = first + lo
    tracks = ((AGENT, audio[0]), (CALLER, audio[1])) if channels == 2 else ((CALLER, audio[0]),)
    packets: list[VoicePacket] = []
    for channel, samples in tracks:
        packets += opus_packets(samples[lo:hi], channel, start)
    sealer = SegmentSealer(public_key, _context(rid))
    record = sealer.record(0, pack(0, 0, [], packets), CALL_END, b"")
    write_atomic(vault.folder(rid) / VOICE_FILE, sealer.header + record)
    meta.voice = ATTACHED
    vault.save_meta(meta)
    return Attached((hi - lo) / RATE, offset, channels)


def attached_voice(vault: Vault, rid: str, private: Opener) -> list[VoicePacket]:
    """The PBX voice sealed into `rid` ([] if none). Raises VaultError if it was tampered."""
    path = vault.folder(rid) / VOICE_FILE
    if not path.exists():
        return []
    try:
        seg = open_segment(path.read_bytes(), private)
        if seg.context != _context(rid):
            raise VaultError(_("{name} does not belong to {rid} (tampered?)").format(
                name=VOICE_FILE, rid=rid))  # fmt: skip
        return [v for payload in seg.payloads for v in unpack(payload).voice]
    except (SealError, ValueError) as exc:
        raise VaultError(f"{VOICE_FILE}: {exc}") from None


def recording_voice(vault: Vault, rid: str, private: Opener,
                    segments: list[Segment]) -> list[VoicePacket]:  # fmt: skip
    """All of a recording's voice: recorded on the desk (in its segments) and attached."""
    return [v for s in segments for v in s.voice] + attached_voice(vault, rid, private)
