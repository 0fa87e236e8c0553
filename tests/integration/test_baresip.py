"""Real SIP calls: two baresip instances (Debian baresip-core) and SIPp (sip-tester) on
loopback, the agent as a process following the agent-side baresip over ctrl_tcp through a
proxy the test can cut. Everything started here is stopped here, by PID."""

from __future__ import annotations

import json
import re
import select
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentapp.demo.virtual_display import VirtualDesktop, stop_process
from agentapp.telephony.baresip import NetstringDecoder, netstring
from tests.integration.conftest import Agent, Windows, need
from tests.policies import CAPACITY, policy_text

pytestmark = [pytest.mark.x11, pytest.mark.keystore]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            time.sleep(0.05)


CONFIG = """poll_method epoll
sip_listen 127.0.0.1:{sip}
net_interface 127.0.0.1
audio_player alsa,null
audio_source ausine,440
audio_alert alsa,null
ausrc_srate 48000
ausrc_channels 2
module_path /usr/lib/baresip/modules
module g711.so
module ausine.so
module alsa.so
module_tmp uuid.so
module_tmp account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{ctrl}
"""


@dataclass
class Phone:
    sip: int
    ctrl: int
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop_process(self.proc, timeout=5)

    def command(self, command: str, params: str = "") -> None:
        """Send a command to this baresip's ctrl_tcp (one short-lived client)."""
        with socket.create_connection(("127.0.0.1", self.ctrl), timeout=5) as s:
            body = {"command": command, "params": params, "token": "t"}
            s.sendall(netstring(json.dumps(body).encode()))
            decoder, deadline = NetstringDecoder(), time.monotonic() + 5
            while time.monotonic() < deadline:
                for frame in decoder.feed(s.recv(65536)):
                    if json.loads(frame).get("response"):
                        return


def start_phone(folder: Path, accounts: list[str]) -> Phone:
    """A baresip on two free ports; started again on two others if it dies first (another
    worker's program may take a port between our look and its bind)."""
    folder.mkdir()
    said = ""
    for _attempt in range(3):
        sip, ctrl = free_port(), free_port()
        (folder / "config").write_text(CONFIG.format(sip=sip, ctrl=ctrl))
        (folder / "accounts").write_text(
            "".join(
                f"<sip:{a}@127.0.0.1:{sip}>;regint=0;{extra}audio_codecs=pcmu\n"
                for a, extra in (x.split("|") for x in accounts)
            )
        )
        with open(folder / "baresip.log", "wb") as log:
            proc = subprocess.Popen(["baresip", "-f", str(folder)], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + 20  # (its start-up, with the suite on 2 cores)
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", ctrl), timeout=0.2).close()
                return Phone(sip, ctrl, proc)
            except OSError:
                time.sleep(0.05)
        stop_process(proc)
        said = (folder / "baresip.log").read_text(errors="replace")[-2000:]
    raise AssertionError(f"baresip never listened on its control port; it said:\n{said}")


class Proxy:
    """TCP relay the test controls: `cut()` drops the live connection; `down(s)` refuses new
    ones for a while (the agent cannot reconnect)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._srv = socket.socket()
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(4)
        self._srv.settimeout(0.1)
        self.port = self._srv.getsockname()[1]
        self._stop = threading.Event()
        self._refuse_until = 0.0
        self._live: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def cut(self, down_for: float = 0.0) -> None:
        self._refuse_until = time.monotonic() + down_for
        for s in list(self._live):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self) -> None:
        self._stop.set()
        self.cut()
        self._thread.join(timeout=5)
        self._srv.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._srv.accept()
            except TimeoutError:
                continue
            if time.monotonic() < self._refuse_until:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self._live += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.2)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                s.close()
                if s in self._live:
                    self._live.remove(s)


@dataclass
class Line:
    agent_phone: Phone
    caller: Phone
    proxy: Proxy


@pytest.fixture
def line(tmp_path: Path) -> Iterator[Line]:
    need(shutil.which("baresip") is not None, "baresip is not installed (Debian baresip-core)")
    agent_phone = start_phone(
        tmp_path / "agent-phone", ["agent|answermode=auto;", "other|answermode=auto;"]
    )
    caller = start_phone(tmp_path / "caller-phone", ["caller|"])
    proxy = Proxy(agent_phone.ctrl)
    yield Line(agent_phone, caller, proxy)
    proxy.stop()
    for phone in (caller, agent_phone):
        phone.stop()


def baresip_agent(make_agent: Callable[..., Agent], env: dict[str, str], line: Line) -> Agent:
    agent = make_agent(policy_text("alice", quota=50, extra=CAPACITY), env=env)
    (agent.data / "agent.toml").write_text(
        f'[source]\nkind = "baresip"\nport = {line.proxy.port}\n'
        f'account = "sip:agent@127.0.0.1:{line.agent_phone.sip}"\n'
    )
    agent.start()
    agent.wait_log("connected; 0 call(s) in progress")
    return agent


def events_in_log(agent: Agent) -> list[tuple[str, str]]:
    return re.findall(r"(off-hook|on-hook) (call#\w+) from baresip", agent.log())


def test_real_call_records_from_answer_to_hangup(
    desktop: VirtualDesktop,
    keystore: None,
    windows: Windows,
    make_agent: Callable[..., Agent],
    line: Line,
) -> None:
    agent = baresip_agent(make_agent, desktop.env, line)
    line.caller.command("dial", f"sip:agent@127.0.0.1:{line.agent_phone.sip}")
    agent.wait_log("status: recording")
    time.sleep(1.5)
    line.caller.command("hangup")
    (rec,) = agent.wait_sealed()
    assert rec["end_reason"] == "on-hook" and 1.0 < float(rec["duration_s"]) < 4.0  # type: ignore[arg-type]
    (off, cid), (on, cid2) = events_in_log(agent)
    assert (off, on) == ("off-hook", "on-hook") and cid == cid2


def test_calls_of_another_account_are_ignored(
    desktop: VirtualDesktop,
    keystore: None,
    windows: Windows,
    make_agent: Callable[..., Agent],
    line: Line,
) -> None:
    agent = baresip_agent(make_agent, desktop.env, line)
    line.caller.command("dial", f"sip:other@127.0.0.1:{line.agent_phone.sip}")
    time.sleep(2.0)
    line.caller.command("hangup")
    time.sleep(1.0)
    assert events_in_log(agent) == [] and agent.recordings() == []


def test_control_connection_cut_mid_call_then_resync(
    desktop: VirtualDesktop,
    keystore: None,
    windows: Windows,
    make_agent: Callable[..., Agent],
    line: Line,
) -> None:
    agent = baresip_agent(make_agent, desktop.env, line)
    dial = f"sip:agent@127.0.0.1:{line.agent_phone.sip}"
    # 1. Cut during a call: the recording stops at once (no event source, no recording).
    line.caller.command("dial", dial)
    agent.wait_log("status: recording")
    time.sleep(1.0)
    line.proxy.cut()
    (rec,) = agent.wait_sealed()
    assert str(rec["end_reason"]).startswith("event source lost")
    agent.wait_log("connected; 1 call(s) in progress")  # re-synced: the cut call is not reopened
    time.sleep(0.5)
    assert len(agent.recordings()) == 1
    line.caller.command("hangup")
    time.sleep(1.0)
    # 2. A call that starts while the agent is disconnected is picked up at the re-sync.
    line.proxy.cut(down_for=3.0)
    agent.wait_log("down: ")
    line.caller.command("dial", dial)
    agent.wait_sealed(n=1)
    deadline = time.monotonic() + 20
    while len(agent.recordings()) < 2:
        assert time.monotonic() < deadline, "the call in progress was not picked up"
        time.sleep(0.1)
    time.sleep(1.0)
    line.caller.command("hangup")
    recs = agent.wait_sealed(n=2)
    assert recs[1]["end_reason"] == "on-hook"


def test_sipp_call(
    desktop: VirtualDesktop,
    keystore: None,
    windows: Windows,
    make_agent: Callable[..., Agent],
    line: Line,
) -> None:
    need(shutil.which("sipp") is not None, "sipp is not installed (Debian sip-tester)")
    agent = baresip_agent(make_agent, desktop.env, line)
    sipp = subprocess.run(
        [
            "sipp",
            "-sn",
            "uac",
            "-s",
            "agent",
            "-i",
            "127.0.0.1",
            "-p",
            str(free_port()),
            "-m",
            "1",
            "-d",
            "2000",
            "-nostdin",
            "-timeout",
            "20s",
            "-timeout_error",
            f"127.0.0.1:{line.agent_phone.sip}",
        ],
        capture_output=True,
        timeout=40,
        cwd=agent.data,
    )
    assert sipp.returncode == 0, sipp.stdout[-2000:]
    (rec,) = agent.wait_sealed()
    assert rec["end_reason"] == "on-hook" and 1.5 < float(rec["duration_s"]) < 4.0  # type: ignore[arg-type]
    (off, cid), (on, cid2) = events_in_log(agent)
    assert (off, on) == ("off-hook", "on-hook") and cid == cid2
