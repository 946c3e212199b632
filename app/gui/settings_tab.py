"""Settings: a form built from `SETTINGS_FIELDS`, plus the ngrok authtoken (a secret)."""

from __future__ import annotations

import typing
from dataclasses import Field
from typing import Any, Callable

from PySide6.QtWidgets import (
    QCheckBox,
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

from notewell.app.preferences import INDEX_FIELDS, Preferences
from notewell.app.secrets import UserSecret
from notewell.app.settings import SETTINGS_FIELDS, Settings

ADVANCED = frozenset({"chroma_url", "host", "ngrok_region", "contact_email", "legal_url"})
GROUPS = (
    ("Notes", ("extensions", "ignore_patterns", "max_file_mb", "model", "model_precision")),
    ("Sharing", ("port", "public_url", "ngrok_domain", "ngrok_authtoken", "start_sharing_on_launch")),
    ("App", ("start_at_login",)),
)
AUTHTOKEN = "ngrok_authtoken"
_TYPES = typing.get_type_hints(Settings)


class FieldEditor:
    """One widget per setting, chosen by the field's type."""

    def __init__(self, field: Field[Any]) -> None:
        self.field = field
        kind = _TYPES[field.name]
        self.kind = kind
        if kind is bool:
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
        if isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
            w.setValue(value)
        elif isinstance(w, QLineEdit):
            w.setText(", ".join(value) if isinstance(value, list) else str(value))

    def get(self) -> Any:
        w = self.widget
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
        self, prefs: Preferences, authtoken: UserSecret, on_saved: Callable[[frozenset[str]], None] | None = None
    ) -> None:
        super().__init__()
        self._prefs = prefs
        self._authtoken = authtoken
        self._on_saved = on_saved or (lambda changed: None)
        self.editors = {f.name: FieldEditor(f) for f in SETTINGS_FIELDS}
        self.authtoken_field = QLineEdit()
        self.authtoken_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.authtoken_field.setObjectName(AUTHTOKEN)
        self.authtoken_field.setPlaceholderText("from dashboard.ngrok.com → Your Authtoken")
        self.model_warning = QLabel("Changing the model re-embeds every note: this can take a while.")
        self.model_warning.setStyleSheet("color: #b45309")
        self.model_warning.setVisible(False)
        model, precision = self.editors["model"].widget, self.editors["model_precision"].widget
        assert isinstance(model, QLineEdit) and isinstance(precision, QLineEdit)

        def changed(_text: str = "") -> None:
            self.model_warning.setVisible(
                model.text().strip() != prefs.settings.model
                or precision.text().strip() != prefs.settings.model_precision)

        model.textChanged.connect(changed)
        precision.textChanged.connect(changed)

        content = QWidget()
        layout = QVBoxLayout(content)
        placed: set[str] = set()
        for title, names in GROUPS:
            layout.addWidget(self._group(title, names))
            placed.update(names)
        rest = [f.name for f in SETTINGS_FIELDS if f.name not in placed]
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
                form.addRow("ngrok authtoken", self.authtoken_field)
                continue
            editor = self.editors[name]
            label = "" if editor.kind is bool else editor.field.metadata["label"]
            if editor.kind is bool:
                editor.widget.setText(editor.field.metadata["label"])
            form.addRow(label, editor.widget)
            if name == "model_precision":
                form.addRow("", self.model_warning)
        return box

    def load(self) -> None:
        for name, editor in self.editors.items():
            editor.set(getattr(self._prefs.settings, name))
        self.authtoken_field.setText(self._authtoken.get())
        self.model_warning.setVisible(False)
        self.status.setText("")

    def save(self) -> frozenset[str]:
        values = {name: editor.get() for name, editor in self.editors.items()}
        token = self.authtoken_field.text().strip()
        secret_changed = token != self._authtoken.get()
        if secret_changed:
            self._authtoken.set(token)
        changed = self._prefs.update(values) | ({AUTHTOKEN} if secret_changed else set())
        self.model_warning.setVisible(False)
        if not changed:
            self.status.setText("Nothing changed.")
        elif changed & INDEX_FIELDS:
            self.status.setText("Saved. Re-indexing with the new settings…")
        else:
            self.status.setText("Saved.")
        self._on_saved(frozenset(changed))
        return frozenset(changed)
