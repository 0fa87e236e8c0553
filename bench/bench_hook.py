"""Hook command benchmark: prints figures, asserts nothing (see bench/README.md).

A softphone (MicroSIP…) runs `agentapp hook …` on every call and may wait for it. This spawns
the real command N times against a dummy agent socket and prints, per call: spawn → message at
the agent, and how far the event's timestamp (the command's process start) is from the spawn.

    .venv/bin/python -m bench.bench_hook [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    runs = ap.parse_args().runs
    exe = shutil.which("agentapp", path=os.path.dirname(sys.executable)) or "agentapp"
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(f"{d}/run")
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(f"{d}/run/hook.sock")
        srv.listen(4)
        arrive, stamp_error = [], []
        for i in range(runs):
            t0 = time.time()
            proc = subprocess.Popen(
                [exe, "hook", "off-hook", "--call-id", f"b{i}", "--data-dir", d],
                stdout=subprocess.DEVNULL,
            )
            conn, _ = srv.accept()
            data = conn.recv(4096)
            t1 = time.time()
            conn.sendall(b"ok\n")
            conn.close()
            proc.wait(timeout=10)
            arrive.append((t1 - t0) * 1000)
            stamp_error.append((json.loads(data)["t"] - t0) * 1000)
        srv.close()
    q = statistics.quantiles(arrive, n=20)
    print(
        f"agentapp hook ({exe}), {runs} runs: spawn → message at the agent p50 "
        f"{statistics.median(arrive):.0f} ms, p95 {q[18]:.0f} ms, max {max(arrive):.0f} ms "
        f"(goal: well under 100 ms)"
    )
    print(
        f"event time − spawn time: median {statistics.median(stamp_error):+.0f} ms, "
        f"range {min(stamp_error):+.0f} to {max(stamp_error):+.0f} ms (10 ms kernel ticks)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
