"""« Mes enregistrements » — a trainee's own recordings that a trainer shared with them, on
their desk: the list, and the player (watermarked with their name). A thin front end over
vault/sharing.py, which checks and traces each act; started from the tray as its own process
(`agentapp mine window`), so that decoding a video never competes with a call's recording.

Threading: the Qt thread.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from agentapp.core.errors import Refusal
from agentapp.i18n import _, duration, moment
from agentapp.ui.console.widgets import fill, first_cell, table
from agentapp.ui.player import PlayerWindow
from agentapp.vault.playback import Playback
from agentapp.vault.store import RecordingMeta


class MineWindow(QWidget):
    """`listed()`: the recordings shared with this person; `opened(rid)`: one of them, ready
    to play (both raise Refusal with one line)."""

    def __init__(
        self,
        listed: Callable[[], list[RecordingMeta]],
        opened: Callable[[str], Playback],
    ) -> None:
        super().__init__()
        self.setObjectName("agentapp-mine")
        self.setWindowTitle(_("agentapp — my recordings"))
        self._listed, self._opened = listed, opened
        about = QLabel(
            _(
                "The calls your trainer shared with you, for your own review. Only you can open "
                "them here; each viewing is written to the audit trail."
            )
        )
        about.setWordWrap(True)
        self.recs = table([_("Recording"), _("Date"), _("Length"), _("Training")])
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
        self.resize(620, 360)
        self.refresh()

    def refresh(self) -> None:
        try:
            found = self._listed()
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
            playback = self._opened(rid)
        except Refusal as exc:
            self.status.setText(_("Refused: {reason}").format(reason=exc))
            return
        from agentapp.platform.factory import create_speaker

        player = PlayerWindow(playback, _("agentapp — my recording {id}").format(id=rid),
                              speaker=create_speaker)  # fmt: skip
        self.players.append(player)
        player.show()


def run_mine(listed: Callable[[], list[RecordingMeta]], opened: Callable[[str], Playback]) -> int:
    """The window in its own Qt application; returns when it is closed."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["agentapp-mine"])
    window = MineWindow(listed, opened)
    window.show()
    return app.exec()
