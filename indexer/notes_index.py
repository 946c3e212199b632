"""`NotesIndex`: the indexer's front door (one writer, many readers).

    index = NotesIndex.open(data_dir, embedder)           # or chroma_url=...
    summary = index.sync([Path("~/notes")], progress=print)
    results = index.search("tar extract", k=5, mode="hybrid")
    note = index.get_note(results[0].note_id)
    index.close()
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from .embedding import Embedder
from .types import (
    FolderStatus,
    NoteContent,
    Progress,
    SearchFilters,
    SearchMode,
    SearchResult,
    SyncSummary,
)

ProgressCallback = Callable[[Progress], None]


class NotesIndex:
    @classmethod
    def open(
        cls,
        data_dir: Path,
        embedder: Embedder,
        *,
        chroma_url: str | None = None,
        source_options: object | None = None,
    ) -> "NotesIndex":
        raise NotImplementedError

    def sync(
        self, folders: Sequence[Path], progress: ProgressCallback | None = None
    ) -> SyncSummary:
        """Bring the index up to date with `folders` (others are removed)."""
        raise NotImplementedError

    def search(
        self,
        query: str,
        k: int = 10,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
    ) -> list[SearchResult]:
        raise NotImplementedError

    def get_note(self, note_id: str) -> NoteContent | None:
        raise NotImplementedError

    def folder_status(self) -> list[FolderStatus]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
