"""The Recordings tab: the recordings the person may see, filtered; play, note, export.
Every act asks its reason first and goes through the review module (via the model).

Threading: Qt thread only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDateEdit,
    QFileDialog,
    QFormLayout,
    QInputDialog,
    QLineEdit,
    QPushButton,
    QWidget,
)

from agentapp.console import ConsoleError, ConsoleModel
from agentapp.ui.console.widgets import Act, Say, date_of, fill, first_cell, lay_out, qdate, table
from agentapp.ui.player import PlayerWindow

ReasonAsker = Callable[[QWidget, str], str | None]


def ask_reason(parent: QWidget, what: str) -> str | None:
    text, ok = QInputDialog.getText(parent, "Reason (audited)", f"Why do you need to {what}?")
    return text if ok else None


class RecordingsTab(QWidget):
    def __init__(
        self,
        model: ConsoleModel,
        say: Say,
        act: Act,
        private_key_loader: Callable[[str], object],
        reason: ReasonAsker,
    ) -> None:
        super().__init__()
        self.model, self._say, self._act = model, say, act
        self._key, self._reason = private_key_loader, reason
        self.players: list[PlayerWindow] = []
        self.recs = table(["Recording", "Agent", "Training", "Started", "Duration", "Status"])
        self.filter_agent, self.filter_training = QLineEdit(), QLineEdit()
        self.filter_agent.setPlaceholderText("any agent")
        self.filter_training.setPlaceholderText("any training")
        self.filter_since = QDateEdit(qdate(dt.date.today() - dt.timedelta(days=183)))
        self.filter_since.setDisplayFormat("yyyy-MM-dd")
        self.filter_since.setCalendarPopup(True)
        form = QFormLayout()
        form.addRow("Agent", self.filter_agent)
        form.addRow("Training", self.filter_training)
        form.addRow("Since", self.filter_since)
        show = QPushButton("Filter")
        show.clicked.connect(self._filter)
        self.play_button = QPushButton("Play…")
        self.play_button.clicked.connect(self.play_selected)
        note = QPushButton("Add a note…")
        note.clicked.connect(self._note)
        export = QPushButton("Export…")
        export.clicked.connect(lambda: self.export_selected(anonymise=False))
        share = QPushButton("Anonymised export…")
        share.clicked.connect(lambda: self.export_selected(anonymise=True))
        lay_out(self, self.recs, form, [show, self.play_button, note, export, share])

    def refresh(self) -> None:
        """ConsoleError when the listing is refused (the window says so)."""
        metas = self.model.recordings(self.filter_agent.text().strip(),
                                      self.filter_training.text().strip(),
                                      date_of(self.filter_since.date()))  # fmt: skip
        fill(self.recs, [[m.id, m.agent, m.training,
                          dt.datetime.fromtimestamp(m.started_at).strftime("%Y-%m-%d %H:%M"),
                          f"{m.duration_s:.0f} s", m.status] for m in metas])  # fmt: skip

    def _filter(self) -> None:
        try:
            self.refresh()
        except ConsoleError as exc:
            self._say(f"Refused: {exc}")

    def _selected(self) -> str | None:
        row = self.recs.currentRow()
        if row < 0:
            self._say("Select a recording first")
            return None
        return first_cell(self.recs, row)

    def play_selected(self) -> None:
        rid = self._selected()
        if rid is None:
            return
        reason = self._reason(self, "watch this recording")
        if reason is None:
            return
        try:
            frames = self.model.open(rid, reason, self._key)
        except ConsoleError as exc:
            self._say(f"Refused: {exc}")
            return
        player = PlayerWindow(frames, f"agentapp — recording {rid}",
                              caption=self.model.timeline(rid))  # fmt: skip
        player.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.players.append(player)
        player.show()
        self._say(f"playing {rid} (decrypted in memory; the view is in the audit trail)")

    def export_selected(self, anonymise: bool, folder: str | None = None) -> None:
        rid = self._selected()
        if rid is None:
            return
        what = "share this recording anonymised" if anonymise else "export this recording"
        reason = self._reason(self, what)
        if reason is None:
            return
        folder = folder or QFileDialog.getExistingDirectory(self, "Export to which folder?")
        if not folder:
            return

        def export() -> str:
            out = self.model.export(rid, reason, Path(folder), anonymise, self._key)
            return f"written to {out} (watermarked)"

        self._act(export)

    def _note(self) -> None:
        rid = self._selected()
        if rid is None:
            return
        text, ok = QInputDialog.getMultiLineText(self, "Analysis note",
                                                 "Kept sealed, at most one year:")  # fmt: skip
        if ok and text.strip():

            def add() -> str:
                self.model.add_note(rid, text)
                return f"note sealed on {rid}"

            self._act(add)
