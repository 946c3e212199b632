"""Where Notewell keeps its data (computed when asked, never at import time)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """`--data-dir`, else `NOTEWELL_DATA_DIR`, else the platform's user data dir."""
    if override:
        return Path(override).expanduser().resolve()
    env = os.environ.get("NOTEWELL_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_data_dir("notewell", appauthor=False))


def sample_notes_dir() -> Path:
    """The small notes folder shipped with Notewell, for a first run."""
    from notewell.assets import sample_notes_dir as shipped

    return shipped()
