"""Real peers: an Xvfb desktop with openbox, real Qt windows, the agent as a process, the
hook command, and the Secret Service (gnome-keyring under dbus-run-session).

Outside CI a missing peer skips the test with the reason; with CI=true it fails, so that a
broken set-up can never pass as green.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agentapp.demo.sample_window import SampleWindow
from agentapp.demo.virtual_display import VirtualDesktop, stop_process
from agentapp.platform.base import WindowInfo
from agentapp.vault.store import STATUS_COMPLETE, Vault

CI = os.environ.get("CI") == "true"

BUSINESS = SampleWindow("agentapp-business", "CRM — form", (40, 160, 60), (100, 100, 800, 450))
PRIVATE = SampleWindow("agentapp-private", "Private mail", (255, 0, 255), (600, 330, 700, 450))


def wait_until(what: Callable[[], object], why: str, timeout: float = 30) -> None:
    """Poll `what` every 0.2 s until it is true; fail with `why` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, why
        time.sleep(0.2)


def need(ok: bool, why: str) -> None:
    if ok:
        return
    if CI:
        pytest.fail(f"CI set-up is incomplete: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def desktop() -> Iterator[VirtualDesktop]:
    need(shutil.which("Xvfb") is not None and shutil.which("openbox") is not None,
         "Xvfb and openbox are not installed")  # fmt: skip
    d = VirtualDesktop().start()
    yield d
    d.stop()


@pytest.fixture(scope="session")
def keystore() -> None:
    from agentapp.vault.keys import keystore_problem

    problem = keystore_problem()
    need(problem is None, f"no real key store: {problem} (run under scripts/test.sh)")


@dataclass
class Windows:
    business: int
    private: int
    procs: list[subprocess.Popen[str]] = field(default_factory=list)


@pytest.fixture(scope="module")
def windows(desktop: VirtualDesktop) -> Iterator[Windows]:
    b, bid = BUSINESS.spawn(desktop.env)
    p, pid = PRIVATE.spawn(desktop.env)
    time.sleep(0.5)  # let openbox map and decorate both
    yield Windows(bid, pid, [b, p])
    left = _left_locked(desktop, bid)
    for proc in (b, p):
        proc.terminate()
        proc.wait(timeout=10)
    # the desktop is this worker's for the whole run: a module that leaves it locked (a
    # locker still running, the screen saver on) would fail the next module's recordings
    assert left is None, f"this module left the shared desktop locked: {left}"


def _left_locked(desktop: VirtualDesktop, business: int) -> str | None:
    from agentapp.platform.x11 import X11Locator

    locator = X11Locator(desktop.display)
    try:
        info = locator.describe(WindowInfo(business, (), None, None, None))
        return locator.locked(info) if info is not None else None
    finally:
        locator.close()


class Agent:
    """The real agent process (`agentapp run --headless`) and the real hook command."""

    def __init__(self, data: Path, env: dict[str, str]) -> None:
        self.data = data
        self.env = env
        self.proc: subprocess.Popen[str] | None = None

    def cli(
        self,
        *args: str,
        check: bool = True,
        user: str | None = None,
        env_extra: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """`agentapp ARGS`, as the agent or as another person (`user`: access rules)."""
        env = self.env if user is None else dict(self.env, AGENTAPP_USER=user)
        env = dict(env, **(env_extra or {}))
        r = subprocess.run([sys.executable, "-m", "agentapp", *args], env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
        if check:
            assert r.returncode == 0, f"agentapp {' '.join(args)}: {r.stderr}"
        return r

    def start(self, headless: bool = True) -> Agent:
        mode = ["--headless"] if headless else []
        sock = self.data / "run" / "hook.sock"
        sock.unlink(missing_ok=True)  # an earlier agent's (killed): wait for this one's
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentapp", "run", *mode], env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not sock.exists():
            assert self.proc.poll() is None, f"agent died: {self.proc.stdout.read()}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "agent did not start"
            time.sleep(0.05)
        return self

    def status(self) -> str:
        """What `agentapp status` prints, asked from this process by the same call over the
        agent's socket: for loops that poll it (a Python started every 0.2 s costs more than
        the test); a test that checks the command itself runs `cli("status")`."""
        from agentapp.telephony.hook import agent_status

        return json.dumps(agent_status(self.data), indent=1)

    def hook(self, event: str, call_id: str, *extra: str) -> str:
        return self.cli("hook", event, "--call-id", call_id, *extra).stdout.strip()

    def recordings(self) -> list[dict[str, object]]:
        return json.loads(self.cli("recordings", "list", "--json").stdout)  # type: ignore[no-any-return]

    def call(self, call_id: str, seconds: float = 2.0) -> dict[str, object]:
        """One call of `seconds`, through the hook; the recording it left, once sealed."""
        self.hook("off-hook", call_id)
        time.sleep(seconds)
        self.hook("on-hook", call_id)
        return self.wait_sealed()[-1]

    def wait_sealed(self, n: int = 1, timeout: float = 30) -> list[dict[str, object]]:
        """The recordings, once `n` or more are there and all sealed, as the real CLI lists
        them. The wait reads the recordings' metadata files and asks the CLI when they say
        so (or every 2 s): a CLI run costs 0.4 s of CPU, which a 0.1-s poll took from the
        agent under test on a 2-core machine."""
        deadline = time.monotonic() + timeout
        asked = 0.0
        while time.monotonic() < deadline:
            metas = Vault(self.data / "recordings").recordings()
            ready = len(metas) >= n and all(m.status == STATUS_COMPLETE for m in metas)
            if ready or time.monotonic() - asked >= 2.0:
                asked = time.monotonic()
                recs = self.recordings()
                if len(recs) >= n and all(r["status"] == "complete" for r in recs):
                    return recs
            time.sleep(0.1)
        raise AssertionError(f"no sealed recording after {timeout} s: {self.recordings()}"
                             f"{self.stacks()}")  # fmt: skip

    def stacks(self) -> str:
        """A stuck agent's threads (faulthandler on SIGUSR1), then the agent stopped: what
        it said on its stderr, for the failure's message."""
        if self.proc is None or self.proc.poll() is not None:
            return ""
        os.kill(self.proc.pid, signal.SIGUSR1)
        time.sleep(1.0)
        stop_process(self.proc)
        said = self.proc.stdout.read() if self.proc.stdout else ""
        return f"\nthe agent's threads, and what it said:\n{said[-6000:]}"

    def wait_log(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert time.monotonic() < deadline, f"{text!r} not in the agent log:\n{self.log()}"
            time.sleep(0.1)

    def frames(self, rid: str, out: Path) -> list[tuple[float, object]]:
        """The recording's frames as they are sealed on disk, decrypted in this process by the
        vault's own reader (the player's) with the key from this worker's key store: what a
        privacy test must look at, without the export's second encoding (one size: a resized
        window's frames padded, as the export pads them; no watermark band). The CLI's export
        (`exported_frames`) costs about 1.4 CPU-s a run for its Qt and its encoder; a test of
        the export itself uses it. An agent on another key store (another person's session
        bus) is read through the CLI, its watermark band cut off."""
        import numpy as np

        from agentapp.vault.export import BAND, Mark, marked_frames, open_segments
        from agentapp.vault.keys import load_private_from_keystore
        from agentapp.vault.sealing import key_id_of

        if self.env.get("DBUS_SESSION_BUS_ADDRESS") != os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            return [(t, bgr[:-BAND]) for t, bgr in self.exported_frames(rid, out)]  # type: ignore[index]
        vault = Vault(self.data / "recordings")
        private = load_private_from_keystore(key_id_of(vault.segment_paths(rid)[0]))
        blank = Mark("", lambda _text, width: np.zeros((BAND, width, 3), np.uint8))
        segments = open_segments(vault, rid, private)
        return [(t, canvas[:-BAND]) for t, canvas in marked_frames(segments, blank)]

    def exported_frames(self, rid: str, out: Path) -> list[tuple[float, object]]:
        """The frames of the recording exported by the real CLI (re-encoded, the watermark
        band under each)."""
        from agentapp.vault.export import iter_frames

        self.cli("recordings", "export", rid, "--out", str(out), "--reason", "test: check pixels")
        return list(iter_frames(out))

    def log(self) -> str:
        path = self.data / "agent.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)


@pytest.fixture
def make_agent(tmp_path: Path) -> Iterator[object]:
    started: list[Agent] = []

    def make(
        policy: str, *, env: dict[str, str], agent: str = "alice", keys: bool = True,
        ack: bool = True,
    ) -> Agent:  # fmt: skip
        data = tmp_path / "data"
        data.mkdir(exist_ok=True)
        (data / "policy.toml").write_text(policy)
        full = dict(env, AGENTAPP_DATA_DIR=str(data), AGENTAPP_AGENT=agent, AGENTAPP_USER=agent)
        a = Agent(data, full)
        if keys:
            a.cli("keys", "init")
        if ack and "[[enrolment]]" in policy:
            a.cli("notice", "acknowledge")
        started.append(a)
        return a

    yield make
    for a in started:
        a.stop()


def window_shot(title: str, env: dict[str, str], alive: Callable[[], bool]) -> object | None:
    """What the screen shows of the first window named `title` (BGR, its part on screen), a
    second after it appeared; None when `alive()` turns false before it does."""
    import mss
    import numpy as np

    deadline = time.monotonic() + 30
    wid = ""
    while not wid:
        if not alive():
            return None
        assert time.monotonic() < deadline, f"no window {title!r} appeared"
        wid = subprocess.run(["xdotool", "search", "--name", title], env=env,
                             capture_output=True, text=True).stdout.split("\n")[0]  # fmt: skip
        time.sleep(0.2)
    time.sleep(1.0)  # a few frames in
    geo = subprocess.run(["xdotool", "getwindowgeometry", "--shell", wid], env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    g = dict(line.split("=") for line in geo.split())
    x, y, w, h = (int(g[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
    with mss.MSS(display=env["DISPLAY"]) as grab:
        screen = grab.monitors[0]
        w, h = min(w, screen["width"] - x), min(h, screen["height"] - y)  # on screen only
        return np.asarray(grab.grab({"left": x, "top": y, "width": w, "height": h}))[..., :3]


def run_cli(who: str, folder: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:  # fmt: skip
    """`agentapp ARGV --data-dir FOLDER` in this process as `who`: (exit code, what it said)."""
    from agentapp import cli

    monkeypatch.setenv("AGENTAPP_USER", who)
    code = cli.main([*argv, "--data-dir", str(folder)])
    out = capsys.readouterr()
    return code, out.out + out.err
