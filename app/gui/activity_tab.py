"""Activity: what assistants asked and got; refused attempts stand out."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from notewell.plugin_api.activity import ActivityEntry

from .bridge import Bridge

COLUMNS = ("Time", "Client", "Request", "Results", "Status")
REFUSED_BACKGROUND = QColor("#fde2e2")
MAX_ROWS = 1000


def is_refused(entry: ActivityEntry) -> bool:
    """Turned away before reaching the notes: wrong or missing key, locked out, too often."""
    return entry.status in (401, 403, 429)


def describe(entry: ActivityEntry) -> str:
    if entry.queries:
        return "; ".join(entry.queries)
    if entry.note_id:
        return f"read note {entry.note_id}"
    return f"{entry.method} {entry.endpoint}"


def local_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


class ActivityTab(QWidget):
    def __init__(self, bridge: Bridge, history: list[ActivityEntry]) -> None:
        super().__init__()
        self.summary = QLabel()
        self.table = QTreeWidget()
        self.table.setHeaderLabels(COLUMNS)
        self.table.setRootIsDecorated(False)
        self.table.header().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.header().resizeSection(0, 150)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)
        self._refused = 0
        for entry in history:
            self.add(entry)
        self._update_summary()
        bridge.activity_recorded.connect(self.add)

    def add(self, entry: ActivityEntry) -> None:
        count = "" if entry.result_count is None else str(entry.result_count)
        status = str(entry.status) + ("" if entry.outcome == "ok" else f" {entry.outcome}")
        item = QTreeWidgetItem([local_time(entry.time), entry.client, describe(entry), count, status])
        item.setToolTip(2, f"{entry.method} {entry.endpoint}")
        if is_refused(entry):
            self._refused += 1
            for column in range(len(COLUMNS)):
                item.setBackground(column, QBrush(REFUSED_BACKGROUND))
            item.setToolTip(4, "Refused: the request did not carry the right API key, or came too often.")
        self.table.insertTopLevelItem(0, item)
        while self.table.topLevelItemCount() > MAX_ROWS:
            self.table.takeTopLevelItem(MAX_ROWS)
        self._update_summary()

    def _update_summary(self) -> None:
        total = self.table.topLevelItemCount()
        if not total:
            self.summary.setText("No assistant has asked anything yet. Requests appear here as they come.")
            return
        refused = f", {self._refused} refused (highlighted)" if self._refused else ""
        self.summary.setText(f"{total} request(s){refused}, newest first.")
