"""The backbone on a real X desktop: a call through the real hook, only the business window
recorded, sealed with a key from the real key store, exported and checked pixel by pixel."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from Xlib import display

from agentapp.core.events import CallEvent, EventKind
from agentapp.demo.virtual_display import VirtualDesktop
from agentapp.telephony.hook import send_event
from agentapp.vault.export import BAND, iter_frames
from tests.integration.conftest import BUSINESS, PRIVATE, Agent, Windows
from tests.pixels import near
from tests.policies import policy_text

pytestmark = [pytest.mark.x11, pytest.mark.keystore]
FPS = 10
MAGENTA_BGR = np.array([255, 0, 255], np.int16)
GREEN_BGR = np.array([60, 160, 40], np.int16)


def frame_rect_on_root(disp: str, wid: int) -> tuple[int, int, int, int]:
    """The WM frame (title bar and borders included) holding client `wid`, measured
    independently of the code under test."""
    d = display.Display(disp)
    try:
        w = d.create_resource_object("window", wid)
        root = d.screen().root
        while (parent := w.query_tree().parent).id != root.id:
            w = parent
        g = w.get_geometry()
        return g.x, g.y, g.width + 2 * g.border_width, g.height + 2 * g.border_width
    finally:
        d.close()


def export(agent: Agent, rid: str, tmp_path: Path) -> list[tuple[float, np.ndarray]]:
    out = tmp_path / "export.mp4"
    agent.cli("recordings", "export", rid, "--out", str(out), "--reason", "test: check pixels")
    return list(iter_frames(out))


def test_call_records_only_the_business_window(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    agent = make_agent(policy_text("alice", fps=FPS), env=desktop.env).start()
    # between calls the agent holds no video codec (PyAV's libraries, about 40 MB): it loads
    # at the first off-hook
    assert agent.proc is not None
    assert "libavcodec" not in Path(f"/proc/{agent.proc.pid}/maps").read_text()
    t_off = time.time()
    assert agent.hook("off-hook", "call-1") == "ok: recording"
    time.sleep(3.0)
    # (loaded on a thread of its own at the off-hook, while the first frame waits)
    assert "libavcodec" in Path(f"/proc/{agent.proc.pid}/maps").read_text()
    t_on = time.time()  # sent over the real protocol with this exact time
    on_hook = CallEvent(EventKind.ON_HOOK, "call-1", t_on)
    assert send_event(agent.data / "run" / "hook.sock", on_hook) == "ok: recording stopped"
    (rec,) = agent.wait_sealed()
    assert rec["agent"] == "alice" and rec["purpose"] == "training"
    assert rec["capture_mode"] == "composite"
    # off-hook time = the hook command's process start, known to the kernel's 10 ms tick
    assert t_off - 0.02 <= float(rec["started_at"]) <= t_on  # type: ignore[arg-type]
    frames = export(agent, str(rec["id"]), tmp_path)

    # (c) frames only between off-hook and on-hook (one frame interval of slack)
    call_len = t_on - float(rec["started_at"])  # type: ignore[arg-type]
    times = [t for t, _ in frames]
    assert min(times) >= 0 and max(times) <= call_len + 1 / FPS
    assert len(frames) >= 0.6 * 3.0 * FPS

    # Where the private window's frame (title bar included) covers the business client area
    bx, by, bw, bh = BUSINESS.geometry
    fx, fy, fw, fh = frame_rect_on_root(desktop.display, windows.private)
    x0, y0 = max(fx, bx) - bx, max(fy, by) - by
    x1, y1 = min(fx + fw, bx + bw) - bx, min(fy + fh, by + bh) - by
    assert x1 - x0 > 100 and y1 - y0 > 100, "the private window must overlap the business one"
    _, py, _, _ = PRIVATE.geometry
    assert fy < py, "the frame includes a title bar above the private client area"
    m = 3  # codec margin at the mask edge
    for _, bgr in frames:
        assert bgr.shape[:2] == (bh + BAND, bw)  # the watermark band is added under the window
        band = bgr[bh + 2 :]
        assert (band.max(axis=2) > 200).mean() > 0.01 and (band.max(axis=2) < 60).mean() > 0.5
        # (a) no private pixel anywhere, title bar included: per-window capture reads the
        # business window's own pixels, so the part under the private window is business
        assert not near(bgr, MAGENTA_BGR, 80).any()
        assert near(bgr[y0 + m : y1 - m, x0 + m : x1 - m], GREEN_BGR, 25).mean() > 0.99
        # (b) the visible business pixels are there
        visible = bgr[200:360, 300:700]
        assert near(visible, GREEN_BGR, 25).mean() > 0.99

    # (f) the vault holds no plaintext video; files are private to the service account
    banned = [b"ftyp", b"moov", b"mdat", b"\x1a\x45\xdf\xa3", b"x264", b"Lavf", b"Lavc"]
    for path in (agent.data / "recordings").rglob("*"):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if path.is_dir():
            assert mode == 0o700, path
            continue
        assert mode == 0o600, path
        blob = path.read_bytes()
        assert not [b for b in banned if b in blob], f"plaintext video marker in {path}"
    assert list((agent.data / "recordings").rglob("seg-*.seal"))
    # the export was traced with its reason
    assert "test: check pixels" in (agent.data / "audit.jsonl").read_text()


def _wm_state(disp: str, wid: int) -> str:
    out = subprocess.run(["xwininfo", "-id", str(wid), "-display", disp], capture_output=True,
                         text=True, timeout=10).stdout  # fmt: skip
    return re.search(r"Map State: (\w+)", out).group(1)  # type: ignore[union-attr]


def _wait_state(disp: str, wid: int, want: str) -> float:
    deadline = time.monotonic() + 10
    while _wm_state(disp, wid) != want:
        assert time.monotonic() < deadline, f"window never became {want}"
        time.sleep(0.02)
    return time.time()


def test_minimised_window_produces_no_frames(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    env = desktop.env
    agent = make_agent(policy_text("alice", fps=FPS), env=env).start()
    agent.hook("off-hook", "call-min")
    time.sleep(1.5)
    t_cmd_min = time.time()
    subprocess.run(["xdotool", "windowminimize", str(windows.business)], env=env, check=True)
    t_hidden = _wait_state(desktop.display, windows.business, "IsUnMapped")
    time.sleep(2.0)
    t_cmd_restore = time.time()
    subprocess.run(["xdotool", "windowactivate", str(windows.business)], env=env, check=True)
    _wait_state(desktop.display, windows.business, "IsViewable")
    time.sleep(1.5)
    agent.hook("on-hook", "call-min")
    (rec,) = agent.wait_sealed()
    start = float(rec["started_at"])  # type: ignore[arg-type]
    walls = [start + t for t, _ in export(agent, str(rec["id"]), tmp_path)]
    assert any(w < t_cmd_min for w in walls) and any(w > t_cmd_restore for w in walls)
    gap = [w for w in walls if t_hidden + 1 / FPS < w < t_cmd_restore]
    assert gap == [], f"{len(gap)} frames written while the window was minimised"
    assert "minimised or hidden" in agent.log()


def test_not_enrolled_agent_gets_no_recording(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
) -> None:  # fmt: skip
    agent = make_agent(policy_text("bob"), env=desktop.env, agent="alice").start()
    reply = agent.hook("off-hook", "call-x")
    assert reply == "ok: not recording (not enrolled in any training)"
    time.sleep(1.0)
    agent.hook("on-hook", "call-x")
    assert agent.recordings() == []
    assert not any((agent.data / "recordings").iterdir())
    status = agent.cli("status").stdout
    assert "not recorded" in status


def test_window_moved_mid_call_is_followed(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    env = desktop.env
    agent = make_agent(policy_text("alice", fps=FPS), env=env).start()
    agent.hook("off-hook", "call-move")
    time.sleep(1.0)
    # Move the business window away from the private one: the mask must go with it.
    subprocess.run(["xdotool", "windowmove", str(windows.business), "0", "0"], env=env, check=True)
    time.sleep(1.5)
    agent.hook("on-hook", "call-move")
    (rec,) = agent.wait_sealed()
    frames = export(agent, str(rec["id"]), tmp_path)
    for _, bgr in frames:
        assert not near(bgr, MAGENTA_BGR, 80).any()
    last = frames[-1][1]
    # After the move the business window's bottom-right corner is no longer covered.
    assert near(last[400:440, 740:790], GREEN_BGR, 25).mean() > 0.99
    subprocess.run(["xdotool", "windowmove", str(windows.business), "100", "100"], env=env,
                   check=True)  # fmt: skip


def test_slow_local_clients_cannot_delay_the_on_hook(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    """A process of the same user holding three silent connections and trickling a byte every
    1.5 s (seen: a 3.4 s call gave 15.5 s of video): the off-hook's answer is the truth, the
    on-hook ends the recording at once, and no decoded frame lies after it."""
    import socket
    import threading

    agent = make_agent(policy_text("alice", fps=FPS), env=desktop.env).start()
    sock = agent.data / "run" / "hook.sock"
    held = []
    for _ in range(3):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(str(sock))
        held.append(c)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(1.5):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            held.append(c)
            c.connect(str(sock))
            c.send(b"{")

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        time.sleep(0.5)
        assert agent.hook("off-hook", "call-slow") == "ok: recording"
        time.sleep(3.0)
        t0 = time.time()
        assert agent.hook("on-hook", "call-slow").startswith("ok")
        answered = time.time() - t0
    finally:
        stop.set()
        t.join(5)
        for c in held:
            c.close()
    (rec,) = agent.wait_sealed()
    assert answered < 1.5, f"the on-hook took {answered:.2f} s"
    assert rec["end_reason"] == "on-hook" and 2.5 < float(rec["duration_s"]) < 4.5, rec  # type: ignore[arg-type]
    frames = export(agent, str(rec["id"]), tmp_path)
    assert frames and max(t for t, _ in frames) <= float(rec["duration_s"]) + 0.05  # type: ignore[arg-type]


def test_status_is_answered_from_memory_when_the_status_file_cannot_be_written(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
) -> None:  # fmt: skip
    """A full or broken data folder must not leave an old "recording" on screen: `agentapp
    status` asks the running agent; once it is gone, it says so."""
    import json
    import shutil

    agent = make_agent(policy_text("alice", fps=FPS), env=desktop.env).start()
    status_file = agent.data / "run" / "status.json"
    deadline = time.monotonic() + 5
    while not status_file.is_dir():  # nothing can be written there any more
        assert time.monotonic() < deadline, "could not put a folder in the status file's place"
        status_file.unlink(missing_ok=True)
        try:
            status_file.mkdir()
        except FileExistsError:  # the starting agent renamed a new status file into place
            continue
    assert agent.hook("off-hook", "call-s") == "ok: recording"
    time.sleep(1.0)
    assert json.loads(agent.cli("status").stdout)["state"] == "recording"
    agent.hook("on-hook", "call-s")
    agent.wait_sealed()
    deadline = time.monotonic() + 10
    while json.loads(agent.status())["state"] == "recording":
        assert time.monotonic() < deadline, "status still says recording after the call"
        time.sleep(0.1)
    agent.wait_log("cannot write status file")
    agent.stop()
    shutil.rmtree(status_file)
    gone = json.loads(agent.cli("status").stdout)
    assert gone["state"] == "stopped" and "not running" in gone["detail"], gone


def test_a_kill_9_mid_call_loses_at_most_about_two_seconds(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    """kill -9 (or a power loss) at random moments of a call, default segment length: on the
    next start the recording is kept as interrupted, and its decoded video reaches to within
    2.5 s of the kill (the look-behind plus one sealed fragment of ~1.5 s)."""
    import random
    import signal

    rng = random.Random(20261201)
    agent = make_agent(policy_text("alice", fps=FPS), env=desktop.env)
    losses = []
    for trial, length in enumerate(rng.uniform(0.8, 9.0) for _ in range(3)):
        (tmp_path / f"trial-{trial}").mkdir()
        agent.start()
        assert agent.hook("off-hook", f"call-kill-{trial}") == "ok: recording"
        time.sleep(length)
        assert agent.proc is not None
        os.kill(agent.proc.pid, signal.SIGKILL)
        killed_at = time.time()
        agent.proc.wait(10)
        agent.start()
        deadline = time.monotonic() + 20
        while agent.log().count("was interrupted by a stop") <= trial:
            assert time.monotonic() < deadline, agent.log()
            time.sleep(0.1)
        agent.stop()
        rec = next(r for r in agent.recordings() if r["status"] == "interrupted"
                   and not any(x == r["id"] for x, _ in losses))  # fmt: skip
        frames = export(agent, str(rec["id"]), tmp_path / f"trial-{trial}")
        call_len = killed_at - float(rec["started_at"])  # type: ignore[arg-type]
        losses.append((rec["id"], call_len - max(t for t, _ in frames)))
    worst = max(loss for _, loss in losses)
    print("kill -9 losses (s):", [round(loss, 2) for _, loss in losses])
    assert worst <= 2.5, losses
