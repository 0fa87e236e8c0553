"""What the console's tabs share: tables, a tab's layout, dates, and how a tab acts.

Threading: Qt thread only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

Say = Callable[[str], None]  # a line in the window's status
# run a model call: its answer in the status (a refusal as "Refused: …"), then every tab
# refreshed (the draft, the plan and the listings follow each change)
Act = Callable[[Callable[[], str]], None]


DATE_FORMAT = "d MMM yyyy"  # Qt's month names follow the language (ui/qt_texts.py)


def qdate(d: dt.date) -> QDate:
    return QDate(d.year, d.month, d.day)


def date_of(q: QDate) -> dt.date:
    return dt.date(q.year(), q.month(), q.day())


def table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def fill(t: QTableWidget, rows: list[list[str]]) -> None:
    t.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            t.setItem(r, c, QTableWidgetItem(text))
    # each column as wide as what it holds (a recording id is read and copied whole, never
    # wrapped or cut), the last one taking what is left
    t.resizeColumnsToContents()


def first_cell(t: QTableWidget, row: int) -> str:
    item = t.item(row, 0)
    return item.text() if item is not None else ""


def lay_out(
    page: QWidget, main: QWidget, form: QFormLayout | None, buttons: list[QPushButton]
) -> None:
    """A tab: its list or text on top, its form under it, its buttons in a row."""
    layout = QVBoxLayout(page)
    layout.addWidget(main, 1)
    if form is not None:
        layout.addLayout(form)
    row = QHBoxLayout()
    for b in buttons:
        row.addWidget(b)
    row.addStretch(1)
    layout.addLayout(row)
