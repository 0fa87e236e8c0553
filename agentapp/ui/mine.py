"""« Mes enregistrements » — a trainee's own recordings that a trainer shared with them, on
their desk: the list, and the player (watermarked with their name) with the training's grid
beside it for their own review. A thin front end over
vault/sharing.py, which checks and traces each act; started from the tray as its own process
(`agentapp mine window`), so that decoding a video never competes with a call's recording.

Threading: the Qt thread.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from agentapp.core.errors import Refusal
from agentapp.core.grid import Grid
from agentapp.i18n import _, duration, moment, pgettext
from agentapp.ui.console.widgets import fill, first_cell, table
from agentapp.ui.grid_pane import GridPane
from agentapp.ui.player import PlayerWindow
from agentapp.vault.playback import Playback
from agentapp.vault.store import RecordingMeta


class Mine(Protocol):
    """What the window asks (cli/sharing.py MyRecordings); each raises Refusal in one line."""

    def listed(self) -> list[RecordingMeta]: ...

    def opened(self, rid: str) -> Playback: ...

    def grid(self, rid: str) -> Grid | None: ...

    def about(self, rid: str) -> str | None: ...

    def review(self, rid: str, items: object) -> str: ...


class MineWindow(QWidget):
    """The list of the person's shared recordings; the player, with the training's grid
    beside it for their own review when the training has one."""

    def __init__(self, mine: Mine) -> None:
        super().__init__()
        self.setObjectName("agentapp-mine")
        self.setWindowTitle(_("agentapp — my recordings"))
        self._mine = mine
        about = QLabel(
            _(
                "The calls your trainer shared with you, for your own review. Only you can open "
                "them here; each viewing is written to the audit trail."
            )
        )
        about.setWordWrap(True)
        self.recs = table([pgettext("column", "Recording"), _("Date"), _("Length"), _("Training")])
        self.play = QPushButton(_("Play"))
        self.play.clicked.connect(self.play_selected)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addWidget(self.recs, 1)
        layout.addWidget(self.play)
        layout.addWidget(self.status)
        self.players: list[PlayerWindow] = []
        self.resize(760, 360)
        self.refresh()

    def refresh(self) -> None:
        try:
            found = self._mine.listed()
        except Refusal as exc:
            found = []
            self.status.setText(str(exc))
        else:
            self.status.setText("" if found else _("No recording is shared with you yet."))
        fill(self.recs, [[m.id, moment(m.started_at), duration(m.duration_s), m.training]
                         for m in found])  # fmt: skip
        self.play.setEnabled(bool(found))
        if found:
            self.recs.selectRow(0)

    def play_selected(self) -> None:
        row = self.recs.currentRow()
        if row < 0:
            return
        rid = first_cell(self.recs, row)
        try:
            playback = self._mine.opened(rid)
        except Refusal as exc:
            self.status.setText(_("Refused: {reason}").format(reason=exc))
            return
        from agentapp.platform.factory import create_speaker

        grid = self._mine.grid(rid)
        pane = None if grid is None else GridPane(
            grid, lambda items: self._mine.review(rid, items), self_review=True)  # fmt: skip
        player = PlayerWindow(playback, _("agentapp — my recording {id}").format(id=rid),
                              speaker=create_speaker, side=pane)  # fmt: skip
        if pane is not None:
            player.timeline.clicked.connect(pane.timeline_clicked)
        about = self._mine.about(rid)
        self.status.setText(
            _("Teaching example, anonymised: {text}").format(text=about) if about else ""
        )
        self.players.append(player)
        player.show()


def run_mine(mine: Mine) -> int:
    """The window in its own Qt application; returns when it is closed."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["agentapp-mine"])
    window = MineWindow(mine)
    window.show()
    return app.exec()
