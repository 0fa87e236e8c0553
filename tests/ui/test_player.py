"""The player shows decoded frames at their own pace and writes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
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


# ------------------------------------------------------------------ a trainer's controls
def _playback(notes: list[tuple[float, str]] | None = None) -> object:
    """10 s at 10 fps whose grey level says the time (level = 20 × seconds), no frame from 6
    to 8 s (the window hidden), paused from 2 to 3 s."""
    from agentapp.capture.encoder import SegmentEncoder
    from agentapp.ui.watermark import qt_mark
    from agentapp.vault.export import Segment
    from agentapp.vault.playback import Playback

    enc = SegmentEncoder(64, 48, 10)
    for i in range(100):
        t = i / 10
        if 2.0 <= t < 3.0 or 6.0 <= t < 8.0:
            continue
        frame = np.empty((48, 64, 4), np.uint8)
        frame[:] = round(t * 20)
        enc.add(frame, i * 100)
    segment = Segment(64, 48, tuple(enc.flush()))
    mark = qt_mark("alice - viewed by carol - training only")
    return Playback([segment], mark, 10.0, [(2.0, 3.0)], notes or [])


def _level(player: PlayerWindow) -> float:
    image = player.picture.pixmap().toImage()
    c = image.pixelColor(image.width() // 2, image.height() // 3)
    return c.red() / 20


def test_seek_lands_on_the_frame_shown_at_that_moment(qtbot: QtBot) -> None:
    player = PlayerWindow(_playback(), "recording X")  # type: ignore[arg-type]
    qtbot.addWidget(player)
    player.show()
    player.toggle.click()  # paused: a seek shows one frame and stays
    times = player.source.times  # type: ignore[union-attr]
    for target in (4.35, 0.0, 9.9, 5.05, 2.5, 7.0):
        player.seek(target)
        shown = max(t for t in times if t <= target + 1e-9)  # the frame on screen at that moment
        assert player.at == pytest.approx(shown), (target, player.at)
        assert target - player.at < 0.1 or target in (2.5, 7.0)  # within one frame (pause, gap)
        assert abs(_level(player) - player.at) < 0.15, (target, _level(player))
    assert player.position.text() == "0:05 / 0:10"


def test_jumps_keys_and_speed(qtbot: QtBot) -> None:
    player = PlayerWindow(_playback(), "recording X")  # type: ignore[arg-type]
    qtbot.addWidget(player)
    player.show()
    qtbot.keyClick(player, Qt.Key.Key_Space)  # pause
    player.seek(1.0)
    qtbot.keyClick(player, Qt.Key.Key_Right)
    assert player.at == pytest.approx(5.9, abs=0.01)  # 6 s is in the gap: the frame before
    qtbot.keyClick(player, Qt.Key.Key_Left)
    assert player.at == pytest.approx(0.9, abs=0.01)
    qtbot.keyClick(player, Qt.Key.Key_Home)
    assert player.at == 0.0
    qtbot.keyClick(player, Qt.Key.Key_BracketRight)
    qtbot.keyClick(player, Qt.Key.Key_BracketRight)
    assert player.speed == 1.5 and player.speeds.currentText() == "1.5×"
    player.set_speed(2.0)
    player.seek(8.0)
    qtbot.keyClick(player, Qt.Key.Key_Space)  # play: 2 s of video at 2×
    started = time.monotonic()
    qtbot.waitUntil(lambda: player.finished, timeout=5000)
    took = time.monotonic() - started
    assert 0.7 < took < 1.6, took  # 1.9 s of frames at double speed
    assert player.toggle.text() == "Play again"
    player.toggle.click()
    assert player.at == 0.0 and not player.finished


def test_the_timeline_shows_pauses_gaps_and_notes_and_seeks_where_clicked(qtbot: QtBot) -> None:
    source = _playback(notes=[(4.5, "greeting")])
    player = PlayerWindow(source, "recording X")  # type: ignore[arg-type]
    qtbot.addWidget(player)
    player.show()
    player.toggle.click()
    bar = player.timeline
    bar.resize(500, 22)
    assert source.gaps == [(5.9, 8.0)]  # type: ignore[attr-defined]  # not the paused span
    image = bar.grab().toImage()
    at = {t: image.pixelColor(bar.x_of(t), 11) for t in (2.5, 7.0, 4.5, 1.0)}
    assert (at[2.5].red(), at[2.5].green()) == (230, 160)  # paused: amber
    assert at[7.0].red() == at[7.0].green() == 130  # window not shown: grey
    assert at[4.5].blue() == 255  # the note, at its moment
    assert at[1.0].red() == 60  # nothing there
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=QPoint(bar.x_of(9.0), 11))
    assert abs(player.at - 9.0) <= 0.1


def test_the_player_opens_at_the_video_size_on_its_screen(qtbot: QtBot) -> None:
    player = PlayerWindow(_playback(), "recording X")  # type: ignore[arg-type]
    qtbot.addWidget(player)
    screen = player.screen().availableGeometry()
    assert player.width() <= screen.width() and player.height() <= screen.height()
    assert player.width() >= 480  # the controls fit


def test_the_voice_plays_with_each_channel_at_its_own_volume(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The player's sound goes to a real PulseAudio: recorded back from the player's own
    stream, the caller (440 Hz, right) is heard, the agent (1 kHz, left) turned down is not;
    at 2× there is no sound (no pitch-shifted voices)."""
    from agentapp.platform.pulse import Speaker
    from agentapp.vault.playback import VOICE_RATE
    from tests.pulse import pulse_server

    with pulse_server(tmp_path) as pulse:
        monkeypatch.setenv("PULSE_SERVER", pulse.env["PULSE_SERVER"])
        source = _playback()
        n = np.arange(VOICE_RATE * 10)
        source.voice = np.stack([  # type: ignore[attr-defined]
            (np.sin(2 * np.pi * 1000 * n / VOICE_RATE) * 8000).astype(np.int16),
            (np.sin(2 * np.pi * 440 * n / VOICE_RATE) * 8000).astype(np.int16),
        ])  # fmt: skip
        player = PlayerWindow(source, "recording X", speaker=Speaker)  # type: ignore[arg-type]
        qtbot.addWidget(player)
        player.volumes[0].setValue(0)  # the agent's voice down
        player.show()
        stream = _player_stream(pulse.env, qtbot)
        heard = _record(pulse.env, stream, seconds=1.2, qtbot=qtbot)
        assert _share(heard[1], 440) > 0.5, "the caller, on the right"
        assert np.abs(heard[0]).max() < 200, "the agent turned down: nothing on the left"
        player.set_speed(2.0)
        qtbot.wait(300)
        fast = _record(pulse.env, stream, seconds=0.6, qtbot=qtbot)
        assert np.abs(fast).max() < 200, "no sound off 1x"
        player.close()


def _player_stream(env: dict[str, str], qtbot: QtBot) -> int:
    import json
    import subprocess

    found: list[int] = []

    def look() -> bool:
        out = subprocess.run(["pactl", "-f", "json", "list", "sink-inputs"], env=env,
                             capture_output=True, text=True, timeout=5).stdout  # fmt: skip
        found[:] = [int(s["index"]) for s in json.loads(out or "[]")
                    if s["properties"].get("application.name") == "agentapp player"]  # fmt: skip
        return bool(found)

    qtbot.waitUntil(look, timeout=5000)
    return found[0]


def _record(env: dict[str, str], stream: int, seconds: float, qtbot: QtBot) -> np.ndarray:
    """What the player's stream plays, (2, n) at 16 kHz, while the Qt loop runs."""
    import os
    import subprocess

    rec = subprocess.Popen(["parec", f"--monitor-stream={stream}", "--raw", "--format=s16le",
                            "--rate=16000", "--channels=2", "--latency-msec=20"], env=env,
                           stdout=subprocess.PIPE)  # fmt: skip
    assert rec.stdout is not None
    os.set_blocking(rec.stdout.fileno(), False)
    data = bytearray()
    deadline = time.monotonic() + seconds + 1.5  # (parec's own start)
    while time.monotonic() < deadline:
        qtbot.wait(20)
        try:
            data += os.read(rec.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            pass
    rec.kill()
    rec.wait()
    pcm = np.frombuffer(bytes(data[: len(data) // 4 * 4]), "<i2").reshape(-1, 2).T
    return pcm[:, -int(seconds * 16000) :]


def _share(x: np.ndarray, hz: float) -> float:
    """The share of the signal's power within 30 Hz of `hz`. Power, not amplitude: a short
    underrun on a loaded machine (a gated tone) spreads amplitude wide but little power."""
    if len(x) < 1600 or not np.any(x):
        return 0.0
    s = np.abs(np.fft.rfft(x.astype(float) * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 16000)
    return float(s[(f > hz - 30) & (f < hz + 30)].sum() / s.sum())
