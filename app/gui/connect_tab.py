"""Connect: sharing state and Start/Stop, the API key, and one card per assistant (issue 17).

The cards come from `app.connect_help`, the same data `notewell connect` prints.
"""

from __future__ import annotations

import html
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QTextOption
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from notewell.app.connect_help import CLIENTS, PUBLIC_PLACEHOLDER, Addresses, ClientGuide, Paste, guide
from notewell.app.connect_help import NGROK_AUTHTOKEN_PAGE as AUTHTOKEN_PAGE
from notewell.app.connect_help import NGROK_DOMAINS_PAGE as DOMAINS_PAGE
from notewell.app.secrets import TokenStore
from notewell.app.sharing import ServerState
from notewell.plugin_api.tunnel import TunnelStatus

from .bridge import Bridge
from .copy_button import CopyButton
from .theme import set_role

MASK = "••••••••"


def tunnel_text(status: TunnelStatus) -> str:
    if status.state == "online":
        return f"Sharing at {status.public_url}"
    if status.state == "connecting":
        return f"Connecting… {status.message}".strip()
    if status.state == "error" and status.retrying:
        return f"Not connected yet: {status.message}"
    if status.state == "error":
        return f"Sharing stopped: {status.message}"
    return "Not shared: only programs on this computer can reach your notes."


def server_text(state: ServerState) -> str:
    if state.state == "running":
        return f"Running at {state.url}"
    if state.state == "error":
        return f"Not running: {state.message}"
    if state.state == "starting":
        return state.message or "Starting…"
    return "Waiting for the index to open…"


def setup_text() -> str:
    """First-time sharing, in the order the fields come in Settings → Sharing."""
    return (
        "<b>First time sharing?</b> ngrok gives Notewell a public https:// address, free:"
        "<ol style='margin-top:2px'>"
        f"<li>Sign up and copy your authtoken: <a href='{AUTHTOKEN_PAGE}'>ngrok dashboard → Your Authtoken</a>.</li>"
        f"<li>Claim your free static domain, so the address never changes: "
        f"<a href='{DOMAINS_PAGE}'>ngrok dashboard → Domains</a>.</li>"
        "<li>Paste both into Settings → Sharing, save, and choose Start sharing.</li></ol>"
    )


class ClientCard(QWidget):
    """One assistant: what it is, the steps in order, and each thing to paste with a Copy button."""

    def __init__(self, card: ClientGuide) -> None:
        super().__init__()
        self.key = card.key
        self._card = card
        self.title = QLabel()
        self.title.setObjectName("cardTitle")
        set_role(self.title, "title")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.steps = QLabel()
        self.steps.setWordWrap(True)
        self.steps.setTextFormat(Qt.TextFormat.RichText)
        self.steps.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 4, 4, 4)
        for widget in (self.title, self.summary, self.steps):
            layout.addWidget(widget)
        self.fields: list[QLineEdit | QPlainTextEdit] = []
        self.copy_buttons: list[CopyButton] = []
        self.paste_labels: list[QLabel] = []
        grid = QGridLayout()
        grid.setColumnStretch(0, 1)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for n, paste in enumerate(card.pastes):
            label = QLabel()
            label.setStyleSheet("font-weight: 600")
            field: QLineEdit | QPlainTextEdit
            if paste.kind in ("json", "command"):
                text = QPlainTextEdit()
                text.setReadOnly(True)
                text.setFont(mono)
                if paste.kind == "json":
                    text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
                else:  # a long command reads best wrapped, whole
                    text.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
                field = text
            else:
                line = QLineEdit()
                line.setReadOnly(True)
                line.setFont(mono)
                line.setCursorPosition(0)
                field = line
            button = CopyButton("Copy", lambda n=n: self._card.pastes[n].text)
            grid.addWidget(label, 2 * n, 0, 1, 2)
            grid.addWidget(field, 2 * n + 1, 0)
            grid.addWidget(button, 2 * n + 1, 1, Qt.AlignmentFlag.AlignTop)
            self.paste_labels.append(label)
            self.fields.append(field)
            self.copy_buttons.append(button)
        layout.addLayout(grid)
        layout.addStretch()
        self.show_card(card)

    def show_card(self, card: ClientGuide, token: str = "") -> None:
        self._card = card
        self.title.setText(card.name)
        self.summary.setText(card.summary)
        items = "".join(f"<li style='margin-bottom:4px'>{html.escape(step)}</li>" for step in card.steps)
        self.steps.setText(f"<ol style='margin-left:-20px'>{items}</ol>")
        for paste, label, field, button in zip(card.pastes, self.paste_labels, self.fields, self.copy_buttons):
            label.setText(paste.label)
            waiting = PUBLIC_PLACEHOLDER in paste.text  # nothing worth pasting until sharing starts
            button.setEnabled(not waiting)
            button.setToolTip("Start sharing first: ChatGPT needs the public address." if waiting else "")
            shown = _masked(paste, token)
            if isinstance(field, QPlainTextEdit):
                if field.toPlainText() != shown:
                    field.setPlainText(shown)
                lines = shown.count("\n") + 1 if paste.kind == "json" else 3
                field.setFixedHeight(field.fontMetrics().lineSpacing() * lines + 14)
            else:
                field.setText(shown)
                field.setCursorPosition(0)
            field.setToolTip("The API key is hidden here; Copy puts the real one on the clipboard."
                             if token and token in paste.text else "")


def _masked(paste: Paste, token: str) -> str:
    """The key stays off the screen (screenshots, screen sharing); Copy copies the real text."""
    if not token:
        return paste.text
    return paste.text.replace(token, MASK if paste.kind == "secret" else f"{token[:6]}{MASK}")


class ConnectTab(QWidget):
    def __init__(
        self,
        bridge: Bridge,
        tokens: TokenStore,
        addresses: Callable[[], Addresses],
        start_sharing: Callable[[], None],
        stop_sharing: Callable[[], None],
        confirm: Callable[[QWidget, str], bool] | None = None,
        clients_box: QWidget | None = None,
        sharing_set_up: Callable[[], bool] = lambda: True,
        open_settings: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__()
        self._tokens = tokens
        self._addresses = addresses
        self._start = start_sharing
        self._stop = stop_sharing
        self._confirm = confirm or _ask
        self._set_up = sharing_set_up
        self._tunnel = TunnelStatus("off")
        self._server = ServerState("stopped")

        self.server_label = QLabel(server_text(self._server))
        self.tunnel_label = QLabel(tunnel_text(self._tunnel))
        for label in (self.server_label, self.tunnel_label):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.share_button = QPushButton("Start sharing")
        self.share_button.clicked.connect(self._on_share)
        self.setup_label = QLabel(setup_text())
        self.setup_label.setWordWrap(True)
        self.setup_label.setOpenExternalLinks(True)
        self.setup_label.setTextFormat(Qt.TextFormat.RichText)
        self.settings_button = QPushButton("Open Settings → Sharing")
        self.settings_button.clicked.connect(open_settings)
        self.setup_box = QFrame()
        self.setup_box.setObjectName("setupBox")
        self.setup_box.setStyleSheet("#setupBox { border: 1px solid palette(mid); border-radius: 6px; }")
        setup_layout = QVBoxLayout(self.setup_box)
        setup_layout.addWidget(self.setup_label)
        setup_row = QHBoxLayout()
        setup_row.addStretch()
        setup_row.addWidget(self.settings_button)
        setup_layout.addLayout(setup_row)

        state_box = QGroupBox("Sharing")
        state_grid = QGridLayout(state_box)
        state_grid.addWidget(QLabel("Local server:"), 0, 0, Qt.AlignmentFlag.AlignTop)
        state_grid.addWidget(self.server_label, 0, 1)
        state_grid.addWidget(QLabel("Public URL:"), 1, 0, Qt.AlignmentFlag.AlignTop)
        state_grid.addWidget(self.tunnel_label, 1, 1)
        state_grid.addWidget(self.share_button, 0, 2, 2, 1, Qt.AlignmentFlag.AlignVCenter)
        state_grid.addWidget(self.setup_box, 2, 0, 1, 3)
        state_grid.setColumnStretch(1, 1)

        self.key_field = QLineEdit()
        self.key_field.setReadOnly(True)
        self.key_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_key = QPushButton("Show")
        self.show_key.setCheckable(True)
        self.show_key.toggled.connect(self._on_show_key)
        self.copy_key = CopyButton("Copy API key", self._tokens.get)
        self.rotate_key = QPushButton("Rotate…")
        self.rotate_key.clicked.connect(self._on_rotate)
        key_row = QHBoxLayout()
        for widget in (self.key_field, self.show_key, self.copy_key, self.rotate_key):
            key_row.addWidget(widget)
        key_box = QGroupBox("API key (keep it secret: it lets an assistant read your notes)")
        key_box.setLayout(key_row)

        self.picker = QListWidget()
        self.pages = QStackedWidget()
        self.cards: dict[str, ClientCard] = {}
        addresses_now, token = self._addresses(), self._tokens.get()
        for key in CLIENTS:
            card = ClientCard(guide(key, addresses_now, token))
            self.cards[key] = card
            self.picker.addItem(card.title.text())
            self.pages.addWidget(card)
        self.picker.setFixedWidth(max(170, self.picker.sizeHintForColumn(0) + 24))
        self.picker.setSpacing(2)
        self.picker.setFixedHeight(self.picker.sizeHintForRow(0) * self.picker.count()
                                   + 4 * self.picker.count() + 2 * self.picker.frameWidth() + 4)
        self.picker.currentRowChanged.connect(self.pages.setCurrentIndex)
        self.picker.setCurrentRow(0)
        clients_layout = QHBoxLayout()
        clients_layout.addWidget(self.picker, 0, Qt.AlignmentFlag.AlignTop)
        clients_layout.addWidget(self.pages, 1)
        assistants_box = QGroupBox("Connect an assistant")
        assistants_box.setLayout(clients_layout)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setSpacing(10)
        for box in (state_box, assistants_box, key_box, clients_box):
            if box is not None:
                layout.addWidget(box)
        layout.addStretch()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        bridge.server_state_changed.connect(self._on_server)
        bridge.tunnel_status_changed.connect(self._on_tunnel)
        self.refresh()

    def show_client(self, key: str) -> None:
        self.picker.setCurrentRow(list(CLIENTS).index(key))

    # -- updates -------------------------------------------------------------
    def refresh(self) -> None:
        addresses, token = self._addresses(), self._tokens.get()
        for key, card in self.cards.items():
            card.show_card(guide(key, addresses, token), token)
        if self.show_key.isChecked():
            self.key_field.setText(token)
        else:
            self.key_field.setText("•" * 24)
        active = self._tunnel.active
        self.share_button.setText("Stop sharing" if active else "Start sharing")
        self.share_button.setEnabled(self._server.state == "running" or active)
        self.setup_box.setVisible(not self._set_up() and self._tunnel.state != "online")

    def _on_server(self, state: ServerState) -> None:
        self._server = state
        self.server_label.setText(server_text(state))
        self.refresh()

    def _on_tunnel(self, status: TunnelStatus) -> None:
        self._tunnel = status
        self.tunnel_label.setText(tunnel_text(status))
        self.refresh()

    # -- actions -------------------------------------------------------------
    def _on_share(self) -> None:
        if self._tunnel.active:
            self._stop()
        else:
            self._start()

    def _on_show_key(self, shown: bool) -> None:
        self.key_field.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.show_key.setText("Hide" if shown else "Show")
        self.refresh()

    def _on_rotate(self) -> None:
        if not self._confirm(self, "Replace the API key? Every assistant using the current key is "
                                   "refused until you paste the new one into it."):
            return
        try:
            self._tokens.rotate()
        except Exception as exc:  # TokenError: say why (e.g. NOTEWELL_TOKEN is set)
            QMessageBox.warning(self, "Notewell", str(exc))
        self.refresh()


def _ask(parent: QWidget, question: str) -> bool:
    answer = QMessageBox.question(parent, "Notewell", question)
    return answer == QMessageBox.StandardButton.Yes
