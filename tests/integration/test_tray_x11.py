"""The tray agent on a real X desktop: a real tray host (trayer), the fallback window where
there is none, and a recording badge that is never itself recorded."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from agentapp.demo.virtual_display import VirtualDesktop
from agentapp.ui.indicator import TITLE
from tests.integration.conftest import BUSINESS as BUSINESS_WINDOW
from tests.integration.conftest import Agent, Windows
from tests.pixels import count_near
from tests.policies import policy_text

pytestmark = [pytest.mark.x11, pytest.mark.keystore]
BADGE_RED_BGR = np.array([40, 40, 198], np.int16)


def test_tray_icon_and_badge_not_recorded(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    env = desktop.env
    agent = make_agent(policy_text("alice"), env=env).start(headless=False)
    agent.wait_log("tray icon shown in the system tray")
    assert _doctor(agent)["tray"]["ok"]
    # Put the business window under the badge (top centre of the screen).
    subprocess.run(["xdotool", "windowmove", str(windows.business), "300", "0"], env=env,
                   check=True)  # fmt: skip
    time.sleep(0.5)
    try:
        agent.hook("off-hook", "call-t")
        tree = ""
        deadline = time.monotonic() + 10
        while TITLE not in tree and time.monotonic() < deadline:
            tree = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True,
                                  text=True).stdout  # fmt: skip
            time.sleep(0.2)
        badge = next(ln for ln in tree.splitlines() if TITLE in ln)
        time.sleep(2.0)
        agent.hook("on-hook", "call-t")
        (rec,) = agent.wait_sealed()
        frames = agent.frames(str(rec["id"]), tmp_path / "t.mp4")
    finally:
        subprocess.run(["xdotool", "windowmove", str(windows.business), "100", "100"], env=env,
                       check=True)  # fmt: skip
    # the badge's geometry on the root, as xwininfo reports it: "WxH+X+Y  +X+Y"
    y = int(badge.split()[-2].split("+")[2])
    assert y < 60, badge  # it does sit over the business window, which starts at y≈20
    for _, bgr in frames:
        arr = np.asarray(bgr)
        assert count_near(arr, BADGE_RED_BGR, 50) == 0, (
            "the recording badge appears in the recording"
        )


def test_without_tray_host_the_status_window_is_shown(
    keystore: None, make_agent: Callable[..., Agent],
) -> None:  # fmt: skip
    with VirtualDesktop(tray=False) as bare:
        agent = make_agent(policy_text("alice"), env=bare.env).start(headless=False)
        agent.wait_log("no system tray yet: showing the status window")
        tree = subprocess.run(["xwininfo", "-root", "-tree"], env=bare.env, capture_output=True,
                              text=True).stdout  # fmt: skip
        assert '"agentapp"' in tree
        agent.stop()
        tray = _doctor(agent)["tray"]
        assert not tray["ok"] and "status window" in tray["detail"]


def _doctor(agent: Agent) -> dict[str, dict[str, object]]:
    import json

    checks = json.loads(agent.cli("doctor", "--json", check=False).stdout)
    return {c["name"]: c for c in checks}


@pytest.mark.parametrize("tray", [True, False], ids=["tray host", "status window"])
def test_sigterm_mid_call_stops_the_tray_agent_and_seals(
    desktop: VirtualDesktop, keystore: None, windows: Windows, make_agent: Callable[..., Agent],
    tmp_path: Path, tray: bool,
) -> None:  # fmt: skip
    """Logout, shutdown and package removal send SIGTERM: the tray agent (the recording badge
    shown, and the status window where there is no tray) exits and seals what it captured."""
    import signal

    with VirtualDesktop(tray=False) if not tray else contextlib.nullcontext(desktop) as d:
        assert d is not None
        procs = [] if tray else [BUSINESS_WINDOW.spawn(d.env)[0]]
        try:
            agent = make_agent(policy_text("alice"), env=d.env).start(headless=False)
            agent.wait_log("tray icon shown" if tray else "showing the status window")
            assert agent.hook("off-hook", "call-term") == "ok: recording"
            time.sleep(2.5)
            assert agent.proc is not None
            t0 = time.monotonic()
            agent.proc.send_signal(signal.SIGTERM)
            try:
                agent.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pytest.fail("the tray agent ignored SIGTERM for 15 s")
            took = time.monotonic() - t0
        finally:
            for p in procs:
                p.terminate()
                p.wait(timeout=10)
    (rec,) = agent.recordings()
    assert rec["status"] == "complete" and rec["end_reason"] == "agent stopped", rec
    frames = agent.frames(str(rec["id"]), tmp_path / "term.mp4")
    assert len(frames) >= 10 and max(t for t, _ in frames) > 1.5
    assert took < 3.0, f"exit and seal took {took:.2f} s"
