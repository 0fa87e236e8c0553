"""R11: video only. Neither the player nor the trainer console offers a way to keep a still
of a recording: no action, button, menu entry or shortcut to save or copy a picture, and no
context menu on the picture (Qt's own would offer "Copy image" on some widgets)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import numpy as np
from pytestqt.qtbot import QtBot

from agentapp.ui.player import PlayerWindow

STILLS = re.compile(r"save|copy|image|picture|screenshot|snapshot|still|png|jpe?g|print",
                    re.IGNORECASE)  # fmt: skip


def _offers(widget: object) -> list[str]:
    """Every label of an act the window offers: actions (menus, shortcuts) and buttons."""
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QAbstractButton, QWidget

    assert isinstance(widget, QWidget)
    said = []
    for a in widget.findChildren(QAction) + widget.actions():
        said += [a.text(), a.toolTip(), a.shortcut().toString()]
    for b in widget.findChildren(QAbstractButton):
        said += [b.text(), b.toolTip()]
    return [s for s in said if s]


def _frames() -> Iterator[tuple[float, np.ndarray]]:
    for i in range(3):
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[:] = (0, 160, 40)
        yield i * 0.1, frame
        time.sleep(0)


def test_the_player_offers_no_still(qtbot: QtBot) -> None:
    from PySide6.QtCore import Qt

    player = PlayerWindow(_frames(), "recording X")
    qtbot.addWidget(player)
    player.show()
    qtbot.waitUntil(lambda: player.finished, timeout=5000)
    offered = _offers(player)
    assert offered and not [s for s in offered if STILLS.search(s)], offered
    policies = Qt.ContextMenuPolicy
    allowed = (policies.NoContextMenu, policies.PreventContextMenu, policies.DefaultContextMenu)
    assert player.picture.contextMenuPolicy() in allowed
    assert not player.picture.actions()  # the default policy shows no menu without actions


def test_the_console_offers_no_still(qtbot: QtBot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from agentapp.agent.settings import Settings
    from agentapp.core.config import AgentConfig
    from agentapp.trainer.console import ConsoleModel
    from agentapp.ui.console import ConsoleWindow
    from tests.policies import policy_text

    (tmp_path / "site").mkdir()
    draft = tmp_path / "draft.toml"
    draft.write_text(policy_text("alice"))
    s = Settings(tmp_path, "carol", tmp_path / "policy.toml", AgentConfig(), "carol")
    window = ConsoleWindow(ConsoleModel(s, tmp_path / "site", draft), list,
                           lambda _: None, reason=lambda *_: "review 1")  # fmt: skip
    qtbot.addWidget(window)
    offered = _offers(window)
    assert offered and not [s for s in offered if STILLS.search(s)], offered


def test_the_blur_dialog_and_the_notes_offer_no_still(qtbot: QtBot) -> None:
    from PySide6.QtCore import Qt

    from agentapp.ui.console.blur import BlurDialog

    frame = np.zeros((48, 64, 3), np.uint8)
    dialog = BlurDialog(None, frame)
    qtbot.addWidget(dialog)
    offered = _offers(dialog)
    assert offered and not [s for s in offered if STILLS.search(s)], offered
    assert dialog.canvas.contextMenuPolicy() == Qt.ContextMenuPolicy.PreventContextMenu


def test_a_save_button_would_be_seen(qtbot: QtBot) -> None:
    """The check reads what a window really offers (a window with such a button fails it)."""
    from PySide6.QtWidgets import QPushButton

    player = PlayerWindow(_frames(), "recording X")
    qtbot.addWidget(player)
    QPushButton("Save picture…", player)
    assert [s for s in _offers(player) if STILLS.search(s)] == ["Save picture…"]
