"""Event-source benchmark: prints figures, asserts nothing (see bench/README.md).

For each socket source (baresip ctrl_tcp, Asterisk AMI, FreeSWITCH ESL), a loopback server
speaks the protocol to the real SourceRunner, whose sink feeds the core's call tracker:

* wire → core: 300 events sent 5 ms apart, time from the server's send to the tracker, p50/p99;
* burst: 1,000 call start/stop pairs sent at once; lost or stuck calls are counted.

    .venv/bin/python -m bench.bench_sources
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import Callable

from agentapp.core.calls import CallEnded, CallStarted, CallTracker
from agentapp.core.clock import SystemClock
from agentapp.core.events import CallEvent, CallFact
from agentapp.telephony.ami import AmiProtocol
from agentapp.telephony.baresip import BaresipProtocol, netstring
from agentapp.telephony.base import SourceProtocol, SourceRunner
from agentapp.telephony.esl import EslProtocol

AOR = "sip:agent@127.0.0.1:5060"


class Sink:
    def __init__(self) -> None:
        self.tracker = CallTracker()
        self.lock = threading.Lock()
        self.seen: dict[str, float] = {}
        self.started = self.ended = 0
        self.up = threading.Event()

    def handle_event(self, event: CallEvent) -> str:
        now = time.monotonic()
        with self.lock:
            t = self.tracker.feed(event)
            self.seen[f"{event.kind.value}:{event.call_id}"] = now
            self.started += isinstance(t, CallStarted)
            self.ended += isinstance(t, CallEnded)
        return "ok"

    def source_up(self, source: str, active: list[CallFact], at: float) -> None:
        self.up.set()

    def source_down(self, source: str, reason: str, at: float) -> None:
        pass


# Each protocol: the server's greeting/answers, and how one event looks on the wire.
def baresip_event(kind: str, cid: str) -> bytes:
    t = "CALL_ESTABLISHED" if kind == "off-hook" else "CALL_CLOSED"
    body = {
        "event": True,
        "type": t,
        "class": "call",
        "accountaor": AOR,
        "id": cid,
        "peeruri": "sip:caller@127.0.0.1",
    }
    return netstring(json.dumps(body).encode())


def baresip_serve(conn: socket.socket) -> None:
    conn.recv(4096)
    answer = {
        "response": True,
        "ok": True,
        "data": "\n--- Active calls (0) ---\n",
        "token": "agentapp-resync-1",
    }
    conn.sendall(netstring(json.dumps(answer).encode()))


def ami_event(kind: str, cid: str) -> bytes:
    if kind == "off-hook":
        return (
            f"Event: Newstate\r\nChannel: PJSIP/1001-{cid}\r\nChannelStateDesc: Up\r\n"
            f"Uniqueid: {cid}\r\n\r\n"
        ).encode()
    return f"Event: Hangup\r\nChannel: PJSIP/1001-{cid}\r\nUniqueid: {cid}\r\n\r\n".encode()


def ami_serve(conn: socket.socket) -> None:
    conn.sendall(b"Asterisk Call Manager/7.0.3\r\n")
    conn.recv(4096)
    conn.sendall(b"Response: Success\r\nActionID: agentapp-login\r\n\r\n")
    conn.recv(4096)
    conn.sendall(b"Event: CoreShowChannelsComplete\r\nActionID: agentapp-resync\r\n\r\n")


def esl_event(kind: str, cid: str) -> bytes:
    name = "CHANNEL_ANSWER" if kind == "off-hook" else "CHANNEL_HANGUP_COMPLETE"
    body = (
        f"Event-Name: {name}\nUnique-ID: {cid}\nChannel-Name: sofia/internal/1001%40127.0.0.1\n\n"
    ).encode()
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(body) + body


def esl_serve(conn: socket.socket) -> None:
    ok = b"Content-Type: command/reply\nReply-Text: +OK\n\n"
    conn.sendall(b"Content-Type: auth/request\n\n")
    conn.recv(4096)
    conn.sendall(ok)
    conn.recv(4096)
    conn.sendall(ok)
    conn.recv(4096)
    body = b'{"row_count":0}'
    conn.sendall(b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body)


def bench(
    nodelay: bool,
    name: str,
    protocol: Callable[[], SourceProtocol],
    serve: Callable[[socket.socket], None],
    event: Callable[[str, str], bytes],
) -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    sink = Sink()
    runner = SourceRunner(name, ("127.0.0.1", srv.getsockname()[1]), protocol, sink, SystemClock())
    runner.start()
    conn, _ = srv.accept()
    if nodelay:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    serve(conn)
    sink.up.wait(5)
    sent: dict[str, float] = {}
    for i in range(150):  # paced: 300 events, 5 ms apart
        for kind in ("off-hook", "on-hook"):
            sent[f"{kind}:p{i}"] = time.monotonic()
            conn.sendall(event(kind, f"p{i}"))
            time.sleep(0.005)
    time.sleep(0.5)
    lat = [(sink.seen[k] - t) * 1000 for k, t in sent.items() if k in sink.seen]
    burst = b"".join(event(k, f"b{i}") for i in range(1000) for k in ("off-hook", "on-hook"))
    t0 = time.monotonic()
    conn.sendall(burst)
    deadline = time.monotonic() + 30
    while sink.ended < 1150 and time.monotonic() < deadline:
        time.sleep(0.01)
    took = time.monotonic() - t0
    runner.stop()
    conn.close()
    srv.close()
    q = statistics.quantiles(lat, n=100)
    print(
        f"{name:8} wire → core p50 {statistics.median(lat):.2f} ms, p99 {q[98]:.2f} ms "
        f"({len(lat)}/{len(sent)} events) · burst of 1000 pairs in {took * 1000:.0f} ms: "
        f"{sink.started - 150} started, {sink.ended - 150} ended, "
        f"{len(sink.tracker.active_calls)} stuck (goal ≤ 20 ms p99, 0 lost, 0 stuck)"
    )


def main() -> int:
    for nodelay in (True, False):
        print("peer with TCP_NODELAY:" if nodelay else "peer with Nagle (no TCP_NODELAY):")
        bench(nodelay, "baresip", lambda: BaresipProtocol(AOR), baresip_serve, baresip_event)
        bench(nodelay, "ami", lambda: AmiProtocol("u", "s", "PJSIP/1001"), ami_serve, ami_event)
        bench(nodelay, "esl", lambda: EslProtocol("pw", "1001"), esl_serve, esl_event)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
