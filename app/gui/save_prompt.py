"""Saving a note: "ChatGPT wants to save “Trip ideas” — Allow once / Always for this client / Deny" (issue 18).

One non-modal question per save (the request waits meanwhile, up to its timeout),
in plain text: the client's name, the title and the first lines come from the
assistant. A question whose request ended (answered elsewhere, or timed out)
closes itself. `TrustedSaversBox` lists the clients that save without asking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QListWidgetItem, QMessageBox, QPushButton, QWidget

from .bridge import Bridge
from .consent import listed_with, plain_question, show_rows


@dataclass(frozen=True)
class SaveQuestion:
    box: QMessageBox
    once: QPushButton
    always: QPushButton
    deny: QPushButton


@dataclass(frozen=True)
class SaveAnswers:
    allow_once: Callable[[str], bool]
    allow_always: Callable[[str], bool]
    deny: Callable[[str], bool]


class SavePrompt:
    def __init__(self, parent: QWidget, bridge: Bridge, answers: SaveAnswers,
                 bring_to_front: Callable[[], None]) -> None:
        self._parent = parent
        self._answers = answers
        self._front = bring_to_front
        self.open: dict[str, SaveQuestion] = {}  # request id → its question, until answered or over
        bridge.save_requested.connect(self.heard)

    def heard(self, request: Any) -> None:
        if request.decision == "pending":
            self.ask(request)
            return
        question = self.open.pop(request.id, None)
        if question is not None:
            question.box.close()

    def ask(self, request: Any) -> None:
        source = f"From: {request.source}\n\n" if request.source else ""
        box = plain_question(  # every part comes from the assistant
            self._parent, "Notewell: save a note?",
            f"“{request.client_name}” wants to save a new note “{request.title}” in your inbox folder.",
            f"{source}{request.preview}\n\nIt adds one new file; no existing note is changed.",
        )
        question = SaveQuestion(
            box,
            box.addButton("Allow once", QMessageBox.ButtonRole.AcceptRole),
            box.addButton("Always for this client", QMessageBox.ButtonRole.YesRole),
            box.addButton("Deny", QMessageBox.ButtonRole.RejectRole),
        )

        def answered(button: Any) -> None:
            if self.open.pop(request.id, None) is None:
                return
            if button is question.once:
                self._answers.allow_once(request.id)
            elif button is question.always:
                self._answers.allow_always(request.id)
            else:
                self._answers.deny(request.id)

        box.buttonClicked.connect(answered)
        self.open[request.id] = question
        self._front()
        box.show()


class TrustedSaversBox(QGroupBox):
    """Clients allowed to save without asking ("Always for this client"), with Remove."""

    def __init__(self, bridge: Bridge, names: Callable[[], dict[str, str]], remove: Callable[[str], None]) -> None:
        super().__init__("Saving without asking")
        self._names = names
        self._remove = remove
        self.remove_button = QPushButton("Ask again")
        self.remove_button.setToolTip("This client's next save asks you again.")
        self.remove_button.clicked.connect(self._on_remove)
        self.list, self.empty = listed_with(self, self.remove_button, "No client saves without asking.")
        bridge.save_requested.connect(lambda request: request.decision == "always" and self.refresh())
        bridge.clients_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for client_id, name in self._names().items():
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, client_id)
            self.list.addItem(item)
        show_rows(self.list, self.empty, self.remove_button)

    def _on_remove(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self._remove(item.data(Qt.ItemDataRole.UserRole))
        self.refresh()
