"""The settings as the desktop app edits them: change, save, tell who cares (no Qt).

    prefs = Preferences(Settings.load(root), root)
    prefs.subscribe(lambda changed: ...)      # names of the fields that changed
    prefs.add_folder(Path("~/notes"))
    prefs.update({"port": 4444})
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, Callable

from .settings import Settings

Listener = Callable[[frozenset[str]], None]

# Fields whose change means the index must be reopened (and perhaps re-embedded).
INDEX_FIELDS = frozenset({"model", "model_precision", "chroma_url", "extensions", "ignore_patterns", "max_file_mb"})
SERVER_FIELDS = frozenset({"host", "port", "contact_email", "legal_url", "inbox_folder"})
TUNNEL_FIELDS = frozenset({"public_url", "ngrok_domain", "ngrok_region", "ngrok_path", "ngrok_allow_ips", "ngrok_rate_limit"})


class Preferences:
    def __init__(self, settings: Settings, data_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def folders(self) -> list[Path]:
        return [Path(f) for f in self.settings.folders]

    def add_folder(self, folder: Path) -> bool:
        if not self.settings.add_folders([folder]):
            return False
        self._saved({"folders"})
        return True

    def remove_folder(self, folder: str) -> bool:
        if folder not in self.settings.folders:
            return False
        self.settings.folders.remove(folder)
        self._saved({"folders"})
        return True

    def update(self, values: dict[str, Any]) -> frozenset[str]:
        """Apply `values` (field name → value), save, and return the names that changed."""
        known = {f.name for f in fields(Settings)}
        changed = set()
        for name, value in values.items():
            if name not in known:
                raise KeyError(name)
            if getattr(self.settings, name) != value:
                setattr(self.settings, name, value)
                changed.add(name)
        if changed:
            self._saved(changed)
        return frozenset(changed)

    def _saved(self, changed: set[str]) -> None:
        self.settings.save(self.data_dir)
        for listener in list(self._listeners):
            listener(frozenset(changed))
