"""Where Notewell keeps its data (computed when asked, never at import time), kept private."""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PRIVATE_UMASK = 0o077


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


@contextmanager
def private_files(root: Path) -> Iterator[None]:
    """While the block runs, every file this process creates is private (umask 077), and the
    data folder is made 0700 with everything in it 0600 (DESIGN.md; issue 15).

    The catalog holds the full text of every note; SQLite, Chroma and the model export
    create files with the process's umask, so the umask is set at the entry point, around
    the whole command (the GUI's event loop included), and given back after it.
    """
    previous = os.umask(PRIVATE_UMASK)
    try:
        make_private(root)
        yield
    finally:
        os.umask(previous)


def make_private(root: Path) -> None:
    """`root` 0700 and what an older version left readable in it tightened (folders and
    programs 0700, files 0600). Links are left alone."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(root, os.lstat(root))
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            try:
                _tighten(path, os.lstat(path))
            except OSError:
                continue  # gone meanwhile, or not ours to change


def _tighten(path: Path, st: os.stat_result) -> None:
    if stat.S_ISLNK(st.st_mode) or not stat.S_IMODE(st.st_mode) & 0o077:
        return
    wanted = 0o700 if stat.S_ISDIR(st.st_mode) or st.st_mode & stat.S_IXUSR else 0o600
    os.chmod(path, wanted)
