"""Hook server under hostile load: prints figures, asserts nothing (see bench/README.md).

The real HookServer (telephony/hook.py) with an `on_event` that answers at once; an event's
round trip (connect, send, answer) is measured from a client in this process while other
clients of the same user: none; 3 silent connections plus one trickling a byte every 0.3 s;
40 clients sending events as fast as they can.

    .venv/bin/python -m bench.bench_hook_load [--events 300]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

from agentapp.core.clock import SystemClock
from agentapp.core.events import CallEvent, EventKind, Message
from agentapp.telephony.hook import HookServer, send_event


def round_trips(path: Path, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        send_event(path, CallEvent(EventKind.ON_HOOK, f"m{i}", 0.0), timeout=10)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300, help="measured round trips per scenario")
    n = ap.parse_args().events
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "run" / "hook.sock"

        def answer(m: Message) -> str:
            return "ok: noted"

        server = HookServer(path, answer, SystemClock())
        server.start()
        stop = threading.Event()
        threads: list[threading.Thread] = []
        held: list[socket.socket] = []

        def silent() -> None:
            for _ in range(3):
                c = socket.socket(socket.AF_UNIX)
                c.connect(str(path))
                held.append(c)
            t = socket.socket(socket.AF_UNIX)
            t.connect(str(path))
            held.append(t)
            while not stop.wait(0.3):
                try:
                    t.send(b"{")
                except OSError:  # cut at the message deadline: trickle again
                    t = socket.socket(socket.AF_UNIX)
                    t.connect(str(path))
                    held.append(t)

        def flood() -> None:
            i = 0
            while not stop.is_set():
                send_event(path, CallEvent(EventKind.OFF_HOOK, f"f{i}", 0.0), timeout=10)
                i += 1

        results = {}
        for name, start in (("no other client", None), ("3 silent + 1 trickling", silent),
                            ("40 parallel clients", flood)):  # fmt: skip
            stop.clear()
            count = 40 if start is flood else 1
            threads = [threading.Thread(target=start, daemon=True)
                       for _ in range(count)] if start else []  # fmt: skip
            for t in threads:
                t.start()
            time.sleep(0.5)
            results[name] = round_trips(path, n)
            stop.set()
            for t in threads:
                t.join(15)
            for c in held:
                c.close()
            held.clear()
        server.stop()
    for name, ms in results.items():
        q = statistics.quantiles(ms, n=100)
        print(f"hook round trip, {name:24}: p50 {statistics.median(ms):6.2f} ms, "
              f"p99 {q[98]:6.2f} ms, max {max(ms):6.2f} ms ({len(ms)} events)")  # fmt: skip
    print("goal: an on-hook handled within 100 ms whatever other clients do")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
