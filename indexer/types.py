"""Values that flow through the indexer: files → documents → chunks → results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

SearchMode = Literal["hybrid", "dense", "keyword"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "keyword")


@dataclass(frozen=True)
class NoteFile:
    """A candidate note found while walking a folder (nothing read yet)."""

    folder: Path  # absolute, resolved root folder
    path: Path  # absolute path of the file
    rel: str  # POSIX path relative to `folder`
    size: int
    mtime_ns: int
    # The file the walk saw (0: unknown); reading checks it is still that file (issue 15).
    device: int = field(default=0, compare=False)
    inode: int = field(default=0, compare=False)


@dataclass(frozen=True)
class SkippedFile:
    """A file the walk saw but will not index, and why (shown to the user)."""

    folder: Path
    rel: str
    reason: str


@dataclass(frozen=True)
class NoteDocument:
    """The readable content of one note, ready for chunking.

    `text` is the body (frontmatter removed); `first_line` is the 1-based line of
    the file where `text` starts, so chunk line spans point into the real file.
    """

    title: str
    text: str
    kind: Literal["markdown", "text", "html", "pdf"]
    first_line: int = 1
    tags: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    created: str | None = None  # ISO 8601 from frontmatter, if any
    private: bool = False


@dataclass(frozen=True)
class ChunkDraft:
    """One piece of a note as produced by chunking (before ids and vectors)."""

    text: str
    heading: str  # heading path, e.g. "Setup > Windows"; "" at top level
    start_line: int
    end_line: int


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on a search; every field is optional and they combine with AND."""

    folder: str | None = None  # absolute folder path
    path_prefix: str | None = None  # relative to its folder, POSIX
    note_id: str | None = None
    start_date: str | None = None  # ISO 8601 (date or datetime), modified time >=
    end_date: str | None = None  # modified time <=
    tags: tuple[str, ...] = ()  # note must carry all of them

    def is_empty(self) -> bool:
        return self == SearchFilters()


@dataclass(frozen=True)
class SearchResult:
    """One chunk returned by search; `to_dict` is the shape in DESIGN.md."""

    id: str
    note_id: str
    path: str
    folder: str
    title: str
    heading: str
    text: str
    score: float
    modified_at: str
    lines: tuple[int, int]
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "note_id": self.note_id,
            "path": self.path,
            "folder": self.folder,
            "title": self.title,
            "heading": self.heading,
            "text": self.text,
            "score": round(self.score, 6),
            "modified_at": self.modified_at,
            "lines": [self.lines[0], self.lines[1]],
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class NoteContent:
    """A whole note as stored in the catalog, for `GET /notes/{id}` and `fetch`."""

    note_id: str
    path: str
    folder: str
    title: str
    text: str
    modified_at: str
    tags: tuple[str, ...] = ()


@dataclass
class FolderStatus:
    """What a user sees per folder: counts and problems."""

    folder: str
    files: int = 0
    chunks: int = 0
    pending_chunks: int = 0
    skipped: int = 0
    failed: int = 0
    problems: list[SkippedFile] = field(default_factory=list)


@dataclass
class SyncSummary:
    """The one line `notewell index` ends with."""

    indexed: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    failed: int = 0
    chunks: int = 0  # chunks embedded in this run
    reused: int = 0  # chunk vectors reused without running the model
    seconds: float = 0.0

    def add(self, other: "SyncSummary") -> None:
        for name in ("indexed", "unchanged", "removed", "skipped", "failed", "chunks", "reused", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def line(self) -> str:
        return (
            f"{self.indexed} indexed, {self.unchanged} unchanged, {self.removed} removed, "
            f"{self.skipped} skipped, {self.failed} failed; {self.chunks} passages embedded"
            f" ({self.reused} reused) in {self.seconds:.1f}s"
        )


@dataclass(frozen=True)
class Progress:
    """A progress report from the pipeline (the GUI re-emits it as a Qt signal)."""

    phase: Literal["scanning", "reading", "embedding", "removing", "tidying", "done"]
    folder: str | None
    done: int
    total: int
    message: str = ""
