"""Hub benchmark: prints figures, asserts nothing (see bench/README.md).

A trial hub (Debian's PostgreSQL, TLS, SCRAM; tests/hubs.py) and --desks simulated desks,
each its own login and connection, as the agent's link uses them (hub/link.py):

* reservations: every desk reserves a slot at once, --rounds times (the off-hook of a call
  on every desk in the same second, the busiest case): reservations/s, latency p50/p99;
* the trail: every desk ships --entries entries of its trail at once: audit inserts/s (all
  of them go through the one lock of the chain);
* recordings: every desk ships one sealed recording of --segment-kb: MB/s;
* the peer, in the same run and on the same server: pgbench (PostgreSQL's own load tool)
  as the client, over the same TLS as a desk, running `reserve_slot`, then inserting one
  row per transaction into a plain table (no lock, no check, no row-level security): the
  ceiling the hub's reservation is compared with, and what the Python client costs.

    .venv/bin/python -m bench.bench_hub [--desks 500] [--rounds 4] [--entries 4]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import time
from typing import Any

from tests.hubs import Hub, meta, new_rid, trial_hub

try:
    from agentapp.hub.link import WARM_UP
except ImportError:  # a tree from before the warm-up (to measure before and after)
    WARM_UP = None  # type: ignore[assignment]

QUOTA = 10_000  # the bench measures reservations, not refusals


def _setup(hub: Hub, desks: int) -> dict[str, str]:
    """desks logins (`agentapp hub add-login`'s code), one enrolled agent per desk,
    published as the trial hub's IT."""
    from psycopg.types.json import Jsonb

    from agentapp.hub.admin import add_login

    with hub.admin() as db:
        passwords = {
            f"desk-{i:03d}": add_login(db, f"desk-{i:03d}", "desk", f"desk-{i:03d}")
            for i in range(desks)
        }
        enrolments = [
            {
                "agent": f"agent-{i:03d}",
                "training": "CRM",
                "start": "2026-01-01",
                "end": "2099-12-31",
                "weekly_quota": QUOTA,
            }
            for i in range(desks)
        ]
        db.execute(
            "SELECT agentapp.publish_policy(1, 'bench', %s, '[]', 183, '')", (Jsonb(enrolments),)
        )
        db.commit()
    return passwords


async def _connect(hub: Hub, role: str, pw: str) -> Any:
    import psycopg

    from agentapp.hub.connect import tls_options

    return await psycopg.AsyncConnection.connect(
        hub.url, user=role, password=pw, **tls_options(hub.ca)
    )


async def _run(hub: Hub, passwords: dict[str, str], args: argparse.Namespace) -> None:
    from psycopg.types.json import Jsonb

    t0 = time.perf_counter()
    gate = asyncio.Semaphore(32)  # desks start over minutes, not in one instant

    async def connect(role: str, pw: str) -> Any:
        async with gate:
            db = await _connect(hub, role, pw)
            if WARM_UP is not None:  # as the desk's link does (hub/link.py warm_up)
                await db.execute(WARM_UP)
                await db.rollback()
            return db

    conns = await asyncio.gather(*(connect(r, p) for r, p in passwords.items()))
    print(f"{len(conns)} desks connected (TLS, SCRAM) in {time.perf_counter() - t0:.1f} s")

    latencies: list[float] = []
    ids: dict[tuple[int, int], str] = {}

    async def reserve(i: int, db: Any, n: int) -> None:
        rid = ids.setdefault((n, i), new_rid())
        start = time.perf_counter()
        cur = await db.execute("SELECT agentapp.reserve_slot(%s, %s)", (rid, f"agent-{i:03d}"))
        answer = (await cur.fetchone())[0]
        await db.commit()
        latencies.append(time.perf_counter() - start)
        assert answer == "reserved", answer

    t0 = time.perf_counter()
    slowest = []
    for n in range(args.rounds):
        await asyncio.gather(*(reserve(i, db, n) for i, db in enumerate(conns)))
        slowest.append(max(latencies[-len(conns) :]))
    took = time.perf_counter() - t0
    print("slowest reservation of each round: " + ", ".join(f"{s * 1000:.0f} ms" for s in slowest))
    q = statistics.quantiles(latencies, n=100)
    rate = len(latencies) / took
    print(
        f"reservations: {len(latencies)} in {took:.2f} s = {rate:.0f}/s; "
        f"latency p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms "
        f"(every desk at once)"
    )

    latencies.clear()
    for n in range(200):  # the usual case: one off-hook at a time
        await reserve(n % len(conns), conns[n % len(conns)], 1000 + n)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"one reservation at a time: latency p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms"
    )

    async def trail(i: int, db: Any) -> None:
        rows = [
            {
                "seq": s,
                "hash": f"h{s}",
                "at": "",
                "who": f"agent-{i:03d}",
                "action": "recording started",
                "target": "r",
                "reason": "",
            }
            for s in range(1, args.entries + 1)
        ]
        await db.execute("SELECT agentapp.ship_audit_batch(%s, %s)", (f"bench-{i}", Jsonb(rows)))
        await db.commit()  # as the link does: one call and one transaction a round

    t0 = time.perf_counter()
    await asyncio.gather(*(trail(i, db) for i, db in enumerate(conns)))
    took = time.perf_counter() - t0
    entries = len(conns) * args.entries
    audit_rate = entries / took
    print(f"audit inserts: {entries} in {took:.2f} s = {audit_rate:.0f}/s (one chain, one lock)")

    blob = os.urandom(args.segment_kb * 1024)
    digest = hashlib.sha256(blob).hexdigest()

    async def ship(i: int, db: Any) -> None:
        rid = ids[(0, i)]
        await db.execute(
            "SELECT agentapp.ship_recording(%s)", (Jsonb(meta(rid, f"agent-{i:03d}", "CRM")),)
        )
        await db.execute(
            "SELECT agentapp.ship_segment(%s, 'seg-000000.seal', %s, %s)", (rid, blob, digest)
        )
        await db.commit()

    t0 = time.perf_counter()
    await asyncio.gather(*(ship(i, db) for i, db in enumerate(conns)))
    took = time.perf_counter() - t0
    mb = len(conns) * len(blob) / 1e6
    print(
        f"recordings shipped: {len(conns)} × {args.segment_kb} KB in {took:.2f} s "
        f"= {mb / took:.1f} MB/s"
    )
    for db in conns:
        await db.close()
    role, pw = next(iter(passwords.items()))
    with hub.admin() as admin:
        admin.execute("CREATE TABLE IF NOT EXISTS public.bench_peer (id bigserial, v text)")
        admin.execute("GRANT INSERT ON public.bench_peer TO agentapp_desk")
        admin.execute("GRANT USAGE ON SEQUENCE public.bench_peer_id_seq TO agentapp_desk")
        admin.commit()
    n = len(passwords)
    script = (
        f"\\set a random(0, {n - 1})\nSELECT agentapp.reserve_slot(to_char(now() AT TIME ZONE "
        "'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z-\"') || lpad(to_hex((random() * 4294967295)::bigint), 8, "
        "'0'), 'agent-' || lpad(:a::text, 3, '0'));\n"
    )
    plain = "INSERT INTO public.bench_peer (v) VALUES ('x');\n"
    burst = _pgbench(hub, role, pw, script, n, runs=args.rounds + 1)
    if burst and burst[1]:
        q = statistics.quantiles(burst[1], n=100)
        print(
            f"reservations with pgbench as the client, {n} connections at once, "
            f"{args.rounds} each: latency p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms "
            f"(the hub's own answer, without the Python client sharing its 2 cores)"
        )
    clients = min(n, 50)
    timed = _pgbench(hub, role, pw, script, clients), _pgbench(hub, role, pw, plain, clients)
    ours, peer = (t[0] if t else None for t in timed)
    if ours and peer:
        print(
            f"with pgbench as the client ({clients} connections, TLS, one desk login): "
            f"reserve_slot {ours:.0f}/s; the peer, a plain INSERT per transaction, "
            f"{peer:.0f}/s; ratio ×{ours / peer:.2f}"
        )
        print(f"this Python client against pgbench's: reservations ×{rate / ours:.2f}")


def _pgbench(
    hub: Hub, role: str, pw: str, script: str, clients: int, *, runs: int = 0
) -> tuple[float, list[float]] | None:
    """pgbench running `script` over verified TLS as a desk's login, without Python's client
    in the way: for 8 s (`runs` 0), or `runs` times on each of `clients` connections opened
    beforehand, all at once. Transactions a second, and each transaction's latency (s; the
    first of each connection left out: its warm-up, as the desk's link does at connect)."""
    from agentapp.hub.cluster import binaries

    folder = hub.cluster.folder.parent / f"bench-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    path = folder / "script.sql"
    path.write_text(script)
    env = dict(os.environ, PGPASSWORD=pw, PGSSLMODE="verify-full", PGSSLROOTCERT=str(hub.ca))
    how = ["-T", "8"] if not runs else ["-t", str(runs), "-l", f"--log-prefix={folder}/lat"]
    try:
        r = subprocess.run(
            [str(binaries() / "pgbench"), "-n", "-h", "localhost", "-p", str(hub.cluster.port),
             "-U", role, "-c", str(clients), "-j", "2", *how, "-f", str(path), "agentapp"],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        latencies = [
            int(f[2]) / 1e6
            for log in folder.glob("lat.*")
            for f in (line.split() for line in log.read_text().splitlines())
            if int(f[1]) > 0
        ]
    finally:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    for line in r.stdout.splitlines():
        if line.startswith("tps ="):
            return float(line.split()[2]), latencies
    print(f"pgbench did not run: {r.stderr.strip()[-200:]}")
    return None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--desks", type=int, default=500)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--entries", type=int, default=4)
    p.add_argument("--segment-kb", type=int, default=256)
    args = p.parse_args()
    with trial_hub(max_connections=args.desks + 100) as hub:
        t0 = time.perf_counter()
        passwords = _setup(hub, args.desks)
        print(f"hub ready, {args.desks} desk logins in {time.perf_counter() - t0:.1f} s")
        asyncio.run(_run(hub, passwords, args))


if __name__ == "__main__":
    main()
