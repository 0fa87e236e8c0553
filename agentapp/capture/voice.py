"""The call's voice, recorded on the desk from the softphone's own streams.

Two channels: the agent (the microphone the softphone records from) and the caller (the
softphone's playback). Each is read as raw PCM from a pipe (platform/pulse.py), placed on the
call's timeline (milliseconds since off-hook, the frames' clock), and encoded to Opus in
memory at once: 60 ms packets that the capture thread seals with the frames
(capture/fragments.py). No sample is ever written to a disk, not even a temporary file.

- **One clock.** A chunk's place is where the monotonic clock says it ends, less the pipe's
  latency. The sound card's clock drifts from it: samples more than DRIFT_S ahead are dropped
  (the newest); samples more than DRIFT_S short are first taken as late (a loaded machine
  delivers them in a burst a moment later, and they follow on without a hole), and only when
  the shortfall lasts LATE_S, or exceeds it, as lost: silence goes in where it began. So the
  voice stays within DRIFT_S of the frames, whatever the device does.
- **The look-behind.** Samples wait out the pipeline's look-behind before they are encoded,
  as frames do. A silence that begins (a pause) silences what waits from the look-behind
  before it, from the packet that moment falls in: the sound kept before a pause ends where
  the picture does, and the shortfall's silence can still go where it began.
- **Both sides or none.** A voice is kept only when the softphone's playback and its own
  microphone are both found (at once): one side alone is never read, so what the desk says
  ("no voice: …") is what it keeps.
- **Silenced, not skipped.** While the `Silence` the engine holds is on (secure pause, a
  sensitive window: R10), every sample read is replaced by zero before it reaches the
  encoder: a card number read aloud is never encoded, and the timeline goes on. A chunk read
  across any change of it is silenced whole, so the ~100 ms a read spans never lets a muted
  moment through (a little before and after a pause is silent too).
- **Found again every call.** The streams are looked for when the call starts and every
  LOOK_S while a channel has none (softphones open their streams when the call is answered,
  and may reopen them on hold/resume). Never a fallback to the whole output.

Threading: one thread ("voice") reads and encodes; `take` is called by the capture thread;
`stop` and `state` from any thread.
"""

from __future__ import annotations

import fractions
import logging
import os
import select
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from agentapp.core.clock import Clock
from agentapp.core.videopack import AGENT, CALLER, VoicePacket

log = logging.getLogger(__name__)

SOURCE_RATE = 48000  # Hz: what the streams are read at (the sound server's own rate: its
# resampler to 16 kHz took up to 1.5 s to deliver a stream's first samples, measured)
RATE = 16000  # Hz, what is encoded: wideband speech, a third of the samples of 48 kHz
DOWN = SOURCE_RATE // RATE
FRAME = 960  # samples: 60 ms, Opus's longest frame (a third of the calls into the codec)
READ_S = 0.1  # the pipes are read this often: each read ends where the clock says
LATENCY_S = 0.02  # parec's requested latency: a chunk read now ended this long ago
DRIFT_S = 0.04  # the most the voice may stray from the frames' clock before it is corrected
LOOK_S = 0.5
LATE_S = 0.4  # samples short of the clock this long are lost, not late: silence in their place
# (under the look-behind, less a read: the silence still goes in before the samples are encoded)
BITRATE = 16000  # bit/s per channel: wideband speech (two channels: about 14 MB an hour)


class Found(Protocol):
    @property
    def far(self) -> int | None: ...  # the caller's stream

    @property
    def near(self) -> str | None: ...  # the agent's microphone

    @property
    def why(self) -> str: ...  # why one is missing


class Streams(Protocol):
    """Where the softphone's sound is (platform/pulse.py `Softphone`)."""

    def find(self) -> Found:
        """Raises OSError when the sound server cannot be asked."""

    def open(self, channel: int, found: Found) -> subprocess.Popen[bytes]:
        """A process whose stdout gives the channel's raw SOURCE_RATE mono s16le samples."""


def _drain(fd: int) -> tuple[bytes, bool]:
    """Everything the pipe holds now (all of it: a chunk is placed as ending now), and
    whether its writer is gone."""
    parts: list[bytes] = []
    while True:
        try:
            part = os.read(fd, 1 << 19)
        except BlockingIOError:
            return b"".join(parts), False
        if not part:
            return b"".join(parts), True
        parts.append(part)


class Silence:
    """Whether the voice must be silent, how many times that changed, and when it last
    turned on (on the call's clock). Thread-safe: the engine sets it (any thread), the voice
    thread reads it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._on = False
        self._changes = 0
        self._on_at: float | None = None

    def set(self, on: bool, at: float | None = None) -> None:
        with self._lock:
            if on != self._on:
                self._on, self._changes = on, self._changes + 1
                if on:
                    self._on_at = at

    def state(self) -> tuple[bool, int, float | None]:
        with self._lock:
            return self._on, self._changes, self._on_at


@dataclass(slots=True)
class _Channel:
    number: int
    encoder: Any
    tap: subprocess.Popen[bytes] | None = None
    pending: bytearray = field(default_factory=bytearray)  # bytes read, at SOURCE_RATE
    rest: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))  # at RATE
    pos: int | None = None  # sample index (since off-hook) of the next sample
    changes: int = 0  # the Silence's changes when this channel last read
    short_since: tuple[int, float] | None = None  # (position, when) a shortfall was first seen


def _encoder() -> Any:
    import av

    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate = RATE
    ctx.layout = "mono"
    ctx.format = "s16"
    ctx.bit_rate = BITRATE
    ctx.time_base = fractions.Fraction(1, RATE)
    # speech, 60 ms frames, half of libopus's search effort: a third of its CPU at its default
    ctx.options = {"frame_duration": "60", "application": "voip", "compression_level": "5"}
    ctx.open()
    return ctx


def _frame(samples: np.ndarray, pts: int) -> Any:
    """One FRAME of mono samples at sample `pts` of the call's timeline, for the encoder."""
    import av

    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate, frame.pts = RATE, pts
    frame.time_base = fractions.Fraction(1, RATE)
    return frame


def _voice(packets: list[Any], channel: int) -> list[VoicePacket]:
    """The encoder's packets as the fragments keep them (ms on the call's timeline)."""
    return [VoicePacket(max(0, p.pts * 1000 // RATE), channel, bytes(p))
            for p in packets if p.pts is not None]  # fmt: skip


def opus_packets(samples: np.ndarray, channel: int, first: int = 0) -> list[VoicePacket]:
    """Mono RATE samples (int16), the first at sample `first` of the call's timeline, as the
    recorder would encode them (a recording made elsewhere: vault/attach.py)."""
    encoder, packets = _encoder(), []
    for at in range(0, len(samples), FRAME):
        chunk = np.zeros(FRAME, np.int16)
        part = samples[at : at + FRAME]
        chunk[: len(part)] = part
        packets += encoder.encode(_frame(chunk, first + at))
    packets += encoder.encode(None)
    return _voice(packets, channel)


class VoiceRecorder:
    def __init__(
        self,
        streams: Streams,
        *,
        clock: Clock,
        started_at: float,
        silence: Silence,
        on_state: Callable[[str], None] = lambda state: None,
        lookbehind_s: float = 0.5,
    ) -> None:
        self._streams = streams
        self._clock = clock
        self._started_at = started_at
        self._lookbehind = lookbehind_s
        self._both = False  # both sides were found together once: the voice is kept
        self._silence = silence
        self._on_state = on_state
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._out: list[VoicePacket] = []
        self._state = "looking for the softphone's sound"
        self._shown: dict[str, float] = {}  # each state said, and for how long (s)
        self._since = time.monotonic()
        self._channels: list[_Channel] = []
        self._thread = threading.Thread(target=self._run, name="voice", daemon=True)

    # ------------------------------------------------------------------ any thread
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop reading now (the call ended or was erased); the packets encoded so far stay
        to be taken."""
        self._stop.set()
        self._thread.join(timeout)

    @property
    def state(self) -> str:
        """ "recording", or why there is no voice ("no voice: …")."""
        with self._lock:
            return self._state

    @property
    def summary(self) -> str:
        """What the call's recording says of its voice: "recording" once both sides were
        kept, else the reason said for longest (the streams a softphone closes as the call
        ends must not rename why it had none)."""
        with self._lock:
            if self._both:
                return "recording"
            shown = dict(self._shown)
            shown[self._state] = shown.get(self._state, 0.0) + time.monotonic() - self._since
        reasons = {s: t for s, t in shown.items() if s.startswith("no voice")}
        return max(reasons, key=lambda s: reasons[s]) if reasons else self._state

    def take(self) -> list[VoicePacket]:
        """The packets encoded since the last call (capture thread)."""
        with self._lock:
            out, self._out = self._out, []
        return out

    # ------------------------------------------------------------------ voice thread
    def _say(self, state: str) -> None:
        with self._lock:
            changed = state != self._state
            if changed:
                now = time.monotonic()
                self._shown[self._state] = self._shown.get(self._state, 0.0) + now - self._since
                self._state, self._since = state, now
        if changed:
            self._on_state(state)

    def _run(self) -> None:
        # the streams first: the pipes hold what they say while the codec loads (the first
        # call after start imports PyAV: ~1 s), so the voice starts with the call
        # (a pause of an earlier call changed the Silence too: not a change of this one)
        seen = self._silence.state()[1]
        self._channels = [_Channel(AGENT, None, changes=seen), _Channel(CALLER, None, changes=seen)]
        next_look = time.monotonic() + LOOK_S
        try:
            self._look()
            for c in self._channels:
                c.encoder = _encoder()
        except Exception as exc:  # no Opus encoder: the video goes on without voice
            log.error("no voice: %s", exc)
            self._say(f"no voice: Opus is unavailable ({exc})")
            for c in self._channels:
                self._close(c)
            return
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_look and any(c.tap is None for c in self._channels):
                    self._look()
                    next_look = now + LOOK_S
                self._read(timeout=READ_S)
        except Exception as exc:
            log.exception("voice capture failed")
            self._say(f"no voice: capture failed ({type(exc).__name__})")
        finally:
            for c in self._channels:
                self._flush(c)
                self._close(c)

    def _look(self) -> None:
        try:
            found = self._streams.find()
        except OSError as exc:
            self._say(f"no voice: the sound server cannot be asked ({exc})")
            return
        # one side alone is never kept: until both are found at once, neither is read (a
        # stream that goes and comes back later, on hold, is read again on its own)
        self._both = self._both or (found.near is not None and found.far is not None)
        if not self._both:
            self._say(f"no voice: {found.why} (neither side is kept)")
            return
        for c in self._channels:
            wanted = found.near if c.number == AGENT else found.far
            if c.tap is None and wanted is not None:
                c.tap = self._streams.open(c.number, found)
                os.set_blocking(c.tap.stdout.fileno(), False)  # type: ignore[union-attr]
        self._say("recording")

    def _read(self, timeout: float) -> None:
        taps = {c.tap.stdout.fileno(): c for c in self._channels if c.tap and c.tap.stdout}
        if not taps:
            self._stop.wait(timeout)
            return
        if self._stop.wait(timeout):  # let the pipes fill: one read per channel per READ_S
            return
        ready, _w, _e = select.select(list(taps), [], [], 0)
        now = self._clock.now()
        for fd in ready:
            c = taps[fd]
            data, gone = _drain(fd)
            if gone:  # the stream is gone (hold, or the softphone closed it)
                self._close(c)
                continue
            c.pending += data
            usable = len(c.pending) // (2 * DOWN) * (2 * DOWN)
            wide = np.frombuffer(bytes(c.pending[:usable]), dtype="<i2")
            del c.pending[:usable]
            # SOURCE_RATE to RATE: the mean of each DOWN samples (a low-pass good for speech)
            samples = wide.reshape(-1, DOWN).mean(axis=1).round().astype(np.int16)
            self._place(c, samples, now)

    def _place(self, c: _Channel, samples: np.ndarray, now: float) -> None:
        """`c.pos` is where `c.rest` (read, not yet encoded) starts; `samples` follow it."""
        ends = round((now - self._started_at - LATENCY_S) * RATE)
        if c.pos is None:
            c.pos = max(0, ends - len(samples))
        drift = ends - (c.pos + len(c.rest) + len(samples))
        if drift < -DRIFT_S * RATE:  # ahead of the clock: the newest would land in the future
            samples = samples[: max(0, len(samples) + drift)]
        elif drift <= DRIFT_S * RATE:
            c.short_since = None
        elif c.short_since is None:  # behind: late, or lost? A late delivery comes at once
            c.short_since = (c.pos + len(c.rest), now)
        elif now - c.short_since[1] >= LATE_S or drift > LATE_S * RATE:
            # lost: silence where the shortfall began (the rest has not been encoded yet)
            at = max(0, c.short_since[0] - c.pos)
            c.rest = np.concatenate([c.rest[:at], np.zeros(drift, np.int16), c.rest[at:]])
            c.short_since = None
        on, changes, on_at = self._silence.state()
        if on or changes != c.changes:  # silent now, or at some moment since the last read
            samples = np.zeros_like(samples)
            if on_at is not None:  # and what was read in the look-behind before it
                cut = round((on_at - self._lookbehind - self._started_at) * RATE) - c.pos
                # from the packet it falls in: a packet cut in its middle rings on past the cut
                c.rest[max(0, cut - cut % FRAME) :] = 0
        c.changes = changes
        self._encode(c, samples, now)

    def _encode(self, c: _Channel, samples: np.ndarray, now: float | None = None) -> None:
        """Encode what is older than the look-behind (`now` None: everything, the end)."""
        assert c.pos is not None
        samples = np.concatenate([c.rest, samples])
        packets = []
        ripe = len(samples)
        if now is not None:
            ripe = round((now - self._lookbehind - self._started_at) * RATE) - c.pos
        whole = max(0, min(ripe, len(samples)))
        whole -= whole % FRAME
        for at in range(0, whole, FRAME):
            packets += c.encoder.encode(_frame(samples[at : at + FRAME], c.pos))
            c.pos += FRAME
        c.rest = samples[whole:]  # the tail waits for the next chunk
        self._keep(c, packets)

    def _keep(self, c: _Channel, packets: list[Any]) -> None:
        out = _voice(packets, c.number)
        if out:
            with self._lock:
                self._out += out

    def _flush(self, c: _Channel) -> None:
        if c.encoder is None:
            return
        if c.pos is not None and len(c.rest):
            self._encode(c, c.rest[:0])  # what waited out its look-behind, to the call's end
        try:
            self._keep(c, list(c.encoder.encode(None)))
        except Exception:  # an encoder that never took a frame has nothing to flush
            pass

    def _close(self, c: _Channel) -> None:
        if c.tap is not None:
            c.tap.kill()
            c.tap.wait()
            if c.tap.stdout is not None:
                c.tap.stdout.close()
            c.tap = None
            c.pending.clear()
            c.rest = c.rest[:0]
