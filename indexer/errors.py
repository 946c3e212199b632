"""Exceptions raised by the indexer.

    IndexerError
    ├── SkipFile            a file that will not be indexed (reason shown to the user)
    ├── StoreError          the Chroma store or SQLite catalog failed
    │   └── ModelMismatch   the index was built with another embedding model
    ├── EmbeddingError      the embedding model could not be loaded or run
    └── FolderError         a notes folder is missing or unreadable

Each message says what happened and what to do next.
"""

from __future__ import annotations


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


class EmbeddingError(IndexerError):
    pass


class FolderError(IndexerError):
    pass
