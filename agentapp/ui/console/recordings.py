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

from agentapp.console import ConsoleError, ConsoleModel, status_words
from agentapp.i18n import _, duration, moment
from agentapp.ui.console.widgets import (
    DATE_FORMAT,
    Act,
    Say,
    date_of,
    fill,
    first_cell,
    lay_out,
    qdate,
    table,
)
from agentapp.ui.player import PlayerWindow

ReasonAsker = Callable[[QWidget, str], str | None]


def ask_reason(parent: QWidget, what: str) -> str | None:
    text, ok = QInputDialog.getText(parent, _("Reason (audited)"), what)
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
        self.recs = table([_("Recording"), _("Agent"), _("Training"), _("Started"),
                           _("Duration"), _("Status")])  # fmt: skip
        self.filter_agent, self.filter_training = QLineEdit(), QLineEdit()
        self.filter_agent.setPlaceholderText(_("any agent"))
        self.filter_training.setPlaceholderText(_("any training"))
        self.filter_since = QDateEdit(qdate(dt.date.today() - dt.timedelta(days=183)))
        self.filter_since.setDisplayFormat(DATE_FORMAT)
        self.filter_since.setCalendarPopup(True)
        form = QFormLayout()
        form.addRow(_("Agent"), self.filter_agent)
        form.addRow(_("Training"), self.filter_training)
        form.addRow(_("Since"), self.filter_since)
        show = QPushButton(_("Filter"))
        show.clicked.connect(self._filter)
        self.play_button = QPushButton(_("Play…"))
        self.play_button.clicked.connect(self.play_selected)
        note = QPushButton(_("Add a note…"))
        note.clicked.connect(self._note)
        export = QPushButton(_("Export…"))
        export.clicked.connect(lambda: self.export_selected(anonymise=False))
        share = QPushButton(_("Anonymised export…"))
        share.clicked.connect(lambda: self.export_selected(anonymise=True))
        lay_out(self, self.recs, form, [show, self.play_button, note, export, share])

    def refresh(self) -> None:
        """ConsoleError when the listing is refused (the window says so)."""
        metas = self.model.recordings(self.filter_agent.text().strip(),
                                      self.filter_training.text().strip(),
                                      date_of(self.filter_since.date()))  # fmt: skip
        fill(self.recs, [[m.id, m.agent, m.training, moment(m.started_at),
                          duration(m.duration_s), status_words(m.status)]
                         for m in metas])  # fmt: skip

    def _filter(self) -> None:
        try:
            self.refresh()
        except ConsoleError as exc:
            self._say(_("Refused: {reason}").format(reason=exc))

    def _selected(self) -> str | None:
        row = self.recs.currentRow()
        if row < 0:
            self._say(_("Select a recording first"))
            return None
        return first_cell(self.recs, row)

    def play_selected(self) -> None:
        rid = self._selected()
        if rid is None:
            return
        reason = self._reason(self, _("Why do you need to watch this recording?"))
        if reason is None:
            return
        try:
            frames = self.model.open(rid, reason, self._key)
        except ConsoleError as exc:
            self._say(_("Refused: {reason}").format(reason=exc))
            return
        from agentapp.platform.factory import create_speaker

        player = PlayerWindow(frames, _("agentapp — recording {id}").format(id=rid),
                              caption=self.model.timeline(rid),
                              speaker=create_speaker)  # fmt: skip
        player.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.players.append(player)
        player.show()
        self._say(
            _("playing {id} (decrypted in memory; the view is in the audit trail)").format(id=rid)
        )

    def export_selected(self, anonymise: bool, folder: str | None = None) -> None:
        rid = self._selected()
        if rid is None:
            return
        what = (_("Why do you need to share this recording anonymised?") if anonymise
                else _("Why do you need to export this recording?"))  # fmt: skip
        reason = self._reason(self, what)
        if reason is None:
            return
        folder = folder or QFileDialog.getExistingDirectory(self, _("Export to which folder?"))
        if not folder:
            return

        def export() -> str:
            out = self.model.export(rid, reason, Path(folder), anonymise, self._key)
            return _("written to {path} (watermarked)").format(path=out)

        self._act(export)

    def _note(self) -> None:
        rid = self._selected()
        if rid is None:
            return
        text, ok = QInputDialog.getMultiLineText(
            self, _("Analysis note"), _("Kept sealed, at most one year:")
        )
        if ok and text.strip():

            def add() -> str:
                self.model.add_note(rid, text)
                return _("note sealed on {id}").format(id=rid)

            self._act(add)
