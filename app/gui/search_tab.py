"""Search: try a query and see the passages an assistant would get; read the note they come from.

Scores are absolute (indexer/relevance.py): below GOOD_MATCH a passage is greyed, and when
even the best one is, the tab says there is no good match rather than dressing it up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
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

from notewell.indexer.relevance import GOOD_MATCH
from notewell.indexer.types import NoteContent, SearchResult

from .bridge import Bridge
from .note_view import NoteView, OpenPath, open_with_desktop

COLUMNS = ("Score", "Title", "Heading", "Path")
DEFAULT_TOP_K = 3  # what an assistant gets when it does not ask for more (POST /query)


class SearchTab(QWidget):
    def __init__(
        self,
        bridge: Bridge,
        search: Callable[[str, int], list[SearchResult]],
        read_note: Callable[[str], NoteContent | None],
        open_path: OpenPath = open_with_desktop,
    ) -> None:
        super().__init__()
        self._bridge = bridge
        self._search = search
        self._read_note = read_note
        self._open_path = open_path
        self._results: list[SearchResult] = []
        self.note_view: NoteView | None = None

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
        self.results.setAlternatingRowColors(True)
        header = self.results.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Interactive)
        self.results.setColumnWidth(1, 200)
        self.results.setColumnWidth(3, 220)
        self.results.itemSelectionChanged.connect(self._show_selected)
        self.results.itemActivated.connect(lambda *_: self._open_selected())
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.open_button = QPushButton("Open note")
        self.open_button.setToolTip("Read the whole note here, with this passage marked")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self._open_selected)
        self.folder_button = QPushButton("Show in folder")
        self.folder_button.setEnabled(False)
        self.folder_button.clicked.connect(self._show_in_folder)

        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.detail)
        open_row = QHBoxLayout()
        open_row.addStretch()
        open_row.addWidget(self.folder_button)
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
        weak_colour = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        for result in results:
            item = QTreeWidgetItem([f"{result.score:.2f}", result.title, result.heading, result.path])
            item.setTextAlignment(0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for column, tip in enumerate((_score_tip(result.score), result.title, result.heading,
                                          str(Path(result.folder) / result.path))):
                item.setToolTip(column, tip)
            if result.score < GOOD_MATCH:
                for column in range(len(COLUMNS)):
                    item.setForeground(column, weak_colour)
            self.results.addTopLevelItem(item)
        self.status.setText(_summary(results))
        self._fit_columns()
        if results:
            self.results.setCurrentItem(self.results.topLevelItem(0))

    def _fit_columns(self) -> None:
        """Title and path as wide as they need up to a quarter each; the heading takes the rest."""
        cap = max(120, self.results.viewport().width() // 4)
        for column in (1, 3):
            self.results.resizeColumnToContents(column)
            self.results.setColumnWidth(column, min(cap, self.results.columnWidth(column)))

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
        self.folder_button.setEnabled(result is not None)
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
        if result is None:
            return
        self.status.setText("Opening the note…")
        self._bridge.run(lambda: self._read_note(result.note_id), lambda note: self._show_note(note, result),
                         self._show_error)

    def _show_note(self, note: NoteContent | None, result: SearchResult) -> None:
        if note is None:
            self.status.setText("This note is no longer in the index (moved or deleted?). Search again.")
            return
        self.status.setText(_summary(self._results))
        if self.note_view is not None:
            self.note_view.close()
        self.note_view = NoteView(note, result.text, self._open_path, self)
        self.note_view.show()

    def _show_in_folder(self) -> None:
        result = self._selected()
        if result is None:
            return
        folder = (Path(result.folder) / result.path).parent
        if not self._open_path(folder):
            self.status.setText(f"No file manager answered. The note is in {folder}")


def _summary(results: list[SearchResult]) -> str:
    if not results:
        return "No results. Is the folder indexed? Try other words."
    if results[0].score < GOOD_MATCH:
        return ("No good match. The closest passages are greyed below; an assistant would get them too, "
                "with these low scores. Try other words.")
    weak = sum(r.score < GOOD_MATCH for r in results)
    return (f"{len(results)} passage(s): this is what an assistant receives"
            + (f" ({weak} greyed: weak matches)." if weak else "."))


def _score_tip(score: float) -> str:
    return ("Relevance from 0 to 1, the same scale for every query. "
            + ("A good match." if score >= GOOD_MATCH else "Below a good match."))
