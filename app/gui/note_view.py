"""A note read inside the app: its text with the found passage marked, and ways out to the
file (the default app, the file manager) that say so when the computer has no program for it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from notewell.indexer.types import NoteContent

from .theme import set_role, tint

# Opens a file or folder with the desktop's default program; False when there is none.
OpenPath = Callable[[Path], bool]


def open_with_desktop(path: Path) -> bool:
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))


def passage_span(text: str, passage: str) -> tuple[int, int] | None:
    """Where `passage` sits in `text` (the chunk may be trimmed or re-wrapped: match its lines)."""
    start = text.find(passage.strip())
    if start >= 0:
        return start, start + len(passage.strip())
    lines = [line.strip() for line in passage.splitlines() if len(line.strip()) > 3]
    if not lines:
        return None
    first = text.find(lines[0])
    if first < 0:
        return None
    last = text.find(lines[-1], first)
    end = last + len(lines[-1]) if last >= 0 else first + len(lines[0])
    return first, end


class NoteView(QDialog):
    def __init__(self, note: NoteContent, passage: str, open_path: OpenPath = open_with_desktop,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{note.title} — Notewell")
        self.resize(760, 560)
        self._open_path = open_path
        self.file = Path(note.folder) / note.path

        title = QLabel(note.title)
        title.setTextFormat(Qt.TextFormat.PlainText)
        set_role(title, "title")
        where = QLabel(str(self.file))
        set_role(where, "caption")
        where.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setPlainText(note.text)
        self.span = passage_span(note.text, passage)
        if self.span is not None:
            self._mark(*self.span)
        self.message = QLabel("")
        self.message.setWordWrap(True)

        self.open_button = QPushButton("Open in default app")
        self.open_button.clicked.connect(self.open_file)
        self.folder_button = QPushButton("Show in folder")
        self.folder_button.clicked.connect(self.show_in_folder)
        copy_button = QPushButton("Copy path")
        copy_button.clicked.connect(self.copy_path)
        close_button = QPushButton("Close")
        close_button.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.folder_button, copy_button):
            buttons.addWidget(button)
        buttons.addStretch()
        buttons.addWidget(close_button)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(where)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)

    def _mark(self, start: int, end: int) -> None:
        cursor = QTextCursor(self.text.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        mark = QTextEdit.ExtraSelection()
        fmt = QTextCharFormat()
        fmt.setBackground(tint("match", self.palette()))
        mark.format = fmt
        mark.cursor = cursor
        self.text.setExtraSelections([mark])
        shown = QTextCursor(self.text.document())
        shown.setPosition(start)
        self.text.setTextCursor(shown)
        self.text.centerCursor()

    def open_file(self) -> None:
        if self._open_path(self.file):
            self.message.setText("")
            return
        self.message.setText(
            f"No program on this computer opens {self.file.suffix or 'this'} files, so the note is shown here. "
            "Choose one in your desktop's default-applications settings, or use Show in folder."
        )

    def show_in_folder(self) -> None:
        if self._open_path(self.file.parent):
            self.message.setText("")
            return
        self.copy_path()
        self.message.setText(f"No file manager answered. The path is copied: {self.file}")

    def copy_path(self) -> None:
        QGuiApplication.clipboard().setText(str(self.file))
        self.message.setText("Path copied.")

