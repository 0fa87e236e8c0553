"""Secure pause and caller objects on a real X desktop: a real key press through the X server
(xdotool → pynput), a real sensitive window, the real control command."""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agentapp.core.policy import DEFAULT_LOOKBEHIND_MS
from agentapp.platform.virtual_display import VirtualDesktop
from agentapp.ui.sample_window import SampleWindow
from tests.integration.conftest import Agent, Windows
from tests.policies import policy_text

pytestmark = [pytest.mark.x11, pytest.mark.keystore]
FPS = 10
LOOKBEHIND_S = DEFAULT_LOOKBEHIND_MS / 1000
PAYMENT = SampleWindow("agentapp-payment", "Card payment", (250, 250, 250), (1450, 120, 400, 300))


def walls(agent: Agent, rec: dict[str, object], tmp_path: Path) -> list[float]:
    start = float(rec["started_at"])  # type: ignore[arg-type]
    return [start + t for t, _ in agent.frames(str(rec["id"]), tmp_path / "out.mp4")]


def test_hotkey_pause_leaves_a_gap_as_long_as_the_pause(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    agent = make_agent(policy_text("alice", fps=FPS), env=desktop.env).start()
    agent.wait_log("agent running")
    assert "hotkey unavailable" not in agent.log()
    agent.hook("off-hook", "call-p")
    time.sleep(1.5)
    t_press = time.time()
    subprocess.run(["xdotool", "key", "ctrl+alt+p"], env=desktop.env, check=True)
    agent.wait_log("recording paused (agent)")
    time.sleep(2.0)
    t_press2 = time.time()
    subprocess.run(["xdotool", "key", "ctrl+alt+p"], env=desktop.env, check=True)
    agent.wait_log("recording resumed")
    time.sleep(1.5)
    agent.hook("on-hook", "call-p")
    (rec,) = agent.wait_sealed()
    w = walls(agent, rec, tmp_path)
    ((a, b),) = rec["paused_spans"]  # type: ignore[misc]
    pause_len = b - a
    assert abs(pause_len - (t_press2 - t_press)) < 0.5  # key-press delivery included
    gaps = [y - x for x, y in itertools.pairwise(w)]
    # the video's gap is the pause, and the look-behind before it (its reads are dropped)
    assert abs(max(gaps) - (pause_len + LOOKBEHIND_S)) < 0.25
    start = float(rec["started_at"])  # type: ignore[arg-type]
    assert not [t for t in w if start + a + 0.02 < t < start + b - 0.02]


def test_sensitive_window_pauses_capture_while_visible(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    policy = policy_text("alice", fps=FPS, sensitive_class=PAYMENT.wm_class)
    agent = make_agent(policy, env=desktop.env).start()
    agent.hook("off-hook", "call-s")
    time.sleep(1.5)
    t_show = time.time()
    page, _ = PAYMENT.spawn(desktop.env)
    try:
        agent.wait_log("while 'Payment' is visible")
        time.sleep(1.5)
        status = json.loads(agent.cli("status").stdout)
        assert status["state"] == "paused" and "Payment" in status["detail"]
    finally:
        t_hide = time.time()
        page.terminate()
        page.wait(timeout=10)
    agent.wait_log("recording resumed")
    time.sleep(1.0)
    agent.hook("on-hook", "call-s")
    (rec,) = agent.wait_sealed()
    w = walls(agent, rec, tmp_path)
    ((a, b),) = rec["paused_spans"]  # type: ignore[misc]
    start = float(rec["started_at"])  # type: ignore[arg-type]
    assert t_show - 0.1 <= start + a <= t_hide and start + b >= t_hide - 0.1
    assert not [t for t in w if start + a + 0.02 < t < start + b - 0.02]
    assert any(t < start + a for t in w) and any(t > start + b for t in w)


def test_caller_objects_leaves_no_recording(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
) -> None:  # fmt: skip
    agent = make_agent(policy_text("alice", fps=FPS), env=desktop.env).start()
    agent.hook("off-hook", "call-obj-4711")
    time.sleep(1.5)
    out = agent.cli("control", "caller-objects").stdout
    assert out.strip() == "ok: recording stopped and erased"
    agent.hook("on-hook", "call-obj-4711")
    time.sleep(0.5)
    assert agent.recordings() == []
    assert not any((agent.data / "recordings").iterdir())
    trace = (agent.data / "audit.jsonl").read_text() + agent.log()
    assert "caller objected" in trace and "obj-4711" not in trace  # no call id (hex may hold 4711)


def _i3lock(env: dict[str, str]) -> Callable[[], None]:
    p = subprocess.Popen(["i3lock", "-n", "-c", "202020"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def unlock() -> None:
        p.terminate()
        p.wait(timeout=10)

    return unlock


def _screen_saver(env: dict[str, str]) -> Callable[[], None]:
    from Xlib import X, display

    d = display.Display(env["DISPLAY"])
    d.force_screen_saver(X.ScreenSaverActive)
    d.sync()

    def unlock() -> None:
        d.force_screen_saver(X.ScreenSaverReset)
        d.sync()
        d.close()

    return unlock


@pytest.mark.parametrize("lock", ["i3lock", "screen saver"])
def test_a_screen_lock_pauses_the_recording_until_unlock(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path, lock: str,
) -> None:  # fmt: skip
    """Per-window capture would go on reading the business window under a locker: a real
    i3lock (a full-screen window of another client) and the X server's own screen saver
    pause the recording, said in the status, and it resumes on unlock."""
    if lock == "i3lock":
        need_tool = __import__("shutil").which("i3lock")
        assert need_tool, "i3lock is not installed (Debian: i3lock)"
    agent = make_agent(policy_text("alice", fps=FPS), env=desktop.env).start()
    agent.hook("off-hook", "call-lock")
    time.sleep(1.5)
    t_lock = time.time()
    unlock = (_i3lock if lock == "i3lock" else _screen_saver)(desktop.env)
    try:
        deadline = time.monotonic() + 5
        while "locked" not in (status := json.loads(agent.cli("status").stdout))["detail"] and (
            "screen saver" not in status["detail"]
        ):
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        assert status["state"] == "paused", status
        time.sleep(1.5)
    finally:
        t_unlock = time.time()
        unlock()
    time.sleep(1.5)
    agent.hook("on-hook", "call-lock")
    (rec,) = agent.wait_sealed()
    frames = walls(agent, rec, tmp_path)
    start = float(rec["started_at"])  # type: ignore[arg-type]
    assert rec["paused_spans"], rec
    assert not [w for w in frames if t_lock + 0.5 < w < t_unlock], "frames while locked"
    assert [w for w in frames if w < t_lock] and [w for w in frames if w > t_unlock + 0.5]
    (a, b) = rec["paused_spans"][0]  # type: ignore[index]
    assert t_lock - 0.2 < start + a < t_lock + 1.0 and t_unlock < start + b < t_unlock + 1.5
