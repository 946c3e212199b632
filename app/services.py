"""The composition root: settings + data dir → the indexer objects the app uses.

Only this module (and the command entry points) turn settings into objects; the
indexer and the API receive what they need through constructors.
"""

from __future__ import annotations

import os
from pathlib import Path

from indexer.embedding import Embedder, SentenceTransformerEmbedder
from indexer.notes_index import NotesIndex
from indexer.sources import SourceOptions

from .settings import Settings


def source_options(settings: Settings) -> SourceOptions:
    return SourceOptions(
        extensions=frozenset(e.lower() if e.startswith(".") else f".{e.lower()}" for e in settings.extensions),
        max_bytes=int(settings.max_file_mb * 1024 * 1024),
        ignore_patterns=tuple(settings.ignore_patterns),
    )


def make_embedder(settings: Settings) -> Embedder:
    return SentenceTransformerEmbedder(settings.model)


def open_index(
    settings: Settings,
    data_dir: Path,
    *,
    chroma_url: str | None = None,
    embedder: Embedder | None = None,
) -> NotesIndex:
    """Open the index in `data_dir`; `--chroma-url` beats the setting."""
    url = chroma_url or settings.chroma_url or os.environ.get("NOTEWELL_CHROMA_URL") or None
    return NotesIndex.open(
        data_dir,
        embedder or make_embedder(settings),
        chroma_url=url,
        source_options=source_options(settings),
    )
