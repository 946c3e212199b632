"""Connect: the server and tunnel state, Start/Stop sharing, and what to paste into each assistant."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from notewell.app.connect_help import INSTRUCTIONS, claude_desktop_snippet, mcp_snippet
from notewell.app.secrets import TokenStore
from notewell.app.sharing import Links, ServerState
from notewell.plugin_api.tunnel import TunnelStatus

from .bridge import Bridge

def tunnel_text(status: TunnelStatus) -> str:
    if status.state == "online":
        return f"Sharing at {status.public_url}"
    if status.state == "connecting":
        return f"Connecting… {status.message}".strip()
    if status.state == "error":
        return f"Sharing failed: {status.message}"
    return "Not shared: only programs on this computer can reach your notes."


def server_text(state: ServerState) -> str:
    if state.state == "running":
        return f"Running at {state.url}"
    if state.state == "error":
        return f"Not running: {state.message}"
    if state.state == "starting":
        return state.message or "Starting…"
    return "Waiting for the index to open…"


class ConnectTab(QWidget):
    def __init__(
        self,
        bridge: Bridge,
        tokens: TokenStore,
        links: Callable[[], Links | None],
        start_sharing: Callable[[], None],
        stop_sharing: Callable[[], None],
        confirm: Callable[[QWidget, str], bool] | None = None,
        clients_box: QWidget | None = None,
    ) -> None:
        super().__init__()
        self._tokens = tokens
        self._links = links
        self._start = start_sharing
        self._stop = stop_sharing
        self._confirm = confirm or _ask
        self._tunnel = TunnelStatus("off")
        self._server = ServerState("stopped")

        self.server_label = QLabel(server_text(self._server))
        self.tunnel_label = QLabel(tunnel_text(self._tunnel))
        for label in (self.server_label, self.tunnel_label):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.share_button = QPushButton("Start sharing")
        self.share_button.clicked.connect(self._on_share)
        state_box = QGroupBox("Status")
        state_form = QFormLayout(state_box)
        state_form.addRow("Local server:", self.server_label)
        state_form.addRow("Public URL:", self.tunnel_label)
        state_form.addRow("", self.share_button)

        self.key_field = QLineEdit()
        self.key_field.setReadOnly(True)
        self.key_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_key = QPushButton("Show")
        self.show_key.setCheckable(True)
        self.show_key.toggled.connect(self._on_show_key)
        self.copy_key = QPushButton("Copy API key")
        self.copy_key.clicked.connect(lambda: self._copy(self._tokens.get()))
        self.rotate_key = QPushButton("Rotate…")
        self.rotate_key.clicked.connect(self._on_rotate)
        key_row = QHBoxLayout()
        for widget in (self.key_field, self.show_key, self.copy_key, self.rotate_key):
            key_row.addWidget(widget)
        key_box = QGroupBox("API key (keep it secret: it lets an assistant read your notes)")
        key_box.setLayout(key_row)

        self.manifest_url = self._url_field()
        self.copy_manifest = QPushButton("Copy manifest URL")
        self.copy_manifest.clicked.connect(lambda: self._copy_link("manifest"))
        plugin_box = self._client_box("Legacy ChatGPT plugin", INSTRUCTIONS["plugin"],
                                      [(self.manifest_url, self.copy_manifest)])

        self.schema_url = self._url_field()
        self.copy_schema = QPushButton("Copy schema URL")
        self.copy_schema.clicked.connect(lambda: self._copy_link("openapi_json"))
        self.copy_action_key = QPushButton("Copy API key")
        self.copy_action_key.clicked.connect(lambda: self._copy(self._tokens.get()))
        action_box = self._client_box("Custom GPT (Action)", INSTRUCTIONS["action"],
                                      [(self.schema_url, self.copy_schema), (None, self.copy_action_key)])

        self.mcp_url = self._url_field()
        self.copy_mcp = QPushButton("Copy MCP URL")
        self.copy_mcp.clicked.connect(lambda: self._copy_link("mcp"))
        self.copy_mcp_json = QPushButton("Copy JSON snippet")
        self.copy_mcp_json.clicked.connect(lambda: self._copy_mcp_json(mcp_snippet))
        self.copy_claude_json = QPushButton("Copy Claude Desktop snippet")
        self.copy_claude_json.clicked.connect(lambda: self._copy_mcp_json(claude_desktop_snippet))
        mcp_box = self._client_box("MCP clients (Claude, Cursor, VS Code)", INSTRUCTIONS["mcp"],
                                   [(self.mcp_url, self.copy_mcp), (None, self.copy_mcp_json),
                                    (None, self.copy_claude_json)])
        chatgpt_box = self._client_box("ChatGPT connector", INSTRUCTIONS["chatgpt"], [])

        content = QWidget()
        layout = QVBoxLayout(content)
        for box in (state_box, key_box, mcp_box, chatgpt_box, clients_box, action_box, plugin_box):
            if box is not None:
                layout.addWidget(box)
        layout.addStretch()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        bridge.server_state_changed.connect(self._on_server)
        bridge.tunnel_status_changed.connect(self._on_tunnel)
        self.refresh()

    def _url_field(self) -> QLineEdit:
        field = QLineEdit()
        field.setReadOnly(True)
        return field

    def _client_box(self, title: str, text: str, rows: list[tuple[QLineEdit | None, QPushButton]]) -> QGroupBox:
        box = QGroupBox(title)
        layout = QVBoxLayout(box)
        help_text = QLabel(text)
        help_text.setWordWrap(True)
        layout.addWidget(help_text)
        for field, button in rows:
            row = QHBoxLayout()
            if field is not None:
                row.addWidget(field)
            else:
                row.addStretch()
            row.addWidget(button)
            layout.addLayout(row)
        return box

    # -- updates -------------------------------------------------------------
    def refresh(self) -> None:
        links = self._links()
        self.manifest_url.setText(links.manifest if links else "")
        self.schema_url.setText(links.openapi_json if links else "")
        has_mcp = bool(links and links.mcp)
        self.mcp_url.setText(links.mcp if links and links.mcp else "")
        for button in (self.copy_manifest, self.copy_schema):
            button.setEnabled(links is not None)
        for button in (self.copy_mcp, self.copy_mcp_json, self.copy_claude_json):
            button.setEnabled(has_mcp)
        if self.show_key.isChecked():
            self.key_field.setText(self._tokens.get())
        else:
            self.key_field.setText("•" * 24)
        sharing = self._tunnel.state in ("online", "connecting")
        self.share_button.setText("Stop sharing" if sharing else "Start sharing")
        self.share_button.setEnabled(self._server.state == "running" or sharing)
        local = "" if self._tunnel.state == "online" else (
            "A local address: start sharing for the public HTTPS URL ChatGPT can reach.")
        for field in (self.manifest_url, self.schema_url, self.mcp_url):
            field.setToolTip(local)

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
        if self._tunnel.state in ("online", "connecting"):
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

    def _copy_link(self, which: str) -> None:
        links = self._links()
        value = getattr(links, which) if links else None
        if value:
            self._copy(value)

    def _copy_mcp_json(self, snippet: Callable[[str, str], str]) -> None:
        links = self._links()
        if links and links.mcp:
            self._copy(snippet(links.mcp, self._tokens.get()))

    def _copy(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)


def _ask(parent: QWidget, question: str) -> bool:
    answer = QMessageBox.question(parent, "Notewell", question)
    return answer == QMessageBox.StandardButton.Yes
