"""The audit trail's cost: one append (file + fsync + head in the OS key store), and verify.

    bash scripts/with-keyring.sh .venv/bin/python -m bench.bench_audit --entries 2000

Prints figures; asserts nothing. Runs against the real key store (gnome-keyring under the
private D-Bus session that with-keyring.sh starts).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from agentapp.vault.audit import AuditLog


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--entries", type=int, default=2000)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = AuditLog.in_dir(Path(tmp))
        log.append("bench", "warm-up")  # creates the key in the key store
        times = []
        for i in range(a.entries):
            t0 = time.perf_counter()
            log.append("alice", "recording started", f"2026112{i:05d}", "CRM onboarding")
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        t0 = time.perf_counter()
        verdict = log.verify()
        verify_ms = (time.perf_counter() - t0) * 1000
        size = log.path.stat().st_size
    print(f"append ({a.entries} entries, real key store): p50 {statistics.median(times):.2f} ms, "
          f"p95 {times[int(0.95 * len(times))]:.2f} ms, max {times[-1]:.2f} ms")  # fmt: skip
    print(f"verify {a.entries + 1} entries: {verify_ms:.0f} ms ({verdict.describe()})")
    print(f"size: {size / (a.entries + 1):.0f} bytes per entry")


if __name__ == "__main__":
    main()
