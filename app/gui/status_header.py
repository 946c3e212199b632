"""The line at the top of the window: is the index up to date, how many notes, is it shared.

Fed only by the bridge's signals (index state, progress, folder counts, tunnel status);
`headline` is pure, so what it says is tested as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy

from notewell.indexer.types import FolderStatus, Progress
from notewell.plugin_api.tunnel import TunnelStatus

from .bridge import Bridge
from .theme import tint

Mood = Literal["ok", "busy", "error"]


@dataclass(frozen=True)
class Headline:
    text: str
    mood: Mood


def headline(index_state: str, message: str, notes: int | None, progress: Progress | None,
             tunnel: TunnelStatus) -> Headline:
    """"Up to date · 1,234 notes · Sharing off", "Indexing 40% · …", "Sharing at https://…"."""
    mood: Mood = "ok"
    if index_state == "opening":
        index_part, mood = "Opening your index…", "busy"
    elif index_state == "embedding":
        mood = "busy"
        if progress is not None and progress.phase == "embedding" and progress.total > 0:
            percent = min(99, int(100 * progress.done / progress.total))
            left = message.split("…", 1)[1].strip() if "…" in message else ""
            index_part = f"Indexing {percent}%" + (f" · {left}" if left else "")
        else:
            index_part = message or "Indexing…"
    elif index_state == "scanning":
        index_part, mood = "Checking your notes for changes…", "busy"
    elif index_state == "paused":
        index_part = "Indexing paused"
    elif index_state == "error":
        index_part, mood = f"Indexing stopped: {message}" if message else "Indexing stopped", "error"
    else:
        index_part = "Up to date"
    if notes == 0 and index_state == "idle":
        index_part = "No notes yet: add a folder"
    parts = [index_part]
    if notes and index_state != "opening":
        parts.append(f"{notes:,} note{'s' if notes != 1 else ''}")
    parts.append(_sharing_part(tunnel))
    if tunnel.state == "error" and not tunnel.retrying and mood == "ok":
        mood = "error"
    return Headline(" · ".join(parts), mood)


def _sharing_part(tunnel: TunnelStatus) -> str:
    if tunnel.state == "online":
        return f"Sharing at {tunnel.public_url}" if tunnel.public_url else "Sharing on"
    if tunnel.state == "connecting":
        return "Sharing: connecting…"
    if tunnel.state == "error":
        return "Sharing: retrying…" if tunnel.retrying else "Sharing stopped (see Connect)"
    return "Sharing off"


class StatusHeader(QFrame):
    """A dot coloured by mood and one line of text; the full line is also its tooltip."""

    def __init__(self, bridge: Bridge) -> None:
        super().__init__()
        self.setObjectName("statusHeader")
        self._index_state, self._message = "opening", ""
        self._notes: int | None = None
        self._progress: Progress | None = None
        self._tunnel = TunnelStatus("off")
        self.dot = QLabel("●")
        self.dot.setObjectName("statusDot")
        self.text = QLabel()
        self.text.setObjectName("statusText")
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        # A long public URL must not widen the window: the line is cut, the tooltip has it all.
        self.text.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.setSpacing(8)
        layout.addWidget(self.dot)
        layout.addWidget(self.text, 1)
        self.mood: Mood = "busy"
        bridge.index_state_changed.connect(self._on_index_state)
        bridge.progress_changed.connect(self._on_progress)
        bridge.folders_changed.connect(self._on_folders)
        bridge.tunnel_status_changed.connect(self._on_tunnel)
        self._show()

    def _on_index_state(self, state: str, message: str) -> None:
        self._index_state, self._message = state, message
        self._show()

    def _on_progress(self, progress: Progress) -> None:
        self._progress = progress
        if self._index_state == "embedding":
            self._show()

    def _on_folders(self, statuses: list[FolderStatus]) -> None:
        self._notes = sum(status.files for status in statuses)
        self._show()

    def _on_tunnel(self, status: TunnelStatus) -> None:
        self._tunnel = status
        self._show()

    def _show(self) -> None:
        line = headline(self._index_state, self._message, self._notes, self._progress, self._tunnel)
        self.mood = line.mood
        self.text.setText(line.text)
        self.setToolTip(line.text)
        colour = f"color: {tint(line.mood, self.palette()).name()}"
        if self.dot.styleSheet() != colour:
            self.dot.setStyleSheet(colour)

    def changeEvent(self, event: Any) -> None:  # the scheme changed: the dot's colour follows
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange and hasattr(self, "text"):
            self._show()
