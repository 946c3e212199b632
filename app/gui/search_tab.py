"""Search: try a query and see the passages an assistant would get; open a note."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from notewell.indexer.types import SearchResult

from .bridge import Bridge

COLUMNS = ("Score", "Title", "Heading", "Path")
DEFAULT_TOP_K = 3  # what an assistant gets when it does not ask for more (POST /query)


def open_in_default_app(path: Path) -> None:
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


class SearchTab(QWidget):
    def __init__(
        self,
        bridge: Bridge,
        search: Callable[[str, int], list[SearchResult]],
        open_note: Callable[[Path], None] = open_in_default_app,
    ) -> None:
        super().__init__()
        self._bridge = bridge
        self._search = search
        self._open_note = open_note
        self._results: list[SearchResult] = []

        self.query = QLineEdit()
        self.query.setPlaceholderText("Ask what an assistant would ask, e.g. “how do I undo a commit”")
        self.query.returnPressed.connect(self.run_search)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 20)
        self.top_k.setValue(DEFAULT_TOP_K)
        self.top_k.setPrefix("top ")
        self.search_button = QPushButton("Search")
        self.search_button.clicked.connect(self.run_search)
        row = QHBoxLayout()
        row.addWidget(self.query, 1)
        row.addWidget(self.top_k)
        row.addWidget(self.search_button)

        self.status = QLabel("Results show exactly the passages, scores and fields an assistant receives.")
        self.status.setWordWrap(True)
        self.results = QTreeWidget()
        self.results.setHeaderLabels(COLUMNS)
        self.results.setRootIsDecorated(False)
        self.results.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.results.itemSelectionChanged.connect(self._show_selected)
        self.results.itemActivated.connect(lambda *_: self._open_selected())
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.open_button = QPushButton("Open note")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self._open_selected)

        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.detail)
        open_row = QHBoxLayout()
        open_row.addStretch()
        open_row.addWidget(self.open_button)
        lower_layout.addLayout(open_row)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.results)
        splitter.addWidget(lower)
        splitter.setSizes([240, 200])

        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)

    def run_search(self) -> None:
        text = self.query.text().strip()
        if not text:
            return
        k = self.top_k.value()
        self.search_button.setEnabled(False)
        self.status.setText("Searching…")
        self._bridge.run(lambda: self._search(text, k), self._show_results, self._show_error)

    def _show_results(self, results: list[SearchResult]) -> None:
        self.search_button.setEnabled(True)
        self._results = results
        self.results.clear()
        self.detail.clear()
        for result in results:
            item = QTreeWidgetItem([f"{result.score:.3f}", result.title, result.heading, result.path])
            item.setToolTip(3, str(Path(result.folder) / result.path))
            self.results.addTopLevelItem(item)
        self.status.setText(f"{len(results)} passage(s): this is what an assistant receives."
                            if results else "No results. Is the folder indexed? Try other words.")
        if results:
            self.results.setCurrentItem(self.results.topLevelItem(0))

    def _show_error(self, error: BaseException) -> None:
        self.search_button.setEnabled(True)
        self.status.setText(f"Search failed: {error}")

    def _selected(self) -> SearchResult | None:
        item = self.results.currentItem()
        if item is None:
            return None
        row = self.results.indexOfTopLevelItem(item)
        return self._results[row] if 0 <= row < len(self._results) else None

    def _show_selected(self) -> None:
        result = self._selected()
        self.open_button.setEnabled(result is not None)
        if result is None:
            self.detail.clear()
            return
        self.detail.setPlainText(
            f"{result.title}" + (f" › {result.heading}" if result.heading else "")
            + f"\n{result.folder}/{result.path}, lines {result.lines[0]}–{result.lines[1]}\n\n"
            + result.text + "\n\n— as JSON —\n"
            + json.dumps(result.to_dict(), ensure_ascii=False, indent=2)
        )

    def _open_selected(self) -> None:
        result = self._selected()
        if result is not None:
            self._open_note(Path(result.folder) / result.path)
