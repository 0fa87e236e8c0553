"""The plaintext of one sealed fragment: a run of encoded video packets and their times.

A segment of a recording is a run of fragments (about 1.5 s each, see capture/pipeline.py),
each sealed on its own as soon as it is complete, so that a crash loses at most the fragment
in progress. A fragment holds the frame size and the packets' bytes as the encoder made
them (H.264 Annex B, the parameter sets inline in each key frame), with each packet's time
in milliseconds since off-hook. It is not a container: export and playback decode the
packets directly, and write MP4 only for the file a person asked for.

A *repeat* is a packet with no bytes: the picture before it, shown again at its time. The
agent writes a static window's last tick as one (before a gap, a fragment's end, the call's
end), so the video's time runs exactly to it; encoding the same picture again would cost
as much CPU as a new one and a few hundred bytes.

Layout (big-endian): b"VP1" | u16 width | u16 height | u32 count | count x
(u32 pts_ms | u8 flags (1: key frame, 2: repeat) | u32 length | bytes).

With the call's voice the magic is b"VP2" and the video packets are followed by
u32 voice_count | voice_count x (u32 pts_ms | u8 channel (0: agent, 1: caller) | u16 length |
bytes): Opus packets of 60 ms on the same clock as the frames (ms since off-hook), so the two
tracks are sealed, cut at a late on-hook and erased together.

Pure: no codec, no I/O. Threading: plain functions.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_MAGIC = b"VP1"
_MAGIC_VOICE = b"VP2"
_HEAD = struct.Struct(">HHI")
_PACKET = struct.Struct(">IBI")
_COUNT = struct.Struct(">I")
_VOICE = struct.Struct(">IBH")
AGENT, CALLER = 0, 1  # the voice channels
_KEY = 1
_REPEAT = 2


@dataclass(frozen=True, slots=True)
class Packet:
    pts_ms: int
    key: bool
    data: bytes
    repeat: bool = False  # the previous picture again (no bytes)

    @classmethod
    def repeat_at(cls, pts_ms: int) -> Packet:
        return cls(pts_ms, False, b"", repeat=True)


@dataclass(frozen=True, slots=True)
class VoicePacket:
    pts_ms: int
    channel: int  # AGENT or CALLER
    data: bytes  # one Opus packet (60 ms)


@dataclass(frozen=True, slots=True)
class Fragment:
    width: int
    height: int
    packets: tuple[Packet, ...]
    voice: tuple[VoicePacket, ...] = ()


def pack(
    width: int,
    height: int,
    packets: list[Packet] | tuple[Packet, ...],
    voice: list[VoicePacket] | tuple[VoicePacket, ...] = (),
) -> bytes:
    parts = [_MAGIC_VOICE if voice else _MAGIC, _HEAD.pack(width, height, len(packets))]
    for p in packets:
        flags = (_KEY if p.key else 0) | (_REPEAT if p.repeat else 0)
        parts.append(_PACKET.pack(p.pts_ms, flags, len(p.data)))
        parts.append(p.data)
    if voice:
        parts.append(_COUNT.pack(len(voice)))
        for v in voice:
            parts.append(_VOICE.pack(v.pts_ms, v.channel, len(v.data)))
            parts.append(v.data)
    return b"".join(parts)


def unpack(blob: bytes) -> Fragment:
    """Raises ValueError on anything but a whole, well-formed fragment."""
    has_voice = blob.startswith(_MAGIC_VOICE)
    if not (has_voice or blob.startswith(_MAGIC)) or len(blob) < len(_MAGIC) + _HEAD.size:
        raise ValueError("not a video fragment")
    width, height, count = _HEAD.unpack_from(blob, len(_MAGIC))
    at = len(_MAGIC) + _HEAD.size
    packets = []
    for _i in range(count):
        if at + _PACKET.size > len(blob):
            raise ValueError("video fragment is truncated")
        pts, flags, size = _PACKET.unpack_from(blob, at)
        at += _PACKET.size
        if at + size > len(blob):
            raise ValueError("video fragment is truncated")
        repeat = bool(flags & _REPEAT)
        if repeat and (size or flags & _KEY):
            raise ValueError("video fragment has a malformed repeat")
        packets.append(Packet(pts, bool(flags & _KEY), blob[at : at + size], repeat))
        at += size
    voice: list[VoicePacket] = []
    if has_voice:
        if at + _COUNT.size > len(blob):
            raise ValueError("video fragment is truncated")
        (count,) = _COUNT.unpack_from(blob, at)
        at += _COUNT.size
        for _i in range(count):
            if at + _VOICE.size > len(blob):
                raise ValueError("video fragment is truncated")
            pts, channel, size = _VOICE.unpack_from(blob, at)
            at += _VOICE.size
            if channel not in (AGENT, CALLER):
                raise ValueError("video fragment has a malformed voice packet")
            if at + size > len(blob):
                raise ValueError("video fragment is truncated")
            voice.append(VoicePacket(pts, channel, blob[at : at + size]))
            at += size
    if at != len(blob):
        raise ValueError("video fragment has trailing bytes")
    return Fragment(width, height, tuple(packets), tuple(voice))


@dataclass(frozen=True, slots=True)
class Segment:
    """One decrypted segment, in memory: its packets and frame size (an older recording's
    segment is a whole MP4 instead). `call_end`: the recording's end is sealed in it."""

    width: int
    height: int
    packets: tuple[Packet, ...] = ()
    mp4: bytes = b""
    call_end: bool = True
    voice: tuple[VoicePacket, ...] = ()  # the call's voice sealed with these frames
