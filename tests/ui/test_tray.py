"""The tray, indicator, notice and fallback window with pytest-qt, driving a real engine
(fake window and grabber) so that what the trainee sees follows what really happens."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QSystemTrayIcon
from pytestqt.qtbot import QtBot

from agentapp.agent.engine import Engine
from agentapp.agent.status import AgentState, EngineStatus
from agentapp.core.events import CallEvent, EventKind
from agentapp.core.readiness import Why
from agentapp.ui.icons import state_colour, state_pixmap
from agentapp.ui.tray import RateLimiter, TrayController

STATES = list(AgentState)


def controller(engine: Engine, tray: bool = True) -> TrayController:
    return TrayController(engine, "en", "<ctrl>+<alt>+p", tray_available=lambda: tray)


def call(engine: Engine, kind: EventKind, cid: str = "c1") -> str:
    return engine.handle_event(CallEvent(kind, cid, time.time()))


def ring_colour(icon_owner: QSystemTrayIcon) -> QColor:
    image = icon_owner.icon().pixmap(64, 64).toImage()
    return image.pixelColor(32, 3)  # on the ring, away from the centre mark


@pytest.mark.parametrize("state", STATES)
def test_icon_and_tooltip_follow_the_state(qtbot: QtBot, engine: Engine, state: AgentState) -> None:
    engine.notices.acknowledge("en")
    c = controller(engine)
    assert c.tray is not None and c.window is None
    engine._board.set(
        EngineStatus(state, "no business window" if state == "cannot_record" else "detail",
                     training="CRM onboarding", until="2027-01-29", used=1, weekly_quota=5,
                     why=Why.DISPLAY if state == "cannot_record" else Why.NONE)
    )  # fmt: skip
    qtbot.waitUntil(lambda: c.tray is not None and "agentapp" in c.tray.toolTip())
    tip = c.tray.toolTip()
    if state != "not_enrolled":
        assert "Training “CRM onboarding” until 29 January 2027" in tip
    assert "1 of 5 recordings this week" in tip
    if state == "cannot_record":  # the trainee's words; the technical ones behind Details…
        assert "Cannot record on this desk" in tip and "tell your trainer or IT" in tip
        assert "no business window" not in tip
    expected = state_colour(state)
    got = ring_colour(c.tray)
    assert abs(got.red() - expected.red()) < 40 and abs(got.green() - expected.green()) < 40
    # each state has its own look
    others = {s: state_pixmap(s).toImage() for s in STATES if s != state}
    assert all(img != state_pixmap(state).toImage() for img in others.values())


def test_indicator_shown_exactly_while_recording(qtbot: QtBot, engine: Engine) -> None:
    engine.notices.acknowledge("en")
    c = controller(engine)
    assert not c.indicator.isVisible()
    call(engine, EventKind.OFF_HOOK)
    qtbot.waitUntil(c.indicator.isVisible)
    assert c.indicator.text().startswith("● Recording for training")
    flags = c.indicator.windowFlags()
    assert flags & Qt.WindowType.WindowStaysOnTopHint
    assert flags & Qt.WindowType.WindowTransparentForInput
    assert flags & Qt.WindowType.WindowDoesNotAcceptFocus
    c.indicator.close()  # the agent cannot turn it off
    assert c.indicator.isVisible()
    engine.toggle_pause()
    qtbot.waitUntil(lambda: "Paused" in c.indicator.text())
    engine.toggle_pause()
    qtbot.waitUntil(lambda: "Recording" in c.indicator.text())
    call(engine, EventKind.ON_HOOK)
    qtbot.waitUntil(lambda: not c.indicator.isVisible(), timeout=10000)


def _menu_texts(c: TrayController) -> dict[str, object]:
    c.menu.aboutToShow.emit()
    return {a.text(): a for a in c.menu.actions() if a.text()}


def test_menu_pause_and_caller_objects(qtbot: QtBot, engine: Engine) -> None:
    engine.notices.acknowledge("en")
    c = controller(engine)
    actions = _menu_texts(c)
    assert "Enrolled — waiting for a call" in actions
    assert not actions["Pause recording (Ctrl+Alt+P)"].isEnabled()  # type: ignore[attr-defined]
    call(engine, EventKind.OFF_HOOK)
    qtbot.waitUntil(lambda: engine.status.state == "recording")
    actions = _menu_texts(c)
    actions["Pause recording (Ctrl+Alt+P)"].trigger()  # type: ignore[attr-defined]
    assert engine.status.state == "paused"
    _menu_texts(c)["Resume recording"].trigger()  # type: ignore[attr-defined]
    assert engine.status.state == "recording"
    time.sleep(0.3)
    _menu_texts(c)["Caller objects — stop and erase this recording"].trigger()  # type: ignore[attr-defined]
    assert engine.wait_idle(10)
    assert engine.vault.recordings() == []
    assert "About recording…" in _menu_texts(c)


def test_notice_must_be_acknowledged_before_recording(qtbot: QtBot, engine: Engine) -> None:
    c = controller(engine)
    qtbot.waitUntil(lambda: c.notice is not None and c.notice.isVisible())
    assert c.notice is not None
    html = c.notice.text.toPlainText()
    for words in ("Example Contact Center SAS", "dpo@example.test", "Training of new agents",
                  "CRM", "183 days", "CNIL", "objection", "CRM onboarding"):  # fmt: skip
        assert words in html, words
    assert "not been acknowledged" in call(engine, EventKind.OFF_HOOK, "a")
    call(engine, EventKind.ON_HOOK, "a")
    c.notice.switch.click()  # French
    assert "Responsable du traitement" in c.notice.text.toPlainText()
    assert c.notice.ack is not None
    qtbot.mouseClick(c.notice.ack, Qt.MouseButton.LeftButton)
    assert engine.status.state == "waiting"
    assert call(engine, EventKind.OFF_HOOK, "b") == "ok: recording"
    call(engine, EventKind.ON_HOOK, "b")
    assert engine.wait_idle(10)
    assert "fr" in (engine.data_dir / "notice-acknowledgements.json").read_text()


def test_no_tray_shows_a_window_that_cannot_be_closed(qtbot: QtBot, engine: Engine) -> None:
    engine.notices.acknowledge("en")
    c = controller(engine, tray=False)
    assert c.tray is None and c.window is not None and c.window.isVisible()
    assert "waiting for a call" in c.window.text.text()
    c.window.close()
    assert c.window.isVisible()
    call(engine, EventKind.OFF_HOOK)
    qtbot.waitUntil(lambda: c.window is not None and c.window.pause.isEnabled())
    c.window.pause.click()
    assert engine.status.state == "paused"
    call(engine, EventKind.ON_HOOK)
    assert engine.wait_idle(10)


def test_tray_that_appears_later_replaces_the_window(qtbot: QtBot, engine: Engine) -> None:
    available = [False]
    c = TrayController(engine, "en", "<ctrl>+<alt>+p", tray_available=lambda: available[0])
    assert c.window is not None
    available[0] = True
    qtbot.waitUntil(lambda: c.tray is not None, timeout=3000)
    assert c.window is None


def test_notifications_are_rate_limited() -> None:
    now = [0.0]
    limit = RateLimiter(20.0, clock=lambda: now[0])
    assert limit.allow("started")
    now[0] = 5.0
    assert not limit.allow("started") and limit.allow("stopped")
    now[0] = 25.0
    assert limit.allow("started")


def test_describe_says_what_is_recorded() -> None:
    from agentapp.ui.tray import describe

    lines = describe(EngineStatus(AgentState.RECORDING, "recording for training",
                                  application="CRM"))  # fmt: skip
    assert lines == ["Recording — CRM"]


def test_my_recordings_opens_in_a_process_of_its_own(
    qtbot: QtBot, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    started: list[list[str]] = []

    class Started:
        def __init__(self, argv: list[str], **kwargs: object) -> None:
            started.append(argv)

    engine.notices.acknowledge("en")
    c = controller(engine)
    monkeypatch.setattr(subprocess, "Popen", Started)
    _menu_texts(c)["My recordings…"].trigger()  # type: ignore[attr-defined]
    (argv,) = started
    assert argv[-2:] == ["mine", "window"] and argv[1:3] == ["-m", "agentapp"]
