"""Soak: one long call recorded by the real agent process, its memory watched.

The scripted business window (bench/scenario.py) is recorded for --minutes in one call (the
policy allows 60). Every 10 s the agent's resident memory is sampled. At the end it prints
the RSS after the first minute, the last and the peak, the growth over the soak, and what
the recording itself counts: frames encoded, unchanged frames held, grabs dropped, late
ticks, and the frame ticks missing against minutes × fps. Figures only.

    bash scripts/with-keyring.sh .venv/bin/python -m bench.soak [--minutes 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from agentapp.demo.virtual_display import VirtualDesktop
from bench.bench_vs_ffmpeg import FPS, AgentProcess, proc_cpu, proc_mb, spawn_window


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--size", default="1280x720")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    with VirtualDesktop(width=2560, height=1440, tray=False) as desk, \
            tempfile.TemporaryDirectory(prefix="soak-") as tmp:  # fmt: skip
        window, rect = spawn_window(desk, w, h)
        agent = AgentProcess(desk, Path(tmp)).start()
        assert agent.proc is not None
        pid = agent.proc.pid
        try:
            samples: list[tuple[float, float]] = []
            c0, t0 = proc_cpu(pid), time.monotonic()
            agent.cli("hook", "off-hook", "--call-id", "soak")
            end = t0 + a.minutes * 60
            while time.monotonic() < end:
                samples.append((time.monotonic() - t0, proc_mb(pid, "VmRSS")))
                print(f"  {samples[-1][0]:6.0f} s  RSS {samples[-1][1]:6.1f} MB", flush=True)
                time.sleep(min(10.0, max(0.0, end - time.monotonic())))
            agent.cli("hook", "on-hook", "--call-id", "soak")
            meta = agent.wait_sealed()
            cpu = proc_cpu(pid) - c0
        finally:
            agent.stop()
            window.terminate()
            window.wait(10)
    after_1min = next(r for t, r in samples if t >= 60) if a.minutes > 1 else samples[0][1]
    last, peak = samples[-1][1], max(r for _, r in samples)
    ticks = meta.frames + meta.unchanged_frames
    expected = round(meta.duration_s * FPS)
    print(f"soak: {meta.duration_s / 60:.1f} min of {rect.w}x{rect.h} at {FPS} fps in one call")
    print(f"  RSS after 1 min {after_1min:.1f} MB, last {last:.1f} MB, peak {peak:.1f} MB: "
          f"growth {100 * (last - after_1min) / after_1min:+.1f} % (goal ≤ 5 %)")  # fmt: skip
    print(f"  frames: {meta.frames} encoded + {meta.unchanged_frames} unchanged held = {ticks} "
          f"ticks of {expected} expected ({expected - ticks} missing); "
          f"{meta.dropped_frames} grabs dropped, {meta.late_ticks} late ticks")  # fmt: skip
    print(f"  {meta.segments} sealed segments, {meta.size_bytes / 1e6:.1f} MB "
          f"({meta.size_bytes / meta.duration_s * 3.6e-3:.1f} MB/h); CPU "
          f"{cpu / meta.duration_s * 60:.2f} s per recorded minute")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
