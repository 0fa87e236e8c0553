"""The call's voice back from its sealed Opus packets (capture/voice.py made them): one
array per channel on the recording's timeline, silence wherever nothing was written (before
the streams were found, dropouts, spans when the softphone had no stream). For export and
playback, in memory only.

Threading: plain functions.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from agentapp.core.videopack import AGENT, CALLER, VoicePacket

RATE = 48000


def decode(
    packets: Iterable[VoicePacket], until_ms: int | None = None, rate: int = RATE
) -> np.ndarray:
    """int16 samples at `rate`, shape (2, n): row 0 the agent, row 1 the caller, sample 0 at
    off-hook. `until_ms`: the length (the video's end); None: up to the last packet. (The
    player takes 16 kHz, the recorded rate: a third of the memory of 48 kHz.)"""
    import av

    by_channel: dict[int, list[VoicePacket]] = {AGENT: [], CALLER: []}
    for p in packets:
        by_channel[p.channel].append(p)
    last = max((p.pts_ms + 60 for ps in by_channel.values() for p in ps), default=0)
    n = (until_ms if until_ms is not None else last) * rate // 1000
    out = np.zeros((2, n), dtype=np.int16)
    for channel, ps in by_channel.items():
        if not ps:
            continue
        decoder = av.CodecContext.create("libopus", "r")
        decoder.sample_rate = rate
        decoder.layout = "mono"
        # libopus through PyAV gives 48 kHz whatever rate is asked: resampled here, else a
        # 16 kHz player would play the voice three times too slow and too low
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        for p in sorted(ps, key=lambda p: p.pts_ms):
            at = p.pts_ms * rate // 1000
            for frame in decoder.decode(av.Packet(p.data)):
                for part in resampler.resample(frame):
                    samples = part.to_ndarray().reshape(-1).astype(np.int16)
                    end = min(n, at + len(samples))
                    if at < end:
                        out[channel, at:end] = samples[: end - at]
                    at += len(samples)
    return out
