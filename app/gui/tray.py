"""The tray icon and its menu; the icon shows idle, indexing, sharing or error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from notewell.app.sharing import ServerState
from notewell.plugin_api.tunnel import TunnelStatus

from .bridge import Bridge

TrayState = Literal["idle", "indexing", "sharing", "error"]


def tray_state(index_state: str, server: ServerState, tunnel: TunnelStatus) -> TrayState:
    if index_state == "error" or server.state == "error" or tunnel.state == "error":
        return "error"
    if index_state in ("opening", "scanning", "embedding"):
        return "indexing"
    if tunnel.state == "online":
        return "sharing"
    return "idle"


def status_line(index_state: str, index_message: str, server: ServerState, tunnel: TunnelStatus) -> str:
    if tunnel.state == "error" and tunnel.retrying:
        return "Sharing: retrying…"
    if tunnel.state == "error":
        return "Sharing stopped: see Connect"
    if server.state == "error":
        return "Server stopped: see Connect"
    if index_state == "error":
        return "Indexing failed: see Folders"
    if index_state in ("scanning", "embedding"):
        return "Indexing your notes…"
    if index_state == "paused":
        return "Indexing paused"
    if index_state == "opening":
        return "Starting…"
    if tunnel.state == "online":
        return "Sharing your notes"
    if tunnel.state == "connecting":
        return "Connecting…"
    return "Up to date, not shared"


@dataclass(frozen=True)
class TrayActions:
    open_window: Callable[[], None]
    start_sharing: Callable[[], None]
    stop_sharing: Callable[[], None]
    copy_mcp_url: Callable[[], None]
    copy_api_key: Callable[[], None]
    set_paused: Callable[[bool], None]
    quit: Callable[[], None]


class Tray:
    """The menu always exists (the window's tests drive it); the icon only where a tray does."""

    def __init__(self, bridge: Bridge, actions: TrayActions, icons: Path, available: bool) -> None:
        self._actions = actions
        self._icons = {state: QIcon(str(icons / f"tray-{state}.png"))
                       for state in ("idle", "indexing", "sharing", "error")}
        self._index_state, self._index_message = "opening", ""
        self._server, self._tunnel = ServerState("stopped"), TunnelStatus("off")

        self.menu = QMenu()
        self.open_action = self._add("Open Notewell", actions.open_window)
        self.status_action = self.menu.addAction("Starting…")
        self.status_action.setEnabled(False)
        self.menu.addSeparator()
        self.share_action = self._add("Start sharing", self._toggle_sharing)
        self.copy_mcp_action = self._add("Copy MCP URL", actions.copy_mcp_url)
        self.copy_key_action = self._add("Copy API key", actions.copy_api_key)
        self.pause_action = self.menu.addAction("Pause indexing")
        self.pause_action.setCheckable(True)
        self.pause_action.toggled.connect(actions.set_paused)
        self.menu.addSeparator()
        self.quit_action = self._add("Quit", actions.quit)

        self.notice: QWidget | None = None  # a note shown where notifications can't be
        self.last_message: tuple[str, str] | None = None
        self.icon: QSystemTrayIcon | None = None
        if available:
            self.icon = QSystemTrayIcon(self._icons["idle"])
            self.icon.setContextMenu(self.menu)
            self.icon.setToolTip("Notewell")
            self.icon.activated.connect(self._on_activated)
            self.icon.show()

        bridge.index_state_changed.connect(self._on_index_state)
        bridge.server_state_changed.connect(self._on_server)
        bridge.tunnel_status_changed.connect(self._on_tunnel)
        self._update()

    @property
    def state(self) -> TrayState:
        return tray_state(self._index_state, self._server, self._tunnel)

    def notify(self, title: str, message: str, warning: bool = False) -> bool:
        """A desktop notification, where a tray exists; False if none could be shown."""
        if self.icon is None or not QSystemTrayIcon.supportsMessages():
            return False
        self.last_message = (title, message)
        kind = QSystemTrayIcon.MessageIcon.Warning if warning else QSystemTrayIcon.MessageIcon.Information
        self.icon.showMessage(title, message, kind, 8000)
        return True

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()

    def _add(self, text: str, slot: Callable[[], None]) -> QAction:
        action = self.menu.addAction(text)
        action.triggered.connect(lambda *_: slot())
        return action

    def _toggle_sharing(self) -> None:
        if self._tunnel.active:
            self._actions.stop_sharing()
        else:
            self._actions.start_sharing()

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self._actions.open_window()

    def _on_index_state(self, state: str, message: str) -> None:
        self._index_state, self._index_message = state, message
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(state == "paused")
        self.pause_action.blockSignals(False)
        self._update()

    def _on_server(self, state: ServerState) -> None:
        self._server = state
        self._update()

    def _on_tunnel(self, status: TunnelStatus) -> None:
        self._tunnel = status
        self._update()

    def _update(self) -> None:
        line = status_line(self._index_state, self._index_message, self._server, self._tunnel)
        self.status_action.setText(line)
        sharing = self._tunnel.active
        self.share_action.setText("Stop sharing" if sharing else "Start sharing")
        self.share_action.setEnabled(sharing or self._server.state == "running")
        self.copy_mcp_action.setEnabled(self._server.state == "running")
        if self.icon is not None:
            self.icon.setIcon(self._icons[self.state])
            self.icon.setToolTip(f"Notewell: {line}")
