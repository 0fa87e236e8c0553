"""Where the capture pipeline's fragments go: sealed, then appended to their segment's file.

Threading: the capture thread only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from agentapp.vault.sealing import CALL_END, SegmentSealer, record_tag
from agentapp.vault.store import RecordingWriter


@dataclass(slots=True)
class _Segment:
    sealer: SegmentSealer
    tags: list[bytes] = field(default_factory=list)  # each record's tag, in order


class SealingSink:
    """Seals each fragment for the recording public key as it comes (capture/pipeline.py
    FragmentSink). The first fragment of a segment creates its file; the header chains it
    to the previous segment's last record."""

    def __init__(self, writer: RecordingWriter, public_key: X25519PublicKey) -> None:
        self._writer = writer
        self._public_key = public_key
        self._segments: dict[int, _Segment] = {}

    def append(self, seq: int, index: int, payload: bytes, frames: int, call_end: bool) -> None:
        seg = self._segments.get(seq)
        if seg is None:
            if index != 0 or (seq > 1 and seq - 1 not in self._segments):
                raise ValueError(f"segment {seq} must start with its fragment 0")
            prev = self._segments[seq - 1].tags[-1].hex() if seq > 1 else ""
            ctx = {"rec": self._writer.meta.id, "seq": seq, "prev": prev}
            seg = _Segment(SegmentSealer(self._public_key, ctx))
            self._writer.new_segment(seq, seg.sealer.header)
            self._segments[seq] = seg
        if index != len(seg.tags):
            raise ValueError(f"fragment {index} of segment {seq} is out of order")
        prev_tag = seg.tags[-1] if seg.tags else b""
        record = seg.sealer.record(index, payload, CALL_END if call_end else 0, prev_tag)
        self._writer.append(seq, record, frames)
        seg.tags.append(record_tag(record))

    def retract(self, seq: int, index: int) -> None:
        """Fragment `index` of segment `seq` and everything after it are taken back (a late
        on-hook): later segments are removed, this one is cut before that fragment."""
        for later in [s for s in self._segments if s > seq]:
            del self._segments[later]
        del self._segments[seq].tags[index:]
        self._writer.cut(seq, index)
