"""Activity: what each assistant searched, read and saved (kept across restarts), by name;
refused requests as counts. MCP's protocol chatter (initialize, tools/list, 202s) is not
shown. A saved note's row opens the file (double-click, or "Open saved note")."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from notewell.plugin_api.activity import SAVE_ENDPOINTS, ActivityEntry, source_label, summary, worth_keeping
from notewell.plugin_api.printable import printable

from .bridge import Bridge
from .theme import tint

COLUMNS = ("Time", "Client", "From", "What", "Results", "Status")
REFUSED = "Refused requests"
ALL = "All clients"
MAX_ROWS = 1000
SAVED_PATH = Qt.ItemDataRole.UserRole
_CLIENT_ROLE = 257  # Qt.UserRole + 1: the filter's name for the row


def is_refused(entry: ActivityEntry) -> bool:
    """Turned away before reaching the notes: no or wrong key, locked out, too often."""
    return entry.refused


def describe(entry: ActivityEntry) -> str:
    if entry.saved_path:
        return printable(f"saved “{entry.titles[0] if entry.titles else ''}” → {entry.saved_path}", 300)
    if entry.endpoint in SAVE_ENDPOINTS and not entry.refused:
        return printable(f"save “{entry.titles[0] if entry.titles else ''}” (not saved)", 300)
    return printable(summary(entry), 300)


def local_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


class ActivityTab(QWidget):
    def __init__(self, bridge: Bridge, history: list[ActivityEntry],
                 open_note: Callable[[Path], object] = lambda path: None) -> None:
        super().__init__()
        self._open_note = open_note
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.client_filter = QComboBox()
        self.client_filter.addItems([ALL, REFUSED])
        self.client_filter.setToolTip("Show one client's requests")
        self.client_filter.currentTextChanged.connect(lambda _: self._apply_filter())
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.client_filter)
        self.table = QTreeWidget()
        self.table.setHeaderLabels(COLUMNS)
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        for column, width in ((0, 150), (1, 130), (2, 150), (4, 70), (5, 120)):
            header.resizeSection(column, width)
        self.open_button = QPushButton("Open saved note")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(lambda: self._open(self.table.currentItem()))
        self.table.currentItemChanged.connect(
            lambda item, _old: self.open_button.setEnabled(item is not None and bool(item.data(0, SAVED_PATH))))
        self.table.itemDoubleClicked.connect(lambda item, _column: self._open(item))
        top.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table)
        self._refused: dict[tuple[str, str], tuple[QTreeWidgetItem, int]] = {}  # (source, reason) → row
        for entry in history:
            self.add(entry)
        self._update_summary()
        bridge.activity_recorded.connect(self.add)

    def add(self, entry: ActivityEntry) -> None:
        if not entry.refused and not worth_keeping(entry):
            return  # protocol chatter: nothing a person asked about
        count = "" if entry.result_count is None else str(entry.result_count)
        status = "OK" if entry.status < 400 else ("Refused" if entry.refused else "Failed") + f" ({entry.status})"
        client = REFUSED if entry.refused else printable(entry.client, 100)
        who = "Unknown" if entry.refused else client
        item = QTreeWidgetItem([local_time(entry.time), who, source_label(printable(entry.source, 100)),
                                describe(entry), count, status])
        item.setData(0, _CLIENT_ROLE, client)
        item.setToolTip(2, printable(entry.source, 100))
        item.setToolTip(3, printable(f"{summary(entry)}\n{entry.method} {entry.endpoint}", 600))
        if entry.saved_path:
            item.setData(0, SAVED_PATH, entry.saved_path)
            item.setToolTip(3, printable(f"Double-click to open {entry.saved_path}", 300))
        if is_refused(entry):
            key = (entry.source, entry.outcome)
            old = self._refused.pop(key, None)
            if old is not None:  # one row per source and reason, with the latest count
                self.table.takeTopLevelItem(self.table.indexOfTopLevelItem(old[0]))
            self._refused[key] = (item, entry.count)
            for column in range(len(COLUMNS)):
                item.setBackground(column, QBrush(tint("refused", self.palette())))
            item.setToolTip(5, "Refused: the request did not carry a valid key or token, or came too often. "
                               "Refused requests are counted, not listed one by one.")
        elif self.client_filter.findText(client) < 0:
            self.client_filter.insertItem(self.client_filter.count() - 1, client)
        self.table.insertTopLevelItem(0, item)
        item.setHidden(not self._shown(item))
        while self.table.topLevelItemCount() > MAX_ROWS:
            self.table.takeTopLevelItem(MAX_ROWS)
        self._update_summary()

    def _open(self, item: QTreeWidgetItem | None) -> None:
        path = item.data(0, SAVED_PATH) if item is not None else None
        if path:
            self._open_note(Path(path))

    def _shown(self, item: QTreeWidgetItem) -> bool:
        wanted = self.client_filter.currentText()
        return wanted == ALL or item.data(0, _CLIENT_ROLE) == wanted

    def _apply_filter(self) -> None:
        for n in range(self.table.topLevelItemCount()):
            item = self.table.topLevelItem(n)
            item.setHidden(not self._shown(item))

    def _update_summary(self) -> None:
        total = self.table.topLevelItemCount()
        if not total:
            self.summary.setText("No assistant has asked anything yet. Searches and reads appear here as they come.")
            return
        reads = total - len(self._refused)
        refused_count = sum(count for _, count in self._refused.values())
        refused = f", {refused_count} refused (highlighted)" if refused_count else ""
        self.summary.setText(f"{reads} search(es) and read(s){refused}, newest first.")
