"""Small helpers shared by tests."""

from __future__ import annotations

from pathlib import Path


def write_notes(folder: Path, notes: dict[str, str]) -> Path:
    """Create `notes` (relative path → text) under `folder`."""
    for rel, text in notes.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder
