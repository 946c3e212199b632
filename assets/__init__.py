"""Files shipped with Notewell: the icons, the logo and the sample notes.

Read through `importlib.resources`, so they are found wherever Notewell is installed
(a wheel in site-packages, pipx, or this checkout in editable mode).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_NOTES = "sample_notes"


def asset_path(name: str = "") -> Path:
    """The file (or, with no name, the folder) of a shipped asset on disk."""
    found = resources.files(__name__).joinpath(name) if name else resources.files(__name__)
    path = Path(str(found))
    if not path.exists():  # pragma: no cover - only a zipped install would get here
        raise FileNotFoundError(f"Notewell's installed files lack {name or 'its assets'}; reinstall Notewell.")
    return path


def sample_notes_dir() -> Path:
    """The small notes folder shipped with Notewell, for a first run."""
    return asset_path(SAMPLE_NOTES)


def logo_png() -> bytes:
    return asset_path("logo.png").read_bytes()
