"""Exceptions raised by the indexer.

    IndexerError
    ├── SkipFile            a file that will not be indexed (reason shown to the user)
    ├── StoreError          the Chroma store or SQLite catalog failed
    │   ├── ModelMismatch   the index was built with another embedding model
    │   ├── ReadOnlyData    the data folder can be read, not written
    │   └── DiskFull        the disk holding the data folder is full
    ├── EmbeddingError      the embedding model could not be loaded or run
    └── FolderError         a notes folder is missing or unreadable

Each message says what happened and what to do next.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path


class IndexerError(Exception):
    """Base class for every error the indexer reports to its callers."""


class SkipFile(IndexerError):
    """This file is not indexed; `reason` is a short phrase for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StoreError(IndexerError):
    pass


class ModelMismatch(StoreError):
    pass


class ReadOnlyData(StoreError):
    def __init__(self, data_dir: Path) -> None:
        super().__init__(
            f"Notewell's data folder ({data_dir}) is read-only: your notes can be searched but the "
            "index can't be updated. Make the folder writable, or choose another with --data-dir."
        )
        self.data_dir = data_dir


class DiskFull(StoreError):
    def __init__(self, data_dir: Path, needed: int | None = None) -> None:
        room = ""
        if needed is not None:
            free = _free(data_dir)
            room = f" It needs about {_mb(needed)} free to go on" + (f" ({_mb(free)} are)." if free is not None else ".")
        full = "is full" if needed is None else "is nearly full"
        super().__init__(
            f"The disk holding Notewell's data folder ({data_dir}) {full}.{room} Free some space there "
            "(or move the data folder with --data-dir or NOTEWELL_DATA_DIR); Notewell then carries "
            "on from where it stopped, and searches work meanwhile."
        )
        self.data_dir = data_dir


def _free(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def _mb(size: int) -> str:
    return f"{max(1, round(size / 1024 / 1024))} MB"


# What SQLite, the OS and Chroma (whose errors carry only text) say when the disk is full.
_FULL_TEXT = ("database or disk is full", "no space left on device", "disk quota exceeded")


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, sqlite3.Error) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return True
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return any(phrase in text for phrase in _FULL_TEXT)


def nearly_full(path: Path, margin: int = 64 * 1024 * 1024) -> bool:
    """Whether the disk holding `path` has (almost) no room left: Chroma reports a write that
    failed for want of space only as "Failed to apply logs to the metadata segment"."""
    try:
        return shutil.disk_usage(path).free < margin
    except OSError:
        return False


class EmbeddingError(IndexerError):
    pass


class FolderError(IndexerError):
    pass
