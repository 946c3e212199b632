"""OAuth in the desktop app: the Allow / Deny question, and the list of connected clients.

`ConsentPrompt` shows one non-modal question per pending request (the server
keeps waiting meanwhile; it merges repeats and caps how many wait), in plain text; `ClientsBox` lists the OAuth grants with Revoke.
Both get plain callables and the bridge's signals, never the server itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from notewell.plugin_api.access import WRITE_SCOPE
from notewell.plugin_api.consent import asks_for

from .bridge import Bridge


@dataclass(frozen=True)
class Question:
    box: QMessageBox
    allow: QPushButton
    deny: QPushButton


def plain_question(parent: QWidget, title: str, text: str, informative: str) -> QMessageBox:
    """A non-modal question whose every line is plain text: names, titles and note text come
    from whoever registered or called, and are never read as Qt rich text (issue 15)."""
    box = QMessageBox(parent)
    box.setWindowTitle(title)
    box.setIcon(QMessageBox.Icon.Question)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(text)
    box.setInformativeText(informative)
    label = box.findChild(QLabel, "qt_msgbox_informativelabel")
    if label is not None:
        label.setTextFormat(Qt.TextFormat.PlainText)
    box.setModal(False)
    return box


class ConsentPrompt:
    def __init__(
        self,
        parent: QWidget,
        bridge: Bridge,
        approve: Callable[[str], bool],
        deny: Callable[[str], bool],
        bring_to_front: Callable[[], None],
    ) -> None:
        self._parent = parent
        self._approve = approve
        self._deny = deny
        self._front = bring_to_front
        self.open: dict[str, Question] = {}  # request id → its question, until answered
        bridge.consent_requested.connect(self.ask)

    def ask(self, request: Any) -> None:
        access = ("search and read your notes, and ask to save new notes into your inbox folder (each save "
                  "asks you unless you trust it)" if WRITE_SCOPE in request.scopes
                  else "search and read your notes (read-only)")
        # The name comes from a registration anyone can make.
        box = plain_question(
            self._parent, "Notewell: allow access?",
            f"An app calling itself “{request.client_name}” wants to {asks_for(request.scopes)}.",
            f"After you allow it, it returns to {request.redirect_host} and can {access} "
            "until you revoke it under Connect → Connected clients. "
            "Allow it only if you just asked an assistant to connect to Notewell.",
        )
        question = Question(box, box.addButton("Allow", QMessageBox.ButtonRole.AcceptRole),
                            box.addButton("Deny", QMessageBox.ButtonRole.RejectRole))

        def answered(button: Any) -> None:
            self.open.pop(request.id, None)
            (self._approve if button is question.allow else self._deny)(request.id)

        box.buttonClicked.connect(answered)
        self.open[request.id] = question
        self._front()
        box.show()


class ClientsBox(QGroupBox):
    """Connected clients (OAuth): who was allowed, when, and a Revoke button."""

    def __init__(self, grants: Callable[[], list[Any]], revoke: Callable[[str], bool],
                 confirm: Callable[[QWidget, str], bool] | None = None) -> None:
        super().__init__("Connected clients (OAuth)")
        self._grants = grants
        self._revoke = revoke
        self._confirm = confirm or _ask
        self.revoke_button = QPushButton("Revoke")
        self.revoke_button.clicked.connect(self._on_revoke)
        self.list, self.empty = listed_with(self, self.revoke_button, "No client has been allowed through OAuth.")
        self.refresh()

    def refresh(self) -> None:
        current = self.list.currentItem()
        selected = current.data(256) if current is not None else None
        self.list.clear()
        for grant in self._grants():
            used = f"last used {_when(grant.last_used_at)}" if grant.last_used_at else "not used yet"
            item = QListWidgetItem(
                f"{grant.client_name} ({grant.redirect_host}) — allowed {_when(grant.created_at)}, {used}")
            item.setData(256, grant.id)  # Qt.UserRole
            item.setData(257, grant.client_name)
            self.list.addItem(item)
            if grant.id == selected:  # a refresh after a client's search keeps what the user picked
                self.list.setCurrentItem(item)
        show_rows(self.list, self.empty, self.revoke_button)

    def _on_revoke(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        name = item.data(257)
        if not self._confirm(self, f"Revoke “{name}”? It can no longer search or read your notes; to use it "
                                   "again, connect it again from the assistant and allow it here."):
            return
        self._revoke(item.data(256))
        self.refresh()


def listed_with(box: QGroupBox, button: QPushButton, empty: str) -> tuple[QListWidget, QLabel]:
    """`box`'s list, with `button` under it (enabled while a row is picked), and the line said
    instead of the list while it is empty."""
    rows = QListWidget()
    rows.currentRowChanged.connect(lambda row: button.setEnabled(row >= 0))
    label = QLabel(empty)
    row = QHBoxLayout()
    row.addStretch()
    row.addWidget(button)
    layout = QVBoxLayout(box)
    for widget in (label, rows):
        layout.addWidget(widget)
    layout.addLayout(row)
    return rows, label


def show_rows(rows: QListWidget, empty: QLabel, button: QPushButton) -> None:
    """After a refresh: the list or the empty line, and the button only with a row picked."""
    has = rows.count() > 0
    rows.setVisible(has)
    empty.setVisible(not has)
    button.setEnabled(has and rows.currentRow() >= 0)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _ask(parent: QWidget, question: str) -> bool:
    box = QMessageBox(QMessageBox.Icon.Question, "Notewell", question,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # the name comes from a registration anyone can make
    return box.exec() == QMessageBox.StandardButton.Yes
