"""« Mes enregistrements » (pytest-qt, offscreen) on a real site folder and the real key store:
the trainee's list holds what a trainer shared with them and plays it from memory, watermarked
with their name; withdrawn, it is gone and refused. (Two OS accounts: integration/
test_sharing_x11.py; here the trainee is this test's own login.)"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QTableWidgetItem
from pytestqt.qtbot import QtBot

from agentapp import cli
from agentapp.agent.settings import Settings
from agentapp.cli.sharing import MyRecordings
from agentapp.core.config import AgentConfig
from agentapp.demo.run import make_sample_site
from agentapp.ui.grid_pane import GridPane
from agentapp.ui.mine import MineWindow
from agentapp.vault.analyses import AnalysesStore
from agentapp.vault.keys import keystore_problem, store_private_in_keystore
from agentapp.vault.people import register_key
from agentapp.vault.playback import VOICE_RATE
from agentapp.vault.store import Vault
from tests.integration.conftest import need
from tests.policies import ACCESS, GRID, policy_text


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    raw = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())  # type: ignore[call-overload]
    return raw.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3].reshape(
        image.height(), image.width(), 3)  # fmt: skip


def test_my_recordings_lists_and_plays_what_is_shared_with_me(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    need(keystore_problem() is None, "no real key store (run under scripts/test.sh)")
    me = pwd.getpwuid(os.geteuid()).pw_name
    policy = policy_text(me, extra=ACCESS + GRID)
    trainer, site, desk = tmp_path / "trainer", tmp_path / "site", tmp_path / "desk"
    make_sample_site(trainer, site, policy, me)
    (site / "policy.toml").write_text(policy)
    (rid,) = [m.id for m in Vault(site / "recordings").recordings()]
    mine = X25519PrivateKey.generate()
    store_private_in_keystore(mine)
    (site / "people").mkdir()
    (site / "people").chmod(0o1777)  # as IT makes it
    register_key(site, me, mine.public_key())
    desk.mkdir(mode=0o700)
    shutil.copytree(trainer / "keys", desk / "keys")  # as the desk's package installs them
    shutil.copyfile(site / "policy" / "policy.toml", desk / "policy.toml")  # the signed copy
    s = Settings(desk, me, desk / "policy.toml", AgentConfig(site=site), me)

    window = MineWindow(MyRecordings(s))
    qtbot.addWidget(window)
    assert window.recs.rowCount() == 0 and "No recording is shared" in window.status.text()

    monkeypatch.setenv("AGENTAPP_USER", "carol")
    shutil.copytree(trainer / "keys", site / "keys", dirs_exist_ok=True)
    # the call's voice from the PBX (agent 440 Hz, caller 880 Hz), sealed into it first
    started = Vault(site / "recordings").get(rid).started_at
    wav = tmp_path / "pbx.wav"
    n = np.arange(8000)  # a second at 8 kHz
    tones = [(np.sin(2 * np.pi * f * n / 8000) * 8000).astype("<i2") for f in (440, 880)]
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.stack(tones, axis=1).tobytes())
    at = dt.datetime.fromtimestamp(started, dt.UTC).isoformat()
    assert cli.main(["recordings", "attach-voice", rid, str(wav), "--start", at, "--reason",
                     "the PBX's recording", "--data-dir", str(site)]) == 0  # fmt: skip
    assert cli.main(["share", "add", rid, "--reason", "own review", "--data-dir", str(site)]) == 0
    window.refresh()
    assert window.recs.rowCount() == 1 and window.recs.item(0, 0).text() == rid  # type: ignore[union-attr]
    # the id is shown whole on one line, in French as in English
    shown_id = window.recs.fontMetrics().horizontalAdvance(rid)
    assert window.recs.columnWidth(0) > shown_id, (window.recs.columnWidth(0), shown_id)
    window.play_selected()
    (player,) = window.players
    qtbot.addWidget(player)
    qtbot.waitUntil(lambda: player.shown >= 3, timeout=5000)
    shown = _pixels(player.picture.pixmap().toImage())
    green = (np.abs(shown.astype(int) - (40, 160, 60)).max(axis=2) < 30).mean()  # RGB
    assert green > 0.3, green  # the recording's own pixels, decrypted with the share
    voice = player.source.voice  # type: ignore[union-attr]
    assert voice is not None, "the voice did not open with the share"
    for channel, hz in ((0, 440), (1, 880)):  # each voice on its own channel, decoded
        spectrum = np.abs(np.fft.rfft(voice[channel].astype(float)))
        assert abs(np.argmax(spectrum) * VOICE_RATE / voice.shape[1] - hz) < 15, channel

    # my own review beside it, on the training's grid: sealed for the trainers, in my folder
    pane = player.side
    assert isinstance(pane, GridPane) and pane.boxes[0].title() == "Greeting"
    pane.boxes[0].level.setCurrentIndex(1)  # in progress
    pane.boxes[0].comment.setPlainText("I rushed the greeting")
    pane.boxes[0].pick.setChecked(True)
    qtbot.mouseClick(player.timeline, Qt.MouseButton.LeftButton,
                     pos=QPoint(player.timeline.width() // 2, 5))  # fmt: skip
    pane.save()
    assert "sealed for your trainers" in pane.status.text(), pane.status.text()
    (mine_review,) = AnalysesStore(site / "people" / me).analyses()
    assert mine_review.kind == "self-review" and mine_review.author == me
    player.close()

    assert cli.main(["share", "withdraw", rid, "--reason", "reviewed", "--data-dir",
                     str(site)]) == 0  # fmt: skip
    capsys.readouterr()
    window.refresh()
    assert window.recs.rowCount() == 0
    window.recs.setRowCount(1)  # a stale list: the act itself is refused
    window.recs.setItem(0, 0, QTableWidgetItem(rid))
    window.recs.selectRow(0)
    window.play_selected()
    assert "not shared with you" in window.status.text() and len(window.players) == 1
