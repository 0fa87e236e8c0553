"""Where the capture pipeline's segments go: sealed, then stored. Runs on the capture thread."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from agentapp.vault.sealing import seal
from agentapp.vault.store import RecordingWriter


class SealingSink:
    def __init__(self, writer: RecordingWriter, public_key: X25519PublicKey) -> None:
        self._writer = writer
        self._public_key = public_key

    def write(self, mp4: bytes, frames: int) -> None:
        ctx = {"rec": self._writer.meta.id, "seq": self._writer.meta.segments + 1}
        self._writer.add_segment(seal(mp4, self._public_key, ctx), frames)
