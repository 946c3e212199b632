"""A Copy button that says "Copied" for a moment, so a click visibly did something (issue 17)."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QPushButton

CONFIRM_MS = 2000
COPIED = "Copied ✓"


class CopyButton(QPushButton):
    def __init__(self, label: str, text: Callable[[], str | None]) -> None:
        super().__init__(label)
        self.label = label
        self._text = text
        self._restore = QTimer(self)
        self._restore.setSingleShot(True)
        self._restore.timeout.connect(lambda: self.setText(self.label))
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance(COPIED) + 32)
        self.clicked.connect(self.copy)

    def copy(self) -> None:
        value = self._text()
        if not value:
            return
        QGuiApplication.clipboard().setText(value)
        self.setText(COPIED)
        self._restore.start(CONFIRM_MS)
