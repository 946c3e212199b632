"""Settings: a form built from `SETTINGS_FIELDS`, plus the ngrok authtoken (a secret).

Under Embedding model, a line says which model the index uses and, with "auto", why
(`app.services.model_choice`, the same words as `notewell doctor`). Finding out reads a
sample of the notes, so it runs on a worker thread each time the index opens or the tab
is shown."""

from __future__ import annotations

import dataclasses
import logging
import typing
from dataclasses import Field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from notewell.app.connect_help import NGROK_AUTHTOKEN_PAGE as AUTHTOKEN_PAGE
from notewell.app.connect_help import NGROK_DOMAINS_PAGE as DOMAINS_PAGE
from notewell.app.preferences import INDEX_FIELDS, Preferences
from notewell.app.runtime import inbox_problem
from notewell.app.secrets import UserSecret
from notewell.app.settings import MODEL_CHOICES, SETTINGS_FIELDS, Settings

from .bridge import Bridge
from .theme import set_role

if TYPE_CHECKING:
    from notewell.app.services import ModelChoice

log = logging.getLogger(__name__)

ADVANCED = frozenset({"chroma_url", "host", "ngrok_region", "contact_email", "legal_url"})
GROUPS = (
    ("Notes", ("extensions", "ignore_patterns", "max_file_mb", "model", "model_precision")),
    # First-time sharing in order: the authtoken, the free static domain, then the rest (issue 17).
    ("Sharing", ("ngrok_authtoken", "ngrok_domain", "ngrok_path", "start_sharing_on_launch", "public_url", "port")),
    ("Saving notes", ("inbox_folder", "ask_before_saving")),
    ("App", ("start_at_login", "appearance")),
)
AUTHTOKEN = "ngrok_authtoken"
HINTS = {
    AUTHTOKEN: f"Sign up free at ngrok, then copy it from <a href='{AUTHTOKEN_PAGE}'>Your Authtoken</a>.",
    "ngrok_domain": f"Claim your one free static domain under <a href='{DOMAINS_PAGE}'>Domains</a>, "
                    "e.g. calm-otter-123.ngrok-free.app: the public URL then stays the same.",
    "ngrok_path": "Leave empty to use the ngrok on your PATH, or let Notewell download it.",
}
_TYPES = typing.get_type_hints(Settings)


class FieldEditor:
    """One widget per setting, chosen by the field's type."""

    def __init__(self, field: Field[Any]) -> None:
        self.field = field
        kind = _TYPES[field.name]
        self.kind = kind
        if "choices" in field.metadata:
            combo = QComboBox()
            for choice in field.metadata["choices"]:  # a value, or (value, label)
                value, label = choice if isinstance(choice, tuple) else (choice, choice.capitalize())
                combo.addItem(label, value)
            self.widget = combo
        elif kind is bool:
            self.widget: QWidget = QCheckBox(field.metadata["help"])
        elif kind is int:
            spin = QSpinBox()
            spin.setRange(0, 65535)
            self.widget = spin
        elif kind is float:
            dspin = QDoubleSpinBox()
            dspin.setRange(0.1, 10_000)
            dspin.setDecimals(1)
            self.widget = dspin
        else:
            line = QLineEdit()
            if kind == list[str]:
                line.setPlaceholderText("comma-separated")
            self.widget = line
        self.widget.setToolTip(field.metadata["help"])
        self.widget.setObjectName(field.name)

    def set(self, value: Any) -> None:
        w = self.widget
        if isinstance(w, QComboBox):
            w.setCurrentIndex(max(0, w.findData(value)))
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
            w.setValue(value)
        elif isinstance(w, QLineEdit):
            w.setText(", ".join(value) if isinstance(value, list) else str(value))

    def get(self) -> Any:
        w = self.widget
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, (QSpinBox, QDoubleSpinBox)):
            return w.value()
        assert isinstance(w, QLineEdit)
        if self.kind == list[str]:
            return [part.strip() for part in w.text().split(",") if part.strip()]
        return w.text().strip()


class SettingsTab(QWidget):
    def __init__(
        self, prefs: Preferences, authtoken: UserSecret, on_saved: Callable[[frozenset[str]], None] | None = None,
        choose_folder: Callable[[QWidget], str] | None = None,
        extras: typing.Sequence[QWidget] = (),
        choose_file: Callable[[QWidget, str], str] | None = None,
        *,
        bridge: Bridge | None = None,
        model_choice: Callable[[], ModelChoice | None] | None = None,
    ) -> None:
        """`model_choice`: which model the open index uses and why (None: no index open yet);
        called on the bridge's worker threads."""
        super().__init__()
        self._bridge = bridge
        self._model_choice = model_choice
        self._asked = 0  # the latest model_choice request: an older answer is dropped
        self._choose_folder = choose_folder or (
            lambda parent: QFileDialog.getExistingDirectory(parent, "Inbox folder for saved notes"))
        self._choose_file = choose_file or (lambda parent, title: QFileDialog.getOpenFileName(parent, title)[0])
        self.hints: dict[str, QLabel] = {}
        self._prefs = prefs
        self._authtoken = authtoken
        self._on_saved = on_saved or (lambda changed: None)
        self.editors = {f.name: FieldEditor(f) for f in SETTINGS_FIELDS}
        self.authtoken_field = QLineEdit()
        self.authtoken_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.authtoken_field.setObjectName(AUTHTOKEN)
        self.authtoken_field.setPlaceholderText("from dashboard.ngrok.com → Your Authtoken")
        self.model_warning = QLabel("Changing the model re-embeds every note: this can take a while.")
        set_role(self.model_warning, "warning")
        self.model_warning.setVisible(False)
        self.model_in_use = QLabel()
        self.model_in_use.setObjectName("model_in_use")
        self.model_in_use.setWordWrap(True)
        set_role(self.model_in_use, "caption")
        self.model_in_use.setVisible(False)
        if bridge is not None:
            bridge.index_opened.connect(self._on_index_opened)  # a bound method: gone with the tab
        model, precision = self.editors["model"].widget, self.editors["model_precision"].widget
        assert isinstance(model, QLineEdit) and isinstance(precision, QComboBox)

        def changed(_value: object = None) -> None:
            self.model_warning.setVisible(
                model.text().strip() != prefs.settings.model
                or precision.currentData() != prefs.settings.model_precision)

        model.textChanged.connect(changed)
        precision.currentIndexChanged.connect(changed)
        self._check_model = changed
        # The models that need no download, offered as you type (any other name still works).
        self.model_choices = QCompleter(list(MODEL_CHOICES), model)
        model.setCompleter(self.model_choices)

        content = QWidget()
        layout = QVBoxLayout(content)
        placed: set[str] = set()
        for title, names in GROUPS:
            layout.addWidget(self._group(title, names))
            placed.update(names)
        rest = [f.name for f in SETTINGS_FIELDS if f.name not in placed]
        for extra in extras:  # e.g. the clients that save without asking
            layout.addWidget(extra)
        advanced = self._group("Advanced", rest)
        layout.addWidget(advanced)
        layout.addStretch()

        self.status = QLabel()
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.revert_button = QPushButton("Revert")
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.load)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.addWidget(scroll, 1)
        outer.addLayout(buttons)
        self.load()

    def _group(self, title: str, names: typing.Iterable[str]) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        for name in names:
            if name == AUTHTOKEN:
                form.addRow("ngrok authtoken", self._field_row(name, self.authtoken_field))
            else:
                editor = self.editors[name]
                label = "" if editor.kind is bool else editor.field.metadata["label"]
                if editor.kind is bool:
                    editor.widget.setText(editor.field.metadata["label"])
                widget = self._inbox_row(editor.widget) if name == "inbox_folder" else editor.widget
                form.addRow(label, self._field_row(name, widget))
            if name == "model_precision":
                form.addRow("", self.model_warning)
        return box

    def _inbox_row(self, line: QWidget) -> QWidget:
        assert isinstance(line, QLineEdit)
        line.setPlaceholderText("off: assistants cannot save")
        self.choose_inbox = QPushButton("Choose…")
        self.clear_inbox = QPushButton("Turn off")

        def choose() -> None:
            folder = self._choose_folder(self)
            if folder:
                line.setText(folder)

        self.choose_inbox.clicked.connect(choose)
        self.clear_inbox.clicked.connect(line.clear)
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (line, self.choose_inbox, self.clear_inbox):
            layout.addWidget(widget)
        return row

    def _field_row(self, name: str, field: QWidget) -> QWidget:
        """The field, a Browse… button for the agent path, and a hint with links under it (under
        the model: which model the index uses)."""
        if name == "ngrok_path":
            field = self._with_browse(field)
        if name == "model":
            hint = self.model_in_use
        elif name in HINTS:
            hint = QLabel(HINTS[name])
            hint.setObjectName(f"{name}_hint")
            hint.setWordWrap(True)
            hint.setOpenExternalLinks(True)
            hint.setTextFormat(Qt.TextFormat.RichText)
            set_role(hint, "caption")
            self.hints[name] = hint
        else:
            return field
        row = QWidget()
        layout = QVBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(2)
        layout.addWidget(field)
        layout.addWidget(hint)
        return row

    def _with_browse(self, field: QWidget) -> QWidget:
        self.browse_ngrok = QPushButton("Browse…")
        self.browse_ngrok.clicked.connect(self._on_browse_ngrok)
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(field, 1)
        layout.addWidget(self.browse_ngrok)
        return row

    def _on_browse_ngrok(self) -> None:
        path = self._choose_file(self, "The ngrok agent")
        if path:
            field = self.editors["ngrok_path"].widget
            assert isinstance(field, QLineEdit)
            field.setText(path)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh_model_in_use()  # notes added since the index opened may tell another story

    def _on_index_opened(self, _index: object) -> None:
        self.refresh_model_in_use()

    def refresh_model_in_use(self) -> None:
        if self._bridge is None or self._model_choice is None:
            return
        self._asked += 1
        asked = self._asked

        def show(choice: ModelChoice | None) -> None:
            if asked != self._asked:
                return  # a newer answer is on its way
            if choice is not None:
                self.model_in_use.setText(model_in_use(choice))
            self.model_in_use.setVisible(choice is not None)

        def failed(error: BaseException) -> None:
            log.warning("could not tell which model the index uses: %s", error)
            show(None)

        self._bridge.run(self._model_choice, show, failed)

    def load(self) -> None:
        for name, editor in self.editors.items():
            editor.set(getattr(self._prefs.settings, name))
        self.authtoken_field.setText(self._authtoken.get())
        self._check_model()  # hidden, unless a stored precision the form can't show ("fp16") would change
        self.status.setText("")

    def _refused_inbox(self, values: dict[str, Any]) -> str:
        """An inbox whose saved notes would never be searchable is not taken (review of #18,
        finding 9): the old one stays in `values`, and the message says why."""
        inbox = values.get("inbox_folder") or ""
        if not inbox or inbox == self._prefs.settings.inbox_folder:
            return ""
        problem = inbox_problem(dataclasses.replace(self._prefs.settings, **values), Path(inbox))
        if problem is None:
            return ""
        values["inbox_folder"] = self._prefs.settings.inbox_folder
        return problem

    def save(self) -> frozenset[str]:
        values = {name: editor.get() for name, editor in self.editors.items()}
        token = self.authtoken_field.text().strip()
        secret_changed = token != self._authtoken.get()
        if secret_changed:
            self._authtoken.set(token)
        refused = self._refused_inbox(values)
        changed = self._prefs.update(values) | ({AUTHTOKEN} if secret_changed else set())
        self.model_warning.setVisible(False)
        if refused:
            self.editors["inbox_folder"].set(values["inbox_folder"])
            self.status.setText(refused)
        elif not changed:
            self.status.setText("Nothing changed.")
        elif changed & INDEX_FIELDS:
            self.status.setText("Saved. Re-indexing with the new settings…")
        else:
            self.status.setText("Saved.")
        self._on_saved(frozenset(changed))
        return frozenset(changed)


def model_in_use(choice: ModelChoice) -> str:
    """The line under Embedding model, e.g. "Auto chose multilingual-e5-small + USE: 12 of 80
    sampled notes are Chinese, Japanese or Korean." """
    if choice.mix is None:
        return f"In use: {choice.label}."
    return f"Auto chose {choice.label}: {choice.why}."
