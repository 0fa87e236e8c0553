"""The agent under GNOME Shell on Wayland (tests/gnome.py: a real headless gnome-shell 43,
PipeWire, WirePlumber, the project's desk extension): it finds the business window through
the extension, reads its pixels from Mutter's ScreenCast of that window alone, and records
nothing of a window above it; the extension answers the agent's program only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from agentapp.demo.sample_window import SampleWindow
from agentapp.demo.virtual_display import stop_process
from tests.gnome import GnomeSession, missing_tools, press_keys
from tests.integration.conftest import Agent, need, wait_until
from tests.pixels import near
from tests.policies import policy_text

GREEN_BGR = np.array([60, 160, 40], np.int16)
MAGENTA_BGR = np.array([255, 0, 255], np.int16)
AGENT_EXE = os.path.realpath(sys.executable)
CTRL_ALT_P = (
    0xFFE3,
    0xFFE9,
    0x70,
)  # keysyms: Control_L, Alt_L, p  # what /proc/<pid>/exe shows for the agent


@pytest.fixture(scope="module")
def gnome() -> Iterator[GnomeSession]:
    missing = missing_tools()
    need(not missing, f"GNOME Shell on Wayland needs {', '.join(missing)}")
    with GnomeSession(size=(1024, 640), callers=(AGENT_EXE,)) as session:
        yield session


@pytest.fixture
def apps(gnome: GnomeSession) -> Iterator[Callable[..., int]]:
    started: list[subprocess.Popen[str]] = []

    def open_window(wm_class: str, title: str, color: tuple[int, int, int],
                    geometry: tuple[int, int, int, int], still: bool = False,
                    retitle: str | None = None) -> int:  # fmt: skip
        env = dict(gnome.env, QT_QPA_PLATFORM="wayland")
        sample = SampleWindow(wm_class, title, color, geometry, still=still, retitle=retitle)
        proc, _ = sample.spawn(env)
        started.append(proc)
        return proc.pid

    yield open_window
    for proc in started:
        stop_process(proc)


def test_the_desk_extension_answers_the_agents_program_only(
    gnome: GnomeSession, apps: Callable[..., int]
) -> None:
    apps("other-app", "Private mail", (255, 0, 255), (300, 200, 400, 300), still=True)
    time.sleep(1.0)
    code = ("from agentapp.platform.gnome_desk import DeskClient\n"
            "d = DeskClient(); print([w.title for w in d.state().windows]); d.close()")  # fmt: skip
    ours = subprocess.run([sys.executable, "-c", code], env=gnome.env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert ours.returncode == 0 and "Private mail" in ours.stdout, ours.stderr
    # Any other program on the session bus (here dbus-send): refused, the titles not given.
    stranger = subprocess.run(
        ["dbus-send", "--session", "--print-reply", "--dest=org.agentapp.Desk",
         "/org/agentapp/Desk", "org.agentapp.Desk1.Windows"],
        env=gnome.env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert stranger.returncode != 0 and "Private mail" not in stranger.stdout
    assert "org.agentapp.Desk.Error.AccessDenied" in stranger.stderr, stranger.stderr


def _indicator(gnome: GnomeSession) -> str:
    code = ("from agentapp.platform.gnome_desk import DeskClient\n"
            "d = DeskClient(); print(d.state().indicator); d.close()")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", code], env=gnome.env, capture_output=True,
                       text=True, timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_a_call_under_gnome_wayland_records_the_business_window_alone(
    gnome: GnomeSession, apps: Callable[..., int], make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    apps("agentapp-business", "CRM — form", (40, 160, 60), (100, 100, 640, 400))
    time.sleep(0.5)
    apps("other-app", "Private mail", (255, 0, 255), (300, 200, 640, 400), still=True)  # above
    time.sleep(1.0)
    agent = make_agent(policy_text("alice"), env=gnome.env).start()
    assert _indicator(gnome) == ""
    assert agent.hook("off-hook", "g-1") == "ok: recording"
    time.sleep(1.5)
    # the shell draws it in its top bar: no window can cover it
    assert _indicator(gnome) == "● Recording for training — CRM"
    time.sleep(1.5)
    agent.hook("on-hook", "g-1")
    (rec,) = agent.wait_sealed()
    wait_until(lambda: _indicator(gnome) == "", "the indicator stayed after the call")
    assert rec["capture_mode"] == "composite"
    frames = agent.frames(str(rec["id"]), tmp_path / "out.mp4")
    assert len(frames) >= 10
    for _, bgr in frames:
        body = bgr
        # the window's frame (its own title bar drawn by Qt) without the shadow around it
        assert body.shape[:2] == (440, 642)
        assert not near(body, MAGENTA_BGR, 80).any(), "a pixel of the window above was recorded"
        assert near(body, GREEN_BGR, 25).mean() > 0.8  # the business window (its own title bar)


def test_the_indicator_goes_with_the_agent_and_a_closed_window_keeps_what_waits_out(
    gnome: GnomeSession, apps: Callable[..., int], make_agent: Callable[..., Agent],
) -> None:  # fmt: skip
    """The window closed mid-call: the recording stops showing it (its cast ended) and says
    why; the agent killed mid-call: the shell takes its indicator down."""
    pid = apps("agentapp-business", "CRM — form", (40, 160, 60), (100, 100, 640, 400))
    time.sleep(1.0)
    agent = make_agent(policy_text("alice"), env=gnome.env).start()
    assert agent.hook("off-hook", "g-2") == "ok: recording"
    wait_until(lambda: "Recording for training" in _indicator(gnome), "no indicator")
    os.kill(pid, signal.SIGTERM)
    said: list[str] = []  # (what the status said last, for a failure's message)

    def told() -> bool:
        said[:] = [agent.status()]
        return "not writing: business window not found" in said[0]

    try:
        wait_until(told, "no word of the closed window")
    except AssertionError:
        log = agent.log()[-3000:]
        raise AssertionError(f"no word of the closed window; status: {said}\n{log}") from None
    assert agent.proc is not None
    agent.proc.kill()  # (as a crash would)
    agent.proc.wait()
    # (the shell hears the bus name go at once when idle; 5 s was once not enough with the
    # suite on 2 cores, the shell drawing in software and each poll a Python start-up)
    try:
        wait_until(lambda: _indicator(gnome) == "", "the indicator outlived the agent",
                   timeout=15)  # fmt: skip
    except AssertionError:
        raise AssertionError(f"the indicator outlived the agent by 15 s; the shell said:\n"
                             f"{gnome.log()[-3000:]}") from None  # fmt: skip


def test_doctor_under_gnome_says_per_window_capture_through_the_extension(
    gnome: GnomeSession, make_agent: Callable[..., Agent]
) -> None:
    agent = make_agent(policy_text("alice"), env=gnome.env)
    checks = {c["name"]: c for c in json.loads(agent.cli("doctor", "--json", check=False).stdout)}
    assert checks["display"]["ok"], checks["display"]
    assert "agentapp desk extension" in checks["display"]["detail"]
    assert checks["capture"]["ok"] and "ScreenCast" in checks["capture"]["detail"]


@pytest.mark.parametrize(
    ("desktop", "said"),
    [
        ("KDE", "KDE Plasma lets only a program registered with it stream a single window"),
        ("sway", "Sway offers no way to read one window alone"),
        ("GNOME", "the agentapp desk extension is not running in this GNOME session"),
    ],
)
def test_other_wayland_desktops_record_nothing_and_say_what_it_can_do(
    make_agent: Callable[..., Agent], tmp_path: Path, desktop: str, said: str
) -> None:
    """On a Wayland session that is not GNOME with the extension (here a session bus where no
    shell runs: nothing answers for the extension), the agent fails closed: no recording,
    and the status and `doctor` say why and what IT can do."""
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(WAYLAND_DISPLAY="wayland-9", XDG_SESSION_TYPE="wayland",
               XDG_CURRENT_DESKTOP=desktop)  # fmt: skip
    agent = make_agent(policy_text("alice"), env=env).start()
    status = agent.cli("status").stdout
    assert said in status and "cannot_record" in status, status
    agent.hook("off-hook", "w-1")
    time.sleep(1.0)
    agent.hook("on-hook", "w-1")
    wait_until(lambda: "cannot_record" in agent.status(), "not back to its reason")
    assert agent.recordings() == []  # not one frame: nothing kept
    checks = {c["name"]: c for c in json.loads(agent.cli("doctor", "--json", check=False).stdout)}
    display = checks["display"]
    assert not display["ok"] and said in display["detail"]
    assert "X11 (Xorg) session" in display["fix"] or "X11 (Xorg) session" in display["detail"]


def _nothing_kept_after(agent: Agent, call_id: str, moment: float, tmp_path: Path) -> None:
    """End the call; its recording holds its first seconds and no frame shown after
    `moment` (epoch seconds)."""
    agent.hook("on-hook", call_id)
    (rec,) = agent.wait_sealed()
    frames = agent.frames(str(rec["id"]), tmp_path / "out.mp4")
    assert frames, "the call's first seconds are recorded"
    last = max(t for t, _ in frames)
    assert float(rec["started_at"]) + last < moment  # type: ignore[arg-type]


def test_a_minimised_window_records_nothing_until_the_call_ends(
    gnome: GnomeSession, apps: Callable[..., int], make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    pid = apps("agentapp-business", "CRM — form", (40, 160, 60), (100, 100, 640, 400))
    time.sleep(1.0)
    agent = make_agent(policy_text("alice"), env=gnome.env).start()
    agent.hook("off-hook", "g-3")
    time.sleep(2.0)
    os.kill(pid, signal.SIGHUP)  # the trainee minimises it
    wait_until(lambda: "not writing" in agent.status(), "no word of the minimised window")
    minimised = time.time()
    time.sleep(2.0)
    _nothing_kept_after(agent, "g-3", minimised + 0.3, tmp_path)


def test_the_secure_pause_key_is_heard_through_the_shell(
    gnome: GnomeSession, apps: Callable[..., int], make_agent: Callable[..., Agent]
) -> None:
    """No program may grab a key under Wayland: the extension binds the policy's combination
    and tells the agent alone; real key events (Mutter's remote-desktop keyboard) pause and
    resume the call."""
    apps("agentapp-business", "CRM — form", (40, 160, 60), (100, 100, 640, 400))
    time.sleep(1.0)
    agent = make_agent(policy_text("alice"), env=gnome.env).start()
    agent.wait_log("agent running")
    agent.hook("off-hook", "g-4")
    wait_until(lambda: '"state": "recording"' in agent.status(), "not recording")
    press_keys(gnome.env, CTRL_ALT_P)
    wait_until(lambda: '"state": "paused"' in agent.status(), "the key did not pause")
    press_keys(gnome.env, CTRL_ALT_P)
    wait_until(lambda: '"state": "recording"' in agent.status(), "not resumed")
    agent.hook("on-hook", "g-4")


def test_a_title_that_stops_matching_mid_call_keeps_nothing_after_it(
    gnome: GnomeSession, apps: Callable[..., int], make_agent: Callable[..., Agent],
    tmp_path: Path,
) -> None:  # fmt: skip
    """The rule is checked at every frame on what the shell says now: the window's title
    changes to one the rule does not match (another page, another document): nothing of it
    is kept, not even what waited in the look-behind."""
    pid = apps("agentapp-business", "CRM — form", (40, 160, 60), (100, 100, 640, 400),
               retitle="Private mail — inbox")  # fmt: skip
    time.sleep(1.0)
    rule = 'name = "CRM"\nwm_class = "agentapp-business"\ntitle_pattern = "^CRM"'
    agent = make_agent(policy_text("alice", application=rule), env=gnome.env).start()
    agent.hook("off-hook", "g-5")
    time.sleep(2.0)
    changed = time.time()
    os.kill(pid, signal.SIGALRM)
    wait_until(lambda: "not writing" in agent.status(), "no word of the new title")
    time.sleep(1.5)
    _nothing_kept_after(agent, "g-5", changed + 0.2, tmp_path)
