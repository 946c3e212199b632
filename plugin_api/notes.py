"""What the API needs from the index (`indexer.NotesIndex` satisfies it)."""

from __future__ import annotations

from typing import Protocol

from notewell.indexer.types import NoteContent, SearchFilters, SearchMode, SearchResult


class NotesReader(Protocol):
    def search(
        self,
        query: str,
        k: int = 10,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
    ) -> list[SearchResult]: ...

    def get_note(self, note_id: str) -> NoteContent | None: ...
