"""What recording the call's voice costs: CPU per recorded minute and bytes per hour for two
Opus channels, against ffmpeg encoding the same two streams to Opus in the same run.

    bash scripts/setup.sh --test   # pulseaudio, pulseaudio-utils; ffmpeg: apt-get install ffmpeg
    .venv/bin/python -m bench.bench_voice --seconds 60

It starts a private PulseAudio (null sinks, anonymous socket in a temporary folder), plays a
"softphone" (a playback stream and a record stream under one application name, fed tones),
and records it with agentapp's VoiceRecorder (two `parec` pipes, two Opus encoders), then
with ffmpeg (`parec | ffmpeg -c:a libopus -b:a 24k`, one per channel) for as long. CPU is this
process's (the recorder thread) plus its `parec` children, and ffmpeg's plus its `parec`s.
Everything started here is stopped here, by PID.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

NAME = "bench-softphone"


def _tone(path: Path, hz: float, seconds: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(48000)
        n = np.arange(48000 * seconds)
        w.writeframes((np.sin(2 * math.pi * hz * n / 48000) * 8000).astype("<i2").tobytes())


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0)
    a = p.parse_args(argv)
    for tool in ("pulseaudio", "parec", "paplay", "ffmpeg"):
        if shutil.which(tool) is None:
            print(f"bench_voice: {tool} is not installed", file=sys.stderr)
            return 2
    from agentapp.capture.voice import BITRATE, RATE, Silence, VoiceRecorder
    from agentapp.core.clock import SystemClock
    from agentapp.core.policy import SoftphoneRule
    from agentapp.demo.virtual_sound import SoundServerError, VirtualSound
    from agentapp.platform.pulse import Softphone, find

    try:
        server = VirtualSound().start()
    except SoundServerError as exc:
        print(f"bench_voice: {exc}", file=sys.stderr)
        return 1
    run = Path(tempfile.mkdtemp(prefix="agentapp-bench-tones-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        os.environ.update(server.env)
        seconds = int(a.seconds * 2 + 30)
        for hz, name, device in ((440, NAME, "spk"), (1000, "mic-feed", "micsink")):
            wav = run / f"{hz}.wav"
            _tone(wav, hz, seconds)
            procs.append(subprocess.Popen(
                ["paplay", f"--client-name={name}", f"--device={device}", str(wav)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        procs.append(subprocess.Popen(
            ["parec", f"--client-name={NAME}", "--device=micsink.monitor"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        time.sleep(1.0)
        rule = SoftphoneRule(application_name=NAME)
        streams = find(rule)
        if streams.far is None or streams.near is None:
            print(f"bench_voice: the softphone's streams were not found: {streams.why}")
            return 1

        # agentapp: the recorder thread in this process, and its two parec children
        clock = SystemClock()
        cpu0, kids0 = time.process_time(), _children_cpu()
        recorder = VoiceRecorder(Softphone(rule), clock=clock, started_at=clock.now(),
                                 silence=Silence())  # fmt: skip
        recorder.start()
        time.sleep(a.seconds)
        recorder.stop()
        own, pipes = time.process_time() - cpu0, _children_cpu() - kids0
        ours = own + pipes
        packets = recorder.take()
        size = sum(len(x.data) for x in packets)

        # ffmpeg: the same two streams, each piped from parec into libopus at the same rate
        kids0 = _children_cpu()
        peers = []
        for target in (f"--monitor-stream={streams.far}", f"--device={streams.near}"):
            rec = subprocess.Popen(["parec", target, "--raw", "--format=s16le", f"--rate={RATE}",
                                    "--channels=1", "--latency-msec=20"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
            enc = subprocess.Popen(  # the same job: rate, bit rate, frame, mode, effort
                ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "s16le", "-ar", str(RATE),
                 "-ac", "1", "-i", "-", "-c:a", "libopus", "-b:a", str(BITRATE),
                 "-frame_duration", "60", "-application", "voip", "-compression_level", "5",
                 "-f", "ogg", "-y", "/dev/null"],
                stdin=rec.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            assert rec.stdout is not None
            rec.stdout.close()
            peers += [rec, enc]
        time.sleep(a.seconds)
        for proc in peers:
            proc.terminate()
        for proc in peers:
            proc.wait(timeout=10)
        theirs = _children_cpu() - kids0
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        server.stop()
        shutil.rmtree(run, ignore_errors=True)

    minutes = a.seconds / 60
    print(f"voice recorded for {a.seconds:.0f} s: {len(packets)} Opus packets, two channels, "
          f"{BITRATE // 1000} kbit/s each")  # fmt: skip
    print(f"agentapp: {ours / minutes:.2f} CPU-seconds per recorded minute "
          f"({100 * ours / a.seconds:.2f} % of one core), {size * 3600 / a.seconds / 1e6:.1f} "
          "MB per hour")  # fmt: skip
    print(f"  of which the recorder thread (placing, encoding) {100 * own / a.seconds:.2f} %, "
          f"its two parec pipes {100 * pipes / a.seconds:.2f} %")  # fmt: skip
    print(f"ffmpeg (libopus, same streams): {theirs / minutes:.2f} CPU-seconds per minute "
          f"({100 * theirs / a.seconds:.2f} % of one core)")  # fmt: skip
    print(
        f"ratio agentapp / ffmpeg: {ours / theirs:.2f}" if theirs else "ratio: ffmpeg used no CPU"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
