"""A private PulseAudio server for the tests that need real sound: its own runtime folder,
null sinks `spk` and `micsink`, an anonymous unix socket, stopped by PID; and real streams
played into it (paplay) or recorded from it (parec)."""

from __future__ import annotations

import math
import os
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agentapp.demo.virtual_sound import VirtualSound
from tests.integration.conftest import need

RATE = 48000


@dataclass
class Pulse:
    env: dict[str, str]  # PULSE_SERVER for the agent and the players
    folder: Path
    procs: list[subprocess.Popen[bytes]]

    def play(self, hz: float, *, name: str, device: str = "spk") -> None:
        """Play a tone for a minute as application `name` (a real playback stream)."""
        path = self.folder / f"tone-{int(hz)}.wav"
        if not path.exists():
            tone(path, hz, 60)
        self.procs.append(subprocess.Popen(
            ["paplay", f"--client-name={name}", f"--device={device}", "--latency-msec=20",
             str(path)], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip

    def listen(self, *, name: str, device: str = "micsink.monitor") -> None:
        """Record from `device` as application `name` (the softphone's microphone stream)."""
        self.procs.append(subprocess.Popen(
            ["parec", f"--client-name={name}", f"--device={device}"], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip

    def feed(self, hz: float, *, name: str, device: str = "spk") -> Feed:
        """A playback stream as application `name` whose tone can be changed as it plays."""
        f = Feed(self.env, hz, name, device)
        self.procs.append(f.proc)
        return f

    def stop_streams(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()
        self.procs.clear()


class Feed:
    """pacat playing 20 ms chunks of a tone in real time (a 4 KB pipe: about 40 ms queued),
    from a thread; `hz` may be changed at any moment (a caller who starts reading digits)."""

    def __init__(self, env: dict[str, str], hz: float, name: str, device: str) -> None:
        import fcntl

        self.hz = hz
        self.proc = subprocess.Popen(
            ["pacat", "--playback", "--raw", "--format=s16le", f"--rate={RATE}", "--channels=1",
             "--latency-msec=20", f"--client-name={name}", f"--device={device}"],
            stdin=subprocess.PIPE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert self.proc.stdin is not None
        fcntl.fcntl(self.proc.stdin.fileno(), 1031, 4096)  # F_SETPIPE_SZ
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        chunk, phase, start, n = RATE // 50, 0.0, time.monotonic(), 0
        while self.proc.poll() is None:
            t = np.arange(chunk)
            samples = np.sin(phase + 2 * math.pi * self.hz * t / RATE) * 8000
            phase = (phase + 2 * math.pi * self.hz * chunk / RATE) % (2 * math.pi)
            try:
                self.proc.stdin.write(samples.astype("<i2").tobytes())  # type: ignore[union-attr]
                self.proc.stdin.flush()  # type: ignore[union-attr]
            except (BrokenPipeError, ValueError):
                return
            n += 1
            time.sleep(max(0.0, start + n * 0.02 - time.monotonic()))


def tone(path: Path, hz: float, seconds: int, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        n = np.arange(rate * seconds)
        w.writeframes((np.sin(2 * math.pi * hz * n / rate) * 8000).astype("<i2").tobytes())


@contextmanager
def pulse_server(tmp_path: Path) -> Iterator[Pulse]:
    need(not VirtualSound.missing(), "pulseaudio and pulseaudio-utils are not installed")
    server = VirtualSound().start()
    try:
        yield Pulse(dict(os.environ, **server.env), tmp_path, [])
    finally:
        server.stop()
