"""Folders: add and remove notes folders, watch them being indexed, see what was skipped."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from notewell.assets import asset_path
from notewell.indexer.types import FolderStatus, Progress

from .bridge import Bridge
from .theme import set_role

COLUMNS = ("Folder", "Notes", "Passages", "State")
STATE_COLUMN = 3
LOGO_SIZE = 96


@dataclass(frozen=True)
class RowState:
    text: str
    done: int = 0
    total: int = 0  # > 0: show a progress bar


def row_state(status: FolderStatus | None, folder: str, index_state: str, progress: Progress | None,
              exists: bool) -> RowState:
    """What the State column says for one folder (pure: tested as a table)."""
    if not exists:
        return RowState("Folder not found: reconnect the drive or remove it")
    if index_state == "opening":
        return RowState("Waiting for the index…")
    busy = index_state in ("scanning", "embedding")
    if busy and progress is not None:
        if progress.phase in ("scanning", "reading") and progress.folder == folder:
            if progress.phase == "reading" and progress.total:
                return RowState(f"Reading {progress.done}/{progress.total}", progress.done, progress.total)
            return RowState("Scanning…")
        if progress.phase == "embedding" and status is not None and status.pending_chunks:
            return RowState(f"Embedding {progress.done}/{progress.total}", progress.done, max(progress.total, 1))
    if status is None:
        return RowState("Waiting to be scanned" if busy or index_state == "paused" else "Not indexed yet")
    if index_state == "paused" and status.pending_chunks:
        return RowState(f"Paused ({status.pending_chunks} passages to embed)")
    if index_state == "error" and status.pending_chunks:  # never "Up to date" when it is not
        return RowState(f"{status.pending_chunks} passages waiting: indexing stopped (see the top of the window)")
    if busy and status.pending_chunks:
        return RowState("Waiting to embed…")
    errors = f"{status.failed} error{'s' if status.failed != 1 else ''}" if status.failed else ""
    skipped = f"{status.skipped} skipped" if status.skipped else ""
    detail = ", ".join(part for part in (errors, skipped) if part)
    return RowState(f"Up to date ({detail})" if detail else "Up to date")


class FoldersTab(QWidget):
    def __init__(
        self,
        bridge: Bridge,
        folders: Callable[[], list[Path]],
        add_folder: Callable[[Path], None],
        remove_folder: Callable[[str], None],
        set_paused: Callable[[bool], None],
        sample_notes: Path,
        choose_folder: Callable[[QWidget], str] | None = None,
    ) -> None:
        super().__init__()
        self._folders = folders
        self._add_folder = add_folder
        self._remove_folder = remove_folder
        self._set_paused = set_paused
        self._sample_notes = sample_notes
        self._choose = choose_folder or _native_folder_picker
        self._statuses: dict[str, FolderStatus] = {}
        self._progress: Progress | None = None
        self._index_state = "opening"

        self.pages = QStackedWidget()
        self.pages.addWidget(self._welcome_page())
        self.pages.addWidget(self._folders_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        bridge.folders_changed.connect(self._on_statuses)
        bridge.progress_changed.connect(self._on_progress)
        bridge.index_state_changed.connect(self._on_index_state)
        self.refresh()

    # -- building ------------------------------------------------------------
    def _welcome_page(self) -> QWidget:
        page = QWidget()
        logo = QLabel()
        logo.setPixmap(QIcon(str(asset_path("logo.png"))).pixmap(QSize(LOGO_SIZE, LOGO_SIZE)))  # sharp at any scale
        title = set_role(QLabel("Add your notes folder"), "title")
        text = QLabel(
            "Notewell indexes the folders you choose (Markdown, text, HTML, PDF; Obsidian vaults) "
            "on this computer. Nothing leaves it until you start sharing."
        )
        text.setWordWrap(True)
        text.setFixedWidth(560)
        text.setMinimumHeight(text.heightForWidth(560))  # centred, a wrapped label is otherwise cut
        self.welcome_add = QPushButton("Add your notes folder…")
        self.welcome_add.setDefault(True)
        self.welcome_sample = QPushButton("Try the sample notes")
        self.welcome_add.clicked.connect(self._on_add)
        self.welcome_sample.clicked.connect(lambda: self._add_folder(self._sample_notes))
        buttons = QHBoxLayout()
        buttons.addStretch()
        buttons.addWidget(self.welcome_add)
        buttons.addWidget(self.welcome_sample)
        buttons.addStretch()
        layout = QVBoxLayout(page)
        layout.addStretch()
        layout.setSpacing(12)
        for widget in (logo, title, text):
            widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
            widget.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
            layout.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(8)
        layout.addLayout(buttons)
        layout.addStretch(2)
        return page

    def _folders_page(self) -> QWidget:
        page = QWidget()
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        header.resizeSection(STATE_COLUMN, 240)
        self.tree.itemSelectionChanged.connect(self._show_problems)

        self.add_button = QPushButton("Add…")
        self.remove_button = QPushButton("Remove")
        self.pause_button = QPushButton("Pause indexing")
        self.pause_button.setCheckable(True)
        self.add_button.clicked.connect(self._on_add)
        self.remove_button.clicked.connect(self._on_remove)
        self.pause_button.toggled.connect(self._on_pause)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch()
        buttons.addWidget(self.pause_button)

        self.problems_label = QLabel("Select a folder to see the files it skipped or could not read.")
        self.problems = QTreeWidget()
        self.problems.setHeaderLabels(("File", "Reason"))
        self.problems.setRootIsDecorated(False)
        self.problems.header().resizeSection(0, 260)

        layout = QVBoxLayout(page)
        layout.addLayout(buttons)
        layout.addWidget(self.tree, 3)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.problems, 2)
        return page

    # -- updates -------------------------------------------------------------
    def refresh(self) -> None:
        folders = [str(f) for f in self._folders()]
        self.pages.setCurrentIndex(1 if folders else 0)
        selected = self._selected_folder()
        self.tree.clear()
        for folder in folders:
            item = QTreeWidgetItem([folder, "", "", ""])
            item.setData(0, Qt.ItemDataRole.UserRole, folder)
            item.setToolTip(0, folder)
            for column in (1, 2):
                item.setTextAlignment(column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.tree.addTopLevelItem(item)
            if folder == selected:
                item.setSelected(True)
        self._update_rows()
        self.remove_button.setEnabled(bool(folders))

    def _update_rows(self) -> None:
        for n in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(n)
            folder = item.data(0, Qt.ItemDataRole.UserRole)
            status = self._statuses.get(folder)
            item.setText(1, str(status.files) if status else "–")
            item.setText(2, str(status.chunks) if status else "–")
            state = row_state(status, folder, self._index_state, self._progress, os.path.isdir(folder))
            item.setText(STATE_COLUMN, state.text)
            item.setToolTip(STATE_COLUMN, state.text)
            bar = self.tree.itemWidget(item, STATE_COLUMN)
            if state.total <= 0:
                # Removed, not hidden: the view shows its cell widgets again on every
                # layout (a second folder, a resize) and a hidden bar came back empty.
                if bar is not None:
                    self.tree.removeItemWidget(item, STATE_COLUMN)
                continue
            if not isinstance(bar, QProgressBar):
                bar = QProgressBar()
                bar.setTextVisible(True)
                self.tree.setItemWidget(item, STATE_COLUMN, bar)
            bar.setRange(0, state.total)
            bar.setValue(min(state.done, state.total))
            bar.setFormat(state.text)
        self._show_problems()

    def _on_statuses(self, statuses: list[FolderStatus]) -> None:
        self._statuses = {s.folder: s for s in statuses}
        self._update_rows()

    def _on_progress(self, progress: Progress) -> None:
        self._progress = None if progress.phase == "done" else progress
        self._update_rows()

    def _on_index_state(self, state: str, message: str) -> None:
        self._index_state = state
        if state in ("idle", "error", "paused"):
            self._progress = None
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(state == "paused")
        self.pause_button.setText("Resume indexing" if state == "paused" else "Pause indexing")
        self.pause_button.blockSignals(False)
        self._update_rows()

    def _show_problems(self) -> None:
        folder = self._selected_folder()
        self.problems.clear()
        status = self._statuses.get(folder) if folder else None
        if status is None:
            self.problems_label.setText("Select a folder to see the files it skipped or could not read.")
            return
        self.problems_label.setText(
            f"{len(status.problems)} file(s) skipped or failed in {Path(folder).name}:"
            if status.problems else f"Every file in {Path(folder).name} was read."
        )
        for problem in status.problems:
            item = QTreeWidgetItem([problem.rel, problem.reason])
            item.setToolTip(1, problem.reason)
            self.problems.addTopLevelItem(item)

    def _selected_folder(self) -> str | None:
        items = self.tree.selectedItems() if hasattr(self, "tree") else []
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    # -- actions -------------------------------------------------------------
    def _on_add(self) -> None:
        chosen = self._choose(self)
        if chosen:
            self._add_folder(Path(chosen))

    def _on_remove(self) -> None:
        folder = self._selected_folder()
        if folder is None and self.tree.topLevelItemCount() == 1:
            folder = self.tree.topLevelItem(0).data(0, Qt.ItemDataRole.UserRole)
        if folder:
            self._remove_folder(folder)

    def _on_pause(self, paused: bool) -> None:
        self._set_paused(paused)


def _native_folder_picker(parent: QWidget) -> str:
    return QFileDialog.getExistingDirectory(parent, "Choose a notes folder", str(Path.home()))
