"""Activity: what assistants asked, read and saved (kept across restarts); refused requests as counts.

A saved note's row opens the file (double-click, or "Open saved note")."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from notewell.plugin_api.activity import SAVE_ENDPOINTS, ActivityEntry
from notewell.plugin_api.printable import printable

from .bridge import Bridge

COLUMNS = ("Time", "Client", "Request", "Results", "Status")
REFUSED_BACKGROUND = QColor("#fde2e2")
MAX_ROWS = 1000
SAVED_PATH = Qt.ItemDataRole.UserRole


def is_refused(entry: ActivityEntry) -> bool:
    """Turned away before reaching the notes: no or wrong key, locked out, too often."""
    return entry.refused


def describe(entry: ActivityEntry) -> str:
    if entry.refused:
        target = f" {entry.method} {entry.endpoint}" if entry.method else ""
        return printable(f"refused ×{entry.count}{target}", 300)
    if entry.saved_path:
        return printable(f"saved “{entry.titles[0] if entry.titles else ''}” → {entry.saved_path}", 300)
    if entry.endpoint in SAVE_ENDPOINTS:
        return printable(f"save “{entry.titles[0] if entry.titles else ''}” (not saved)", 300)
    if entry.queries:
        found = f" → {', '.join(entry.titles)}" if entry.titles else ""
        return printable("; ".join(entry.queries) + found, 300)
    if entry.titles:
        return printable(f"read {entry.titles[0]}", 300)
    return printable(f"{entry.method} {entry.endpoint}", 300)


def local_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


class ActivityTab(QWidget):
    def __init__(self, bridge: Bridge, history: list[ActivityEntry],
                 open_note: Callable[[Path], None] = lambda path: None) -> None:
        super().__init__()
        self._open_note = open_note
        self.summary = QLabel()
        self.table = QTreeWidget()
        self.table.setHeaderLabels(COLUMNS)
        self.table.setRootIsDecorated(False)
        self.table.header().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.header().resizeSection(0, 150)
        self.open_button = QPushButton("Open saved note")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(lambda: self._open(self.table.currentItem()))
        self.table.currentItemChanged.connect(
            lambda item, _old: self.open_button.setEnabled(item is not None and bool(item.data(0, SAVED_PATH))))
        self.table.itemDoubleClicked.connect(lambda item, _column: self._open(item))
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        row.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.table)
        self._refused: dict[tuple[str, str], tuple[QTreeWidgetItem, int]] = {}  # (source, reason) → row
        for entry in history:
            self.add(entry)
        self._update_summary()
        bridge.activity_recorded.connect(self.add)

    def add(self, entry: ActivityEntry) -> None:
        count = "" if entry.result_count is None else str(entry.result_count)
        status = str(entry.status) + ("" if entry.outcome == "ok" else f" {entry.outcome}")
        who = entry.source if entry.refused else entry.client
        item = QTreeWidgetItem([local_time(entry.time), printable(who, 100), describe(entry), count, status])
        item.setToolTip(1, printable(entry.source, 100))
        item.setToolTip(2, printable(f"{entry.method} {entry.endpoint}", 300))
        if entry.saved_path:
            item.setData(0, SAVED_PATH, entry.saved_path)
            item.setToolTip(2, printable(f"Double-click to open {entry.saved_path}", 300))
        if is_refused(entry):
            key = (entry.source, entry.outcome)
            old = self._refused.pop(key, None)
            if old is not None:  # one row per source and reason, with the latest count
                self.table.takeTopLevelItem(self.table.indexOfTopLevelItem(old[0]))
            self._refused[key] = (item, entry.count)
            for column in range(len(COLUMNS)):
                item.setBackground(column, QBrush(REFUSED_BACKGROUND))
            item.setToolTip(4, "Refused: the request did not carry a valid key or token, or came too often. "
                               "Refused requests are counted, not listed one by one.")
        self.table.insertTopLevelItem(0, item)
        while self.table.topLevelItemCount() > MAX_ROWS:
            self.table.takeTopLevelItem(MAX_ROWS)
        self._update_summary()

    def _open(self, item: QTreeWidgetItem | None) -> None:
        path = item.data(0, SAVED_PATH) if item is not None else None
        if path:
            self._open_note(Path(path))

    def _update_summary(self) -> None:
        total = self.table.topLevelItemCount()
        if not total:
            self.summary.setText("No assistant has asked anything yet. Requests appear here as they come.")
            return
        reads = total - len(self._refused)
        refused_count = sum(count for _, count in self._refused.values())
        refused = f", {refused_count} refused (highlighted)" if refused_count else ""
        self.summary.setText(f"{reads} request(s){refused}, newest first.")
