"""The analysis grid beside the player (pytest-qt, offscreen) on a real site folder and the real
key store: a word per criterion, a comment, moments by a click on the timeline; sealed, read
back, traced; no field takes a number (R1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDoubleSpinBox, QLineEdit, QSlider, QSpinBox
from pytestqt.qtbot import QtBot

from agentapp.agent.settings import Settings
from agentapp.core.analysis import MAX_COMMENT
from agentapp.core.config import AgentConfig
from agentapp.demo.run import make_sample_site
from agentapp.trainer.console import ConsoleModel
from agentapp.ui.console import ConsoleWindow
from agentapp.ui.grid_pane import GridPane
from agentapp.vault.keys import keystore_problem, load_private_from_keystore
from tests.fakes import site_trail_entries
from tests.integration.conftest import need
from tests.policies import ACCESS, GRID, policy_text


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    need(keystore_problem() is None, "no real key store (run under scripts/test.sh)")
    trainer, site = tmp_path / "trainer", tmp_path / "site"
    make_sample_site(trainer, site, policy_text("alice", extra=ACCESS + GRID), "alice")
    return trainer, site


def _console(qtbot: QtBot, trainer: Path, site: Path, user: str, mine: bool = False
             ) -> ConsoleWindow:  # fmt: skip
    s = Settings(trainer, user, trainer / "policy.toml", AgentConfig(), user)
    window = ConsoleWindow(ConsoleModel(s, site, mine=mine), lambda: [],
                           load_private_from_keystore, reason=lambda *_: "coaching alice",
                           pick=lambda: None)  # fmt: skip
    qtbot.addWidget(window)
    return window


def test_the_trainer_fills_the_grid_beside_the_player_and_it_is_sealed(
    qtbot: QtBot, site: tuple[Path, Path]
) -> None:
    trainer, folder = site
    w = _console(qtbot, trainer, folder, "carol")
    w.recordings.recs.selectRow(0)
    rid = w.recordings.recs.item(0, 0).text()  # type: ignore[union-attr]
    w.recordings.play_selected()
    (player,) = w.recordings.players
    pane = player.side
    assert isinstance(pane, GridPane)
    assert [b.title() for b in pane.boxes] == ["Greeting", "Rephrasing", "Takes notes in 3 steps"]
    assert [pane.boxes[0].level.itemText(i) for i in range(4)] == [
        "acquired", "in progress", "to work on", "not seen"]  # fmt: skip
    for kind in (QSpinBox, QDoubleSpinBox, QSlider, QLineEdit):  # nothing takes a number
        assert not pane.findChildren(kind), kind
    qtbot.waitUntil(lambda: player.shown >= 3, timeout=5000)

    greeting, rephrasing, _notes = pane.boxes
    greeting.level.setCurrentIndex(0)
    greeting.comment.setPlainText("x" * (MAX_COMMENT + 1))
    rephrasing.level.setCurrentIndex(2)
    rephrasing.pick.setChecked(True)
    width = player.timeline.width()
    qtbot.mouseClick(player.timeline, Qt.MouseButton.LeftButton, pos=QPoint(width // 2, 5))
    assert rephrasing.moments == [pytest.approx(0.5, abs=0.1)] and greeting.moments == []
    greeting.pick.setChecked(True)  # one criterion takes the clicks at a time
    assert not rephrasing.pick.isChecked()
    qtbot.mouseClick(player.timeline, Qt.MouseButton.LeftButton, pos=QPoint(width // 5, 5))
    assert len(greeting.moments) == 1 and len(rephrasing.moments) == 1

    pane.save()  # the comment is too long: refused in one line, nothing kept
    assert pane.status.text().startswith("Not saved:") and "longer than" in pane.status.text()
    assert w.model.analyses.on(rid) == []
    greeting.comment.setPlainText("Gave the company's name at once")
    pane.save()
    assert "sealed; kept until" in pane.status.text(), pane.status.text()
    (meta,) = w.model.analyses.on(rid)
    sealed = (folder / "analyses" / f"{meta.id}.seal").read_bytes()
    assert b"company's name" not in sealed  # sealed, not written in clear
    a = w.model.analyses.read(meta.id, "coaching alice", load_private_from_keystore)
    assert [(m.criterion, m.level, m.comment) for m in a.marks] == [
        ("Greeting", "acquired", "Gave the company's name at once"),
        ("Rephrasing", "to_work_on", ""),
        ("Takes notes in 3 steps", "not_seen", ""),
    ]
    assert a.marks[1].moments == (pytest.approx(0.5, abs=0.1),)
    acts = [(e["who"], e["action"]) for e in site_trail_entries(folder)]
    assert ("carol", "add analysis") in acts and ("carol", "view analysis") in acts


def test_no_grid_pane_without_a_grid_in_the_signed_policy_or_in_a_trainees_own_view(
    qtbot: QtBot, tmp_path: Path
) -> None:
    need(keystore_problem() is None, "no real key store (run under scripts/test.sh)")
    trainer, folder = tmp_path / "trainer", tmp_path / "site"
    make_sample_site(trainer, folder, policy_text("alice", extra=ACCESS), "alice")
    (trainer / "policy-draft.toml").write_text(policy_text("alice", extra=ACCESS + GRID))
    w = _console(qtbot, trainer, folder, "carol")
    w.recordings.recs.selectRow(0)
    w.recordings.play_selected()
    assert w.recordings.players[0].side is None  # a draft's grid is not in force


def test_the_grid_is_written_in_the_console_published_and_shown_beside_the_player(
    qtbot: QtBot, tmp_path: Path
) -> None:
    need(keystore_problem() is None, "no real key store (run under scripts/test.sh)")
    trainer, folder = tmp_path / "trainer", tmp_path / "site"
    make_sample_site(trainer, folder, policy_text("alice", extra=ACCESS), "alice")
    w = _console(qtbot, trainer, folder, "carol")
    tab = w.grids
    assert tab is not None and tab.training.currentText() == "CRM onboarding"
    assert tab.criteria.rowCount() == 0
    tab.name.setText("Greeting")
    tab.description.setText("Says who they are and the company's name")
    tab.add_criterion()
    assert "criterion 'Greeting' in the grid" in w.status.text(), w.status.text()
    tab.name.setText("Speed")
    tab.description.setText("Answers within 3 rings; scored /10")
    tab.add_criterion()  # a scale: refused in one line, the draft unchanged
    assert w.status.text().startswith("Refused:") and "never scored" in w.status.text()
    assert tab.criteria.rowCount() == 1
    tab.name.setText("Rephrasing")
    tab.description.setText("")
    tab.add_criterion()
    assert [tab.criteria.item(r, 0).text() for r in range(2)] == ["Greeting", "Rephrasing"]  # type: ignore[union-attr]
    tab.criteria.selectRow(1)
    tab.remove_criterion()
    assert tab.criteria.rowCount() == 1 and "removed" in w.status.text()
    assert "grids" in w.publishing.plan_text.toPlainText()  # type: ignore[union-attr]
    w.publishing.publish_button.click()  # type: ignore[union-attr]
    assert "published" in w.status.text(), w.status.text()
    w.recordings.recs.selectRow(0)
    w.recordings.play_selected()
    pane = w.recordings.players[-1].side
    assert isinstance(pane, GridPane) and [b.title() for b in pane.boxes] == ["Greeting"]
