"""The softphone's own audio streams, through the PulseAudio protocol (which PipeWire's
pipewire-pulse also serves), with PulseAudio's own tools: `pactl` lists the streams, `parec`
reads one of them as raw PCM into a pipe held by this process (never a file, never a FIFO in a
shared folder).

- The caller's side is the softphone's *playback stream* (a sink input), read alone with
  `parec --monitor-stream=INDEX`: music or a video playing beside it on the same output is
  never read. The output's monitor (everything the speakers play) is never opened.
- The agent's side is the *input the softphone records from* (the source of its source
  output). A source that is the monitor of the output the softphone plays to is refused: it
  would hold everything that output plays.

Streams come and go with each call: they are looked for again at every call (and while it
lasts, until found). Threading: `find` and `open_tap` are called from the voice thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentapp.core.policy import SoftphoneRule

if TYPE_CHECKING:
    from agentapp.capture.voice import Found

F_SETPIPE_SZ = 1031  # fcntl (Linux)
RATE = 48000  # Hz, mono s16le: the server's own rate (capture/voice.py SOURCE_RATE)
TOOLS = ("pactl", "parec")  # Debian: pulseaudio-utils


@dataclass(frozen=True, slots=True)
class Streams:
    """What was found for one call: the caller's stream (a sink input index) and the agent's
    microphone (a source name); None where not found, with `why` in words."""

    far: int | None
    near: str | None
    why: str = ""


def available() -> str | None:
    """None when the tools are installed, else what is missing."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    return None if not missing else f"{', '.join(missing)} not installed (pulseaudio-utils)"


def _listed(kind: str, env: dict[str, str] | None) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["pactl", "-f", "json", "list", kind],
        capture_output=True,
        text=True,
        timeout=5,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise OSError(out.stderr.strip() or f"pactl list {kind} failed")
    try:
        items = json.loads(out.stdout or "[]")
    except ValueError as exc:
        raise OSError(f"pactl list {kind}: not JSON ({exc})") from None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _is_softphone(rule: SoftphoneRule, item: dict[str, Any]) -> bool:
    props = item.get("properties") or {}
    binary = str(props.get("application.process.binary", "")).lower()
    name = str(props.get("application.name", "")).lower()
    return (rule.binary is not None and binary == rule.binary.lower()) or (
        rule.application_name is not None and name == rule.application_name.lower()
    )


def find(rule: SoftphoneRule, env: dict[str, str] | None = None) -> Streams:
    """The softphone's streams now. Raises OSError when the sound server cannot be asked."""
    sinks = _listed("sinks", env)
    inputs = [i for i in _listed("sink-inputs", env) if _is_softphone(rule, i)]
    outputs = [o for o in _listed("source-outputs", env) if _is_softphone(rule, o)]
    sources = _listed("sources", env)
    far = max((int(i["index"]) for i in inputs), default=None)  # the newest stream
    # the outputs the softphone plays to: their monitors would hold everything they play
    played_to = {i.get("sink") for i in inputs}
    monitors = {str(s.get("monitor_source")) for s in sinks if s.get("index") in played_to}
    names = {s.get("index"): str(s.get("name")) for s in sources}
    near = refused = None
    for o in sorted(outputs, key=lambda o: -int(o["index"])):  # the newest stream first
        source = names.get(o.get("source"))
        if source in monitors:
            refused = f"the softphone records from {source}, the monitor of its own output"
        elif source is not None:
            near = source
            break
    why = []
    if far is None:
        why.append("the softphone plays no sound stream")
    if near is None:
        why.append(refused or "the softphone records from no microphone")
    return Streams(far, near, "; ".join(why))


def size_pipe(fd: int, size: int) -> None:
    """Make a pipe hold `size` bytes (Linux; elsewhere, and if refused, it stays as it is)."""
    try:
        import fcntl
    except ImportError:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, F_SETPIPE_SZ, size)


def open_tap(far: int | None = None, near: str | None = None,
             env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
    """A `parec` reading one stream as raw 48 kHz mono s16le on its stdout (a pipe)."""
    if (far is None) == (near is None):
        raise ValueError("one stream: the caller's (far) or the agent's microphone (near)")
    target = [f"--monitor-stream={far}"] if far is not None else [f"--device={near}"]
    command = ["parec", *target, "--raw", "--format=s16le", f"--rate={RATE}", "--channels=1",
               "--latency-msec=20", "--client-name=agentapp voice"]  # fmt: skip
    tap = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert tap.stdout is not None
    size_pipe(tap.stdout.fileno(), 1 << 19)  # room for 16 s: nothing lost while a codec loads
    return tap


class Softphone:
    """The softphone's sound for capture/voice.py: `find` its streams, `open` one channel."""

    def __init__(self, rule: SoftphoneRule, env: dict[str, str] | None = None) -> None:
        self._rule = rule
        self._env = env

    def find(self) -> Streams:
        return find(self._rule, self._env)

    def open(self, channel: int, found: Found) -> subprocess.Popen[bytes]:
        from agentapp.core.videopack import AGENT

        if channel == AGENT:
            return open_tap(near=found.near, env=self._env)
        return open_tap(far=found.far, env=self._env)


class Speaker:
    """The player's sound out: 16 kHz stereo s16le into `pacat`, through a pipe kept at 4 KB
    (about 60 ms), so what is written plays at once and a seek is heard within ~0.1 s.
    `write` never blocks: it returns how many bytes were taken. Threading: one thread."""

    def __init__(self, rate: int = 16000, env: dict[str, str] | None = None) -> None:
        self.rate = rate
        command = ["pacat", "--playback", "--raw", "--format=s16le", f"--rate={rate}",
                   "--channels=2", "--latency-msec=30",
                   "--client-name=agentapp player"]  # fmt: skip
        self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, env=env)  # fmt: skip
        assert self._proc.stdin is not None
        self._fd = self._proc.stdin.fileno()
        size_pipe(self._fd, 4096)
        os.set_blocking(self._fd, False)

    def write(self, pcm: bytes) -> int:
        try:
            return os.write(self._fd, pcm)
        except BlockingIOError:
            return 0
        except OSError:  # pacat is gone (no sound server any more): the picture goes on
            return len(pcm)

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()
        if self._proc.stdin is not None:
            self._proc.stdin.close()


def speaker() -> Speaker | None:
    """The sound out, if this desk has pacat (pulseaudio-utils); None: the player is silent."""
    if shutil.which("pacat") is None:
        return None
    try:
        return Speaker()
    except OSError:
        return None
