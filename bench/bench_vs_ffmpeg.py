"""The agent against ffmpeg's screen grabber, same window, same fps, same machine, one run.

On a private Xvfb desktop the scripted business window (bench/scenario.py: a mostly static
form, periodic typing, a scroll, a full repaint) is recorded for --seconds, alternately

  (a) by the real agent process (`agentapp run --headless`, a call through `agentapp hook`):
      grab ▸ mask ▸ skip unchanged ▸ x264 ▸ seal ▸ vault;
  (b) by `ffmpeg -f x11grab -framerate FPS -i :D+X,Y -c:v libx264 -preset ultrafast` on the
      window's rectangle, the tool an IT person would otherwise use.

For each run it prints CPU seconds per recorded minute, peak RSS, bytes per recorded hour,
the frame rate achieved, the frame-time jitter, and the quality of the decoded video against
what was on screen: every 0.5 s the frame on display is compared (SSIM and PSNR on luma) with
the reference picture of the content version that frame itself carries (see scenario.py).
Then the ratios agent/ffmpeg, and the agent's off-hook/on-hook latencies over --calls calls.
Figures only: nothing is asserted.

    bash scripts/with-keyring.sh .venv/bin/python -m bench.bench_vs_ffmpeg \
        [--seconds 60] [--runs 2] [--sizes 1280x720,1920x1080] [--calls 50] \
        [--profile FOLDER]

--profile samples the agent's threads with py-spy (pip install py-spy; root, or ptrace
allowed) over the body of each measured call, and writes one collapsed-stack file per run
there (flamegraph.pl or speedscope read them); it prints the functions that used the most of
the agent's CPU (idle waits left out). The CPU figures of a profiled run include py-spy's
reads of the agent's memory: compare them with a run without it.

Needs Debian's `ffmpeg` (apt-get install ffmpeg) and a key store (the agent signs its audit
trail; run it under scripts/with-keyring.sh).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agentapp.core.geometry import Rect
from agentapp.core.policy import WindowRule
from agentapp.demo.run import sample_policy
from agentapp.demo.virtual_display import VirtualDesktop
from agentapp.platform.x11 import X11Locator
from agentapp.vault.export import iter_frames, open_segments
from agentapp.vault.keys import public_key_path, write_public_key
from agentapp.vault.store import RecordingMeta, Vault
from bench.bench_backbone import latencies, pct

FPS = 10
WM_CLASS = "bench-crm"
STEADY_AFTER_S = 3.0  # past the start and the first look-behind
WARM_UP_S = 2.0  # the agent's first call of its life: codecs loaded, key store opened
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    tool: str
    size: str
    cpu_s: float = 0.0  # CPU seconds of the recorder between start and finished file
    duration_s: float = 0.0  # recorded time
    rss_mb: float = 0.0
    size_bytes: int = 0
    frames: int = 0  # frames in the file
    ticks: int = 0  # frames grabbed or held (the agent holds unchanged ones without encoding
    # them, and sleeps through a quiet interval until the display has news: fewer than fps)
    jitter_ms: float = 0.0
    ssim: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    unreadable: int = 0
    notes: str = ""
    steady_cpu_s: float = 0.0  # CPU seconds over the body of the recording ...
    steady_s: float = 0.0  # ... that is, from STEADY_AFTER_S after its start to its stop

    @property
    def cpu_per_min(self) -> float:
        return self.cpu_s / self.duration_s * 60

    @property
    def steady_per_min(self) -> float:
        return self.steady_cpu_s / self.steady_s * 60

    @property
    def call_cpu_s(self) -> float:
        """What a call costs besides its minutes: start, stop, finishing the file."""
        return self.cpu_s - self.steady_cpu_s / self.steady_s * self.duration_s

    @property
    def mb_per_hour(self) -> float:
        return self.size_bytes / self.duration_s * 3600 / 1e6


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


PROFILE: Path | None = None  # --profile: where py-spy's samples go


def record_body(pid: int, seconds: float, profile: bool = False) -> tuple[float, float]:
    """Let `pid` record for `seconds` from now; (its CPU seconds, the span) over the body of
    it: from STEADY_AFTER_S on, the same for both tools. `profile`: sampled (--profile)."""
    time.sleep(STEADY_AFTER_S)
    c0, t0 = proc_cpu(pid), time.monotonic()
    spy = _profile(pid, seconds - STEADY_AFTER_S) if profile else None
    time.sleep(seconds - STEADY_AFTER_S)
    cpu = proc_cpu(pid) - c0, time.monotonic() - t0
    if spy is not None:
        spy[0].wait(30)
        _top(spy[1])
    return cpu


def _profile(pid: int, seconds: float) -> tuple[subprocess.Popen[bytes], Path] | None:
    """py-spy sampling `pid` for `seconds` (idle samples left out), or None (not asked)."""
    if PROFILE is None:
        return None
    PROFILE.mkdir(parents=True, exist_ok=True)
    out = PROFILE / f"agent-{pid}-{int(time.time())}.txt"
    spy = Path(sys.prefix) / "bin" / "py-spy"
    # not --native (it stops the process at each sample: the figures would be the profiler's);
    # time in C (x264, numpy, the X connection) goes to the Python line that called it
    argv = [str(spy) if spy.exists() else "py-spy", "record", "--pid", str(pid), "--duration",
            str(int(seconds)), "--rate", "50", "--nonblocking", "--format", "raw", "--output",
            str(out)]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def _top(collapsed: Path, n: int = 10) -> None:
    """The functions where the samples were (self time), and those under which they were
    (inclusive), by share of the samples."""
    if not collapsed.exists():
        print(f"  (no profile: py-spy wrote nothing to {collapsed})")
        return
    own: dict[str, int] = {}
    under: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f.split(" (")[0] for f in stack.split(";")[1:]]  # (the thread's name first)
        if not frames:
            continue
        k = int(count)
        total += k
        own[frames[-1]] = own.get(frames[-1], 0) + k
        for f in set(frames):
            under[f] = under.get(f, 0) + k
    for title, table in (("self", own), ("inclusive", under)):
        best = sorted(table.items(), key=lambda kv: -kv[1])[:n]
        print(f"  profile ({title}, {total} samples): " + "; ".join(
            f"{name} {100 * k / total:.0f}%" for name, k in best))  # fmt: skip


def proc_mb(pid: int, field: str = "VmHWM") -> float:
    """A memory figure of /proc/PID/status in MB: VmHWM (peak RSS), VmRSS (now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def spawn_window(desk: VirtualDesktop, w: int, h: int) -> tuple[subprocess.Popen[str], Rect]:
    argv = [sys.executable, "-m", "bench.scenario", "--geometry", f"0,30,{w},{h}",
            "--wm-class", WM_CLASS]  # fmt: skip
    proc = subprocess.Popen(argv, env=desk.env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()
    time.sleep(1.0)
    locator = X11Locator(desk.display)
    try:
        found = locator.find((WindowRule("CRM", wm_class=WM_CLASS),))
        assert found is not None, "the scenario window is not on the desktop"
        return proc, locator.view(found[0]).rect
    finally:
        locator.close()


# ---------------------------------------------------------------------------- the agent
Frames = Iterator[tuple[float, np.ndarray]]


@dataclass
class AgentProcess:
    """The real agent (`agentapp run --headless`) with its own data folder and a recording
    key whose private half stays in this process (to decode what it recorded)."""

    desk: VirtualDesktop
    tmp: Path
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.data = Path(tempfile.mkdtemp(prefix="a-", dir=self.tmp))
        self.key = X25519PrivateKey.generate()
        write_public_key(self.key.public_key(), public_key_path(self.data))
        policy = sample_policy("bench", WM_CLASS, fps=FPS, weekly_quota=200)
        (self.data / "policy.toml").write_text(policy)
        self.env = dict(self.desk.env, AGENTAPP_DATA_DIR=str(self.data), AGENTAPP_AGENT="bench",
                        AGENTAPP_USER="bench",  # the bench plays the agent "bench"
                        AGENTAPP_SYSTEM_DIR=str(self.tmp / "no-system-settings"))  # fmt: skip
        self.vault = Vault(self.data / "recordings")

    def cli(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "agentapp", *args], env=self.env, check=True,
                       capture_output=True)  # fmt: skip

    def start(self) -> AgentProcess:
        self.cli("notice", "acknowledge")
        self.log = self.data / "agent.log"  # the agent's own log
        self.proc = subprocess.Popen([sys.executable, "-m", "agentapp", "run", "--headless"],
                                     env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
        while not (self.data / "run" / "hook.sock").exists():
            assert self.proc.poll() is None, "the agent did not start"
            time.sleep(0.05)
        time.sleep(1.0)
        return self

    def wait_sealed(self, seen: frozenset[str] = frozenset()) -> RecordingMeta:
        """The sealed recording that is not one of `seen` (ids)."""
        deadline = time.monotonic() + 120
        while not (done := [m for m in self.vault.recordings()
                            if m.status == "complete" and m.id not in seen]):  # fmt: skip
            assert time.monotonic() < deadline, "the recording was not sealed"
            time.sleep(0.1)
        return done[0]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)


def run_agent(desk: VirtualDesktop, size: str, seconds: float, tmp: Path) -> tuple[Run, Frames]:
    """A warm-up call first (an agent's first call loads the codecs: once per session, not
    per call; printed apart), then the measured call."""
    agent = AgentProcess(desk, tmp).start()
    assert agent.proc is not None
    pid = agent.proc.pid
    try:
        c0 = proc_cpu(pid)
        agent.cli("hook", "off-hook", "--call-id", "warm-up")
        time.sleep(WARM_UP_S)
        agent.cli("hook", "on-hook", "--call-id", "warm-up")
        warm_up = agent.wait_sealed()
        first_call = proc_cpu(pid) - c0
        c0 = proc_cpu(pid)
        agent.cli("hook", "off-hook", "--call-id", "bench")
        steady_cpu, steady_s = record_body(pid, seconds, profile=True)
        agent.cli("hook", "on-hook", "--call-id", "bench")
        meta = agent.wait_sealed(frozenset({warm_up.id}))
        c1 = proc_cpu(pid)
        rss = proc_mb(pid)
    finally:
        agent.stop()
    run = Run("agent", size, c1 - c0, meta.duration_s, rss, meta.size_bytes, meta.frames,
              meta.frames + meta.unchanged_frames, steady_cpu_s=steady_cpu,
              steady_s=steady_s)  # fmt: skip
    run.notes = (
        f"{meta.unchanged_frames} unchanged frames held, {meta.dropped_frames} dropped, "
        f"{meta.late_ticks} late ticks, {meta.segments} segments; the agent's first call "
        f"({WARM_UP_S:.0f} s, codecs loaded) cost {first_call:.2f} s CPU"
        + (f"; paused {meta.paused_spans}" if meta.paused_spans else "")
    )
    log = agent.log.read_text().splitlines()
    said = [ln.split(" — ", 1)[1] for ln in log if "status: recording — not writing" in ln]
    if said:
        run.notes += f"; {len(said)} gaps in the recorded calls: {sorted(set(said))[:3]}"
    run.notes += "".join(
        f"\n         {ln.split(': ', 1)[1]}" for ln in log if "capture ended" in ln
    )
    segments = open_segments(agent.vault, meta.id, agent.key)  # decoded as judged
    return run, (f for seg in segments for f in iter_frames(seg))


# ---------------------------------------------------------------------------- ffmpeg
def run_ffmpeg(
    desk: VirtualDesktop, size: str, rect: Rect, seconds: float, tmp: Path
) -> tuple[Run, Frames]:
    out = tmp / f"ffmpeg-{size}-{time.monotonic_ns()}.mp4"
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "x11grab",
            "-draw_mouse", "0", "-framerate", str(FPS), "-video_size", f"{rect.w}x{rect.h}",
            "-i", f"{desk.display}+{rect.x},{rect.y}", "-c:v", "libx264", "-preset",
            "ultrafast", "-pix_fmt", "yuv420p", "-y", str(out)]  # fmt: skip
    proc = subprocess.Popen(argv, env=desk.env, stdin=subprocess.DEVNULL)
    time.sleep(0.5)  # its start-up is not counted, as the agent's first call is not
    c0 = proc_cpu(proc.pid)
    steady_cpu, steady_s = record_body(proc.pid, seconds)
    proc.send_signal(signal.SIGINT)  # ffmpeg finishes the file and exits
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    run = Run("ffmpeg", size, usage.ru_utime + usage.ru_stime - c0, 0.0,
              usage.ru_maxrss / 1024, out.stat().st_size, steady_cpu_s=steady_cpu,
              steady_s=steady_s)  # fmt: skip
    return run, iter_frames(out)  # duration and frame counts: from the decoded file


# ---------------------------------------------------------------------------- measures
def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two grey images (Gaussian window 11, σ 1.5, as Wang et al.)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float((num / den).mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


def judge(run: Run, frames: Frames, every: float = 0.5) -> None:
    """Quality every `every` s of the frame on display (decoded as a stream: a minute of
    1080p is 3.7 GB of pixels); jitter of the frame times."""
    from bench.scenario import read_version, render

    refs: dict[int, np.ndarray] = {}

    def compare(bgr: np.ndarray) -> None:
        v = read_version(bgr)
        if v is None:
            run.unreadable += 1
            return
        if v not in refs:
            refs[v] = cv2.cvtColor(render(bgr.shape[1], bgr.shape[0], v), cv2.COLOR_BGR2GRAY)
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        run.ssim.append(ssim(grey, refs[v]))
        run.psnr.append(psnr(grey, refs[v]))

    times: list[float] = []
    shown: np.ndarray | None = None
    s = 0.0
    for t, bgr in frames:
        if shown is None:
            s = t
        while shown is not None and s < t:
            compare(shown)
            s += every
        times.append(t)
        shown = bgr
    while shown is not None and s < times[-1] + 1 / FPS:
        compare(shown)
        s += every
    if run.tool == "ffmpeg":
        run.frames = run.ticks = len(times)
        run.duration_s = times[-1] - times[0] + 1 / FPS
    # Off the frame grid: how far each interval is from a whole number of frame periods (the
    # agent writes no frame while nothing changes, so its intervals are multiples).
    period = 1 / FPS
    off = [(b - a) - round((b - a) / period) * period for a, b in itertools.pairwise(times)]
    run.jitter_ms = statistics.pstdev(off) * 1000 if len(off) > 1 else 0.0


def show(run: Run) -> None:
    q = f"SSIM {statistics.mean(run.ssim):.4f} (min {min(run.ssim):.4f}), " \
        f"PSNR {statistics.mean(run.psnr):.1f} dB" if run.ssim else "no readable frame"  # fmt: skip
    print(f"  {run.tool:<6} {run.size:>9}: CPU {run.steady_per_min:5.2f} s/min while "
          f"recording ({run.cpu_per_min:.2f} over the whole call, {run.call_cpu_s:+.2f} s per "
          f"call), RSS "
          f"{run.rss_mb:4.0f} MB, {run.mb_per_hour:6.1f} MB/h, {run.ticks / run.duration_s:4.1f} "
          f"ticks/s ({run.frames} frames in the file), jitter {run.jitter_ms:4.1f} ms, {q}"
          f"{f', {run.unreadable} unreadable' if run.unreadable else ''}")  # fmt: skip
    if run.notes:
        print(f"         {run.notes}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--runs", type=int, default=2, help="alternating runs per tool and size")
    ap.add_argument("--sizes", default="1280x720,1920x1080")
    ap.add_argument("--calls", type=int, default=50, help="latency calls (0: skip)")
    ap.add_argument("--json", type=Path, help="also write every figure to this file")
    ap.add_argument("--profile", type=Path, help="py-spy's samples of the agent go here")
    a = ap.parse_args()
    global PROFILE
    PROFILE = a.profile
    import shutil

    if shutil.which("ffmpeg") is None:
        print("bench: ffmpeg not found (Debian: apt-get install ffmpeg)", file=sys.stderr)
        return 2
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # the reference pictures are drawn here
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication([])  # noqa: F841 (kept alive for rendering)
    results: list[Run] = []
    with VirtualDesktop(width=2560, height=1440, tray=False) as desk, \
            tempfile.TemporaryDirectory(prefix="bench-") as tmp:  # fmt: skip
        for size in a.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            window, rect = spawn_window(desk, w, h)
            print(f"{size}: window at {rect}, {a.seconds:.0f} s per run, {FPS} fps")
            try:
                for _ in range(a.runs):
                    for tool in ("agent", "ffmpeg"):
                        if tool == "agent":
                            run, frames = run_agent(desk, size, a.seconds, Path(tmp))
                        else:
                            run, frames = run_ffmpeg(desk, size, rect, a.seconds, Path(tmp))
                        judge(run, frames)
                        show(run)
                        results.append(run)
                if a.calls and size == a.sizes.split(",")[0]:
                    os.environ["DISPLAY"] = desk.display
                    starts, stops = latencies(desk.display, WM_CLASS, a.calls)
                    print(f"  agent latency over {a.calls} calls: off-hook → first frame read "
                          f"p50 {pct(starts, 50):.0f} / p95 {pct(starts, 95):.0f} / p99 "
                          f"{pct(starts, 99):.0f} ms; on-hook → capture stopped p50 "
                          f"{pct(stops, 50):.1f} / p95 {pct(stops, 95):.1f} / p99 "
                          f"{pct(stops, 99):.1f} ms")  # fmt: skip
            finally:
                window.terminate()
                window.wait(10)
    print("\nagent / ffmpeg, same window, same fps (median of the runs):")
    for size in a.sizes.split(","):
        ag = [r for r in results if r.size == size and r.tool == "agent"]
        ff = [r for r in results if r.size == size and r.tool == "ffmpeg"]

        def med(runs: list[Run], f: str) -> float:
            return statistics.median(getattr(r, f) if f != "ssim" else statistics.mean(r.ssim)
                                     for r in runs)  # fmt: skip

        cpu = med(ag, "steady_per_min") / med(ff, "steady_per_min")
        whole = med(ag, "cpu_per_min") / med(ff, "cpu_per_min")
        size_ratio = med(ag, "mb_per_hour") / med(ff, "mb_per_hour")
        dq = med(ag, "ssim") - med(ff, "ssim")
        print(f"  {size}: CPU ×{cpu:.2f} while recording (goal ≤ 0.2; ×{whole:.2f} over "
              f"the whole {a.seconds:.0f}-s call, start and stop included), "
              f"bytes ×{size_ratio:.2f} (goal ≤ 0.5), "
              f"SSIM {dq:+.4f} (goal within ±0.005), peak RSS agent {med(ag, 'rss_mb'):.0f} MB "
              f"(goal ≤ 180)")  # fmt: skip
    if a.json:
        mean = statistics.mean
        rows = [dict(vars(r), ssim=mean(r.ssim) if r.ssim else None,
                     psnr=mean(r.psnr) if r.psnr else None) for r in results]  # fmt: skip
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
