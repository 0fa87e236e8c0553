"""Tray agent memory and idle CPU benchmark: prints figures, asserts nothing (bench/README.md).

The real tray agent (`agentapp run`, Qt, under a real tray host) on a private Xvfb desktop,
enrolled, with a 1280x720 sample business window that keeps typing:

* idle (enrolled, no call): resident memory (VmRSS) and CPU seconds per minute;
* during one call of --seconds: peak resident memory (VmHWM);
* after the call: resident memory again.

Needs a Secret Service in the session (run it as scripts/with-keyring.sh .venv/bin/python -m
bench.bench_tray_memory).

    .venv/bin/python -m bench.bench_tray_memory [--idle 30] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentapp.demo.run import sample_policy
from agentapp.demo.sample_window import SampleWindow
from agentapp.demo.virtual_display import VirtualDesktop, stop_process

WINDOW = SampleWindow("bench-crm", "CRM — bench", (235, 235, 235), (50, 50, 1280, 720), True)


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cli(env: dict[str, str], *args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "agentapp", *args], env=env, capture_output=True,
                       text=True, timeout=60, check=True)  # fmt: skip
    return r.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idle", type=float, default=30.0, help="idle seconds measured")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the recorded call")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="agentapp-bench-tray-"))
    with VirtualDesktop() as desktop:
        window, _ = WINDOW.spawn(desktop.env)
        env = dict(desktop.env, AGENTAPP_DATA_DIR=str(data), AGENTAPP_AGENT="bench",
                   AGENTAPP_USER="bench")  # fmt: skip
        (data / "policy.toml").write_text(sample_policy("bench", WINDOW.wm_class, weekly_quota=200))
        cli(env, "keys", "init")
        cli(env, "notice", "acknowledge")
        agent = subprocess.Popen([sys.executable, "-m", "agentapp", "run"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            sock = data / "run" / "hook.sock"
            deadline = time.monotonic() + 60
            while not sock.exists():
                if agent.poll() is not None or time.monotonic() > deadline:
                    sys.exit("the tray agent did not start")
                time.sleep(0.1)
            time.sleep(3.0)  # the tray icon, the first status refresh
            rss0, cpu0 = status_kb(agent.pid, "VmRSS"), cpu_s(agent.pid)
            time.sleep(args.idle)
            rss_idle, cpu_idle = status_kb(agent.pid, "VmRSS"), cpu_s(agent.pid) - cpu0
            hwm_idle = status_kb(agent.pid, "VmHWM")
            said = cli(env, "hook", "off-hook", "--call-id", "bench-1")
            time.sleep(args.seconds)
            cli(env, "hook", "on-hook", "--call-id", "bench-1")
            time.sleep(3.0)
            hwm_call, rss_after = status_kb(agent.pid, "VmHWM"), status_kb(agent.pid, "VmRSS")
        finally:
            stop_process(agent)
            window.terminate()
            window.wait(timeout=10)
            shutil.rmtree(data, ignore_errors=True)
    print(f"tray agent, enrolled, idle {args.idle:.0f} s (1280x720 window, 10 fps):")
    print(f"  idle RSS            {rss0 / 1024:6.1f} MB at start, {rss_idle / 1024:6.1f} MB after")
    print(f"  idle peak RSS       {hwm_idle / 1024:6.1f} MB")
    print(f"  idle CPU            {cpu_idle / args.idle * 60:6.3f} s per minute")
    print(f"  call ({args.seconds:.0f} s): {said}")
    print(f"  peak RSS (call)     {hwm_call / 1024:6.1f} MB")
    print(f"  RSS after the call  {rss_after / 1024:6.1f} MB")


if __name__ == "__main__":
    main()
