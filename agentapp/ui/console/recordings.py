"""The Recordings tab: the recordings the person may see, filtered; play (with notes at
their moments), note, read the notes, export.
Every act asks its reason first and goes through the review module (via the model).

Threading: Qt thread only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from agentapp.core.geometry import Rect
from agentapp.i18n import _, duration, moment, ngettext, pgettext
from agentapp.trainer.console import ConsoleError, ConsoleModel, status_words
from agentapp.trainer.notes import HUB_NOTE
from agentapp.ui.console.blur import pick_blurs
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
from agentapp.ui.grid_pane import GridPane
from agentapp.ui.player import PlayerWindow, clock
from agentapp.vault.notes import NoteMeta

if TYPE_CHECKING:
    from agentapp.hub.admin import HubRecording

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
        self._note_text = QInputDialog.getMultiLineText  # (tests give their own)
        self._pick_blurs = pick_blurs
        self.players: list[PlayerWindow] = []
        self.recs = table([pgettext("column", "Recording"), _("Agent"), _("Training"), _("Started"),
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
        notes = QPushButton(_("Notes…"))
        notes.clicked.connect(self.show_notes)
        export = QPushButton(_("Export…"))
        export.clicked.connect(lambda: self.export_selected(anonymise=False))
        share = QPushButton(_("Anonymised export…"))
        share.clicked.connect(lambda: self.export_selected(anonymise=True))
        buttons = [show, self.play_button, note, notes, export, share]
        self.hub_dialog: HubDialog | None = None
        if model.hub is not None:
            self.hub_button = QPushButton(_("From the hub…"))
            self.hub_button.clicked.connect(self.from_hub)
            buttons.append(self.hub_button)
        lay_out(self, self.recs, form, buttons)

    def refresh(self) -> None:
        """ConsoleError when the listing is refused (the window says so)."""
        metas = self.model.recordings(self.filter_agent.text().strip(),
                                      self.filter_training.text().strip(),
                                      date_of(self.filter_since.date()))  # fmt: skip
        fill(self.recs, [[m.id, m.agent, m.training, moment(m.started_at),
                          duration(m.duration_s), status_words(m.status)]
                         for m in metas])  # fmt: skip

    def from_hub(self) -> None:
        """The hub's recordings this person may see, with the tab's filters; the one picked
        is fetched, sealed, into the site folder and then plays like the others."""
        try:
            rows = self.model.hub_recordings(self.filter_agent.text().strip(),
                                             self.filter_training.text().strip(),
                                             date_of(self.filter_since.date()))  # fmt: skip
        except ConsoleError as exc:
            self._say(_("Refused: {reason}").format(reason=exc))
            return
        self.hub_dialog = HubDialog(self, rows, self.fetch_from_hub)
        self.hub_dialog.show()

    def fetch_from_hub(self, rid: str) -> None:
        reason = self._reason(self, _("Why do you need this recording from the hub?"))
        if reason is None:
            return
        try:
            self.model.fetch_from_hub(rid, reason)
            self.refresh()
        except ConsoleError as exc:
            self._say(_("Refused: {reason}").format(reason=exc))
            return
        self._say(_("{id} fetched from the hub, sealed: select it in the list to play it").format(
            id=rid))  # fmt: skip

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

        pane = self._grid_pane(rid)
        player = PlayerWindow(frames, _("agentapp — recording {id}").format(id=rid),
                              caption=self.model.timeline(rid), speaker=create_speaker,
                              on_note=lambda at: self.note_at(rid, at), side=pane)  # fmt: skip
        if pane is not None:
            player.timeline.clicked.connect(pane.timeline_clicked)
        player.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.players.append(player)
        player.show()
        self._say(
            _("playing {id} (decrypted in memory; the view is in the audit trail)").format(id=rid)
        )

    def _grid_pane(self, rid: str) -> GridPane | None:
        """The training's analysis grid beside the player, when the signed policy gives it
        one (a trainer's console; a trainee's own view has none)."""
        if self.model.mine:
            return None
        try:
            grid = self.model.analyses.grid(self.model.meta(rid).training)
        except ConsoleError:
            return None
        if grid is None:
            return None

        def save(items: list[dict[str, object]]) -> str:
            a = self.model.analyses.add(rid, items)
            when = dt.datetime.fromtimestamp(a.purge_after, dt.UTC).date().isoformat()
            if a.id.startswith(HUB_NOTE):
                said = _("Analysis {id} sealed at the hub; kept until {date}")
            else:
                said = _("Analysis {id} sealed; kept until {date}")
            return said.format(id=a.id, date=when)

        return GridPane(grid, save)

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
        blurs: tuple[Rect, ...] = ()
        if anonymise:  # what to blur, drawn on a frame of the recording
            try:
                frame = self.model.frame_to_blur(rid, reason, self._key)
            except ConsoleError as exc:
                self._say(_("Refused: {reason}").format(reason=exc))
                return
            drawn = self._pick_blurs(self, frame)
            if drawn is None:
                return
            blurs = tuple(drawn)

        def export() -> str:
            out = self.model.export(rid, reason, Path(folder), anonymise, self._key, blurs)
            return ngettext("written to {path} (watermarked, {n} area blurred)",
                            "written to {path} (watermarked, {n} areas blurred)",
                            len(blurs)).format(path=out, n=len(blurs)) if anonymise else _(
                "written to {path} (watermarked)").format(path=out)  # fmt: skip

        self._act(export)

    def note_at(self, rid: str, at: float | None) -> str | None:
        """Ask for a note (about the moment `at`, or the whole recording) and seal it; who
        wrote it, or None."""
        at_hub = self.model.notes.at_hub(rid)  # fetched from the hub: the note is kept there
        if at is None:
            where = (_("Kept sealed at the hub, as long as the recording:") if at_hub
                     else _("Kept sealed, at most one year:"))  # fmt: skip
        else:
            where = (_("About {moment} into the call; kept sealed at the hub, as long as the "
                       "recording:") if at_hub
                     else _("About {moment} into the call; kept sealed, at most one year:")
                     ).format(moment=clock(at))  # fmt: skip
        text, ok = self._note_text(self, _("Analysis note"), where)
        if not ok or not text.strip():
            return None
        try:
            self.model.notes.add(rid, text, at)
        except ConsoleError as exc:
            self._say(_("Refused: {reason}").format(reason=exc))
            return None
        self._say(_("note sealed on {id}").format(id=rid))
        return self.model.s.user

    def show_notes(self) -> None:
        """The notes on the selected recording (moment, author, date); "Read…" decrypts one
        (a reason is asked and traced)."""
        rid = self._selected()
        if rid is None:
            return
        try:
            notes = self.model.notes.on(rid)
        except ConsoleError as exc:
            self._say(_("Refused: {reason}").format(reason=exc))
            return
        self.notes_dialog = NotesDialog(self, rid, notes, self._read_note)
        self.notes_dialog.show()

    def _read_note(self, nid: str) -> str | None:
        reason = self._reason(self, _("Why do you need to read this note?"))
        if reason is None:
            return None
        try:
            return self.model.notes.read(nid, reason, self._key)
        except ConsoleError as exc:
            self._say(_("Refused: {reason}").format(reason=exc))
            return None

    def _note(self) -> None:
        rid = self._selected()
        if rid is not None:
            self.note_at(rid, None)


class HubDialog(QDialog):
    """The recordings at the hub that the person may see; "Fetch" copies the selected one."""

    def __init__(self, parent: QWidget, rows: list[HubRecording],
                 fetch: Callable[[str], None]) -> None:  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle(_("Recordings at the hub"))
        self.resize(720, 420)
        self.list = table([pgettext("column", "Recording"), _("Agent"), _("Training"), _("Started"),
                           _("Duration"), _("Desk")])  # fmt: skip
        fill(self.list, [[r.id, r.agent, r.training, moment(r.started_at.timestamp()),
                          duration(r.duration_s), r.desk] for r in rows])  # fmt: skip
        self.fetch_button = QPushButton(_("Fetch"))
        self.fetch_button.clicked.connect(lambda: self._fetch(fetch))
        close = QPushButton(_("Close"))
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.fetch_button)
        row.addWidget(close)
        layout.addLayout(row)

    def _fetch(self, fetch: Callable[[str], None]) -> None:
        row = self.list.currentRow()
        if row >= 0:
            fetch(first_cell(self.list, row))


class NotesDialog(QDialog):
    """The notes on one recording: moment, author, date; "Read…" shows the selected one's
    text (decrypted in memory, never written)."""

    def __init__(self, parent: QWidget, rid: str, notes: list[NoteMeta],
                 read: Callable[[str], str | None]) -> None:  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle(_("Notes on {id}").format(id=rid))
        self.resize(640, 420)
        self._read, self._notes = read, notes
        self.list = table([_("Moment"), _("Author"), _("Written")])
        fill(self.list, [[clock(n.at_s) if n.at_s is not None else _("whole call"), n.author,
                          moment(n.created_at)] for n in notes])  # fmt: skip
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setPlaceholderText(
            _("No note on this recording yet") if not notes else _("Select a note, then Read…")
        )
        read_button = QPushButton(_("Read…"))
        read_button.clicked.connect(self.read_selected)
        close = QPushButton(_("Close"))
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.text, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(read_button)
        row.addWidget(close)
        layout.addLayout(row)

    def read_selected(self) -> None:
        row = self.list.currentRow()
        if row < 0:
            return
        text = self._read(self._notes[row].id)
        if text is not None:
            self.text.setPlainText(text)
