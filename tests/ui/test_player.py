"""The player shows decoded frames at their own pace and writes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
from pytestqt.qtbot import QtBot

from agentapp.ui.player import PlayerWindow

COLORS = [(0, 0, 255), (0, 255, 0), (255, 0, 0)]  # BGR: red, green, blue


def _frames(pulled: list[float]) -> Iterator[tuple[float, np.ndarray]]:
    for i, color in enumerate(COLORS):
        pulled.append(time.monotonic())
        frame = np.empty((48, 64, 3), np.uint8)
        frame[:] = color
        yield i * 0.3, frame


def test_frames_are_shown_in_order_at_their_times(qtbot: QtBot) -> None:
    pulled: list[float] = []
    player = PlayerWindow(_frames(pulled), "recording X")
    qtbot.addWidget(player)
    player.show()
    seen = []
    for n in (1, 2, 3):
        qtbot.waitUntil(lambda n=n: player.shown == n, timeout=3000)  # type: ignore[misc]
        seen.append(time.monotonic())
    qtbot.waitUntil(lambda: player.finished, timeout=5000)
    assert player.shown == 3 and "end of the recording" in player.position.text()
    image = player.picture.pixmap().toImage()
    c = image.pixelColor(10, 10)
    assert (c.red(), c.green(), c.blue()) == (0, 0, 255)  # the last frame: blue
    gaps = np.diff(seen)
    assert all(0.2 < g < 1.5 for g in gaps), gaps  # paced by the frames' own times (0.3 s)
    assert len(pulled) == 3


def test_pause_holds_the_picture(qtbot: QtBot) -> None:
    pulled: list[float] = []
    player = PlayerWindow(_frames(pulled), "recording X")
    qtbot.addWidget(player)
    qtbot.waitUntil(lambda: player.shown == 1, timeout=3000)
    player.toggle.click()
    assert player.toggle.text() == "Play"
    qtbot.wait(700)
    assert player.shown == 1
    player.toggle.click()
    qtbot.waitUntil(lambda: player.finished, timeout=5000)
