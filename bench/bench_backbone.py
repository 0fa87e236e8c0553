"""Backbone benchmark: prints figures, asserts nothing (see bench/README.md).

On a private Xvfb desktop with a 1280x720 sample business window that keeps typing, it runs
the real engine in-process (real locator, mss, encoder, sealing, vault) and measures:

* off-hook → first frame written, p50/p95 over --calls short calls;
* on-hook → capture stopped (the grab loop has exited), p50/p99;
* CPU of the agent process while recording --seconds at 10 fps, as % of one core;
* bytes per hour of recording.

    .venv/bin/python -m bench.bench_backbone [--calls 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.agent.engine import Engine
from agentapp.capture.grabber import Grabber
from agentapp.capture.xshm import ShmReader
from agentapp.core.events import CallEvent, EventKind
from agentapp.demo.run import sample_policy
from agentapp.demo.sample_window import SampleWindow
from agentapp.demo.virtual_display import VirtualDesktop
from agentapp.platform.x11 import X11Locator
from agentapp.vault.keys import public_key_path, write_public_key

WINDOW = SampleWindow("bench-crm", "CRM — bench", (235, 235, 235), (50, 50, 1280, 720), True)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def make_engine(display: str, wm_class: str, data: Path) -> Engine:
    """The real engine in this process: real locator, mss, encoder, sealing, audit trail."""
    policy = sample_policy("bench", wm_class, weekly_quota=200)
    (data / "policy.toml").write_text(policy)
    write_public_key(X25519PrivateKey.generate().public_key(), public_key_path(data))
    engine = Engine(
        agent="bench", data_dir=data, policy_path=data / "policy.toml",
        locator_factory=lambda: X11Locator(display), grabber_factory=Grabber,
        reader_factory=lambda: ShmReader(display), rng=random.Random(1),
    )  # fmt: skip
    engine.start()
    engine.notices.acknowledge("en")  # no recording before the notice is acknowledged
    return engine


def short_calls(
    engine: Engine, calls: int, commits: list[float] | None = None
) -> tuple[list[float], list[float]]:
    """(off-hook → first frame read, on-hook → capture stopped) in ms, one per call;
    `commits` gets off-hook → that frame committed (after the look-behind)."""
    starts, stops = [], []
    for i in range(calls):
        t0 = time.time()
        engine.handle_event(CallEvent(EventKind.OFF_HOOK, f"b{i}", t0))
        time.sleep(1.0)  # longer than the look-behind: a frame is committed
        t1 = time.time()
        engine.handle_event(CallEvent(EventKind.ON_HOOK, f"b{i}", t1))
        engine.wait_idle(10)
        st = engine.last_capture
        assert st is not None and st.first_frame_at and st.stopped_at
        starts.append((st.first_frame_at - t0) * 1000)
        if commits is not None and st.first_commit_at:
            commits.append((st.first_commit_at - t0) * 1000)
        stops.append((st.stopped_at - t1) * 1000)
        for m in engine.vault.recordings():  # one recording at a time in the vault
            shutil.rmtree(engine.vault.root / m.id)
    return starts, stops


def latencies(display: str, wm_class: str, calls: int) -> tuple[list[float], list[float]]:
    """short_calls() on a fresh engine for a window already on `display`."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(display, wm_class, Path(tmp))
        try:
            time.sleep(1.0)
            return short_calls(engine, calls)
        finally:
            engine.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    a = ap.parse_args()
    with VirtualDesktop(tray=False) as desk, tempfile.TemporaryDirectory() as tmp:
        os.environ["DISPLAY"] = desk.display
        proc, _ = WINDOW.spawn(desk.env)
        try:
            engine = make_engine(desk.display, WINDOW.wm_class, Path(tmp))
            time.sleep(1.0)
            commits: list[float] = []
            starts, stops = short_calls(engine, a.calls, commits)
            print(
                f"capture mode: {engine.last_capture.capture_mode if engine.last_capture else '?'}"
            )
            print(f"off-hook → first frame read: p50 {pct(starts, 50):.0f} ms, p95 "
                  f"{pct(starts, 95):.0f} ms, p99 {pct(starts, 99):.0f} ms (goal ≤ 100 ms p95, "
                  f"{a.calls} calls)")  # fmt: skip
            print(f"off-hook → that frame committed (after the look-behind): p50 "
                  f"{pct(commits, 50):.0f} ms, p95 {pct(commits, 95):.0f} ms")  # fmt: skip
            print(f"on-hook → capture stopped: p50 {pct(stops, 50):.1f} ms, "
                  f"p99 {pct(stops, 99):.1f} ms (goal ≤ 100 ms = one frame at 10 fps)")  # fmt: skip

            c0, w0 = cpu_seconds(), time.time()
            engine.handle_event(CallEvent(EventKind.OFF_HOOK, "long", w0))
            time.sleep(a.seconds)
            engine.handle_event(CallEvent(EventKind.ON_HOOK, "long", time.time()))
            engine.wait_idle(30)
            c1, w1 = cpu_seconds(), time.time()
            (meta,) = engine.vault.recordings()
            st = engine.last_capture
            assert st is not None
            cpu = (c1 - c0) / (w1 - w0) * 100
            mb_h = meta.size_bytes / meta.duration_s * 3600 / 1e6
            fps = meta.frames / meta.duration_s
            print(f"recording {meta.duration_s:.0f} s of 1280x720 at 10 fps: {meta.frames} frames "
                  f"({fps:.1f} fps achieved, {st.late_ticks} late ticks)")  # fmt: skip
            print(f"CPU while recording: {cpu:.1f} % of one core (goal ≤ 10 %)")
            print(f"size: {mb_h:.1f} MB per hour (goal ≤ 30 MB/h)")
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS of the agent process: {rss_mb:.0f} MB")
            engine.stop()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
