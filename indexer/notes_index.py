"""`NotesIndex`: the indexer's front door (one writer, many readers).

    index = NotesIndex.open(data_dir, embedder)           # or chroma_url=...
    summary = index.sync([Path("~/notes")], progress=print)
    results = index.search("tar extract", k=5, mode="hybrid")
    note = index.get_note(results[0].note_id)
    index.close()

Writes (`sync`, `sync_files`, `remove_folders`) are serialised by one lock; searches
run alongside. The app drives them all from one thread (`indexer.worker`); each write
takes a `cancel` event of its own, so a cancel meant for one job never lands on another.
A folder's notes leave the index only through `remove_folders`.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .catalog import Catalog
from .embedding import Embedder
from .pipeline import Pipeline
from .search import Searcher, SearchTuning, iso_time
from .sources import SourceOptions
from .types import (
    FolderStatus,
    NoteContent,
    Progress,
    SearchFilters,
    SearchMode,
    SearchResult,
    SkippedFile,
    SyncSummary,
)
from .vectors import VectorStore

log = logging.getLogger(__name__)

ProgressCallback = Callable[[Progress], None]

CATALOG_FILE = "catalog.sqlite3"
CHROMA_DIR = "chroma"


def recorded_model(data_dir: Path) -> str | None:
    """The model the index in `data_dir` was embedded with (None: no index yet), read
    without opening the index (a read-only look at its catalog)."""
    import sqlite3

    path = (Path(data_dir) / CATALOG_FILE).resolve()
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


class NotesIndex:
    def __init__(self, catalog: Catalog, vectors: VectorStore, embedder: Embedder, options: SourceOptions,
                 tuning: SearchTuning = SearchTuning()) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self.embedder = embedder
        self._write_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._current: threading.Event | None = None  # the running write's cancel event
        self._closed = False
        self.pipeline = Pipeline(catalog, vectors, embedder, options)
        self.searcher = Searcher(catalog, vectors, embedder, tuning)

    @classmethod
    def open(
        cls,
        data_dir: Path,
        embedder: Embedder,
        *,
        chroma_url: str | None = None,
        chroma_server_files: Path | None = None,
        source_options: SourceOptions | None = None,
        tuning: SearchTuning = SearchTuning(),
    ) -> "NotesIndex":
        """`chroma_server_files`: where the Chroma server at `chroma_url` keeps its files,
        when the app runs that server itself."""
        data_dir = Path(data_dir)
        catalog = Catalog(data_dir / CATALOG_FILE)
        vectors = VectorStore(path=None if chroma_url else data_dir / CHROMA_DIR, url=chroma_url,
                              server_files=chroma_server_files)
        return cls(catalog, vectors, embedder, source_options or SourceOptions(), tuning)

    def sync(
        self, folders: Sequence[Path], progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> SyncSummary:
        """Bring `folders` up to date; other folders in the index are left as they are.

        Setting `cancel` stops it at the next file or model batch; the next sync resumes.
        """
        with self.writing(cancel) as pipeline:
            return pipeline.sync(folders, progress)

    def sync_only(
        self, folders: Sequence[Path], progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> SyncSummary:
        """Make the index hold exactly `folders`: the notes of any other folder are removed
        first, then these are brought up to date (`notewell index`, `eval`)."""
        wanted = {str(Path(f).expanduser().resolve()) for f in folders}
        others = [Path(f) for f in self.catalog.folders() if f not in wanted]
        removed = self.remove_folders(others, cancel) if others else SyncSummary()
        summary = self.sync(folders, progress, cancel)
        summary.removed += removed.removed
        return summary

    def remove_folders(self, folders: Sequence[Path], cancel: threading.Event | None = None) -> SyncSummary:
        """Take these folders' notes (and their vectors) out of the index."""
        with self.writing(cancel) as pipeline:
            summary = SyncSummary()
            pipeline.remove_folders([str(Path(f).expanduser().resolve()) for f in folders], summary)
            return summary

    def sync_files(
        self, folder: Path, paths: Sequence[Path], progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> SyncSummary:
        """Re-index just these paths of a folder (a watcher's batch; a folder means all under
        it), then embed whatever waits, the newest notes first."""
        with self.writing(cancel) as pipeline:
            started = time.perf_counter()
            summary = SyncSummary()
            pipeline.sync_files(str(Path(folder).resolve()), paths, summary)
            pipeline.embed_pending(summary, progress or (lambda p: None))
            pipeline.apply_vector_deletes()
            summary.seconds = time.perf_counter() - started
            return summary

    def embed_pending(self, progress: ProgressCallback | None = None,
                      cancel: threading.Event | None = None) -> SyncSummary:
        """Embed the passages still waiting for a vector, the newest notes first."""
        with self.writing(cancel) as pipeline:
            started = time.perf_counter()
            summary = SyncSummary()
            pipeline.embed_pending(summary, progress or (lambda p: None))
            pipeline.apply_vector_deletes()
            summary.seconds = time.perf_counter() - started
            return summary

    @contextmanager
    def writing(self, cancel: threading.Event | None = None) -> Iterator[Pipeline]:
        """Hold the write lock (and `cancel` as the running write's event) while writing;
        `indexer.doctor` repairs the stores through it."""
        token = cancel if cancel is not None else threading.Event()
        with self._write_lock:
            with self._state_lock:
                if self._closed:
                    token.set()
                self._current = token
            self.pipeline.should_stop = token.is_set
            try:
                yield self.pipeline
            finally:
                with self._state_lock:
                    self._current = None

    def stop(self) -> None:
        """Stop the running write at its next file or batch (it resumes next time)."""
        with self._state_lock:
            if self._current is not None:
                self._current.set()
        self._cancel_export()

    def search(
        self,
        query: str,
        k: int = 10,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
    ) -> list[SearchResult]:
        return self.searcher.search(query, k, mode, filters)

    def prepare_search(self, wait: bool = False) -> None:
        """Get the query encoder and the vector store ready (in the background unless
        `wait`), so the first search, and the first saved note, are as quick as the rest."""
        prepare = getattr(self.embedder, "prepare_onnx", None)
        if prepare is not None:
            prepare(wait=wait)
        if wait:
            self.vectors.open()
        else:
            threading.Thread(target=self._open_vectors, name="notewell-open-vectors", daemon=True).start()

    def _open_vectors(self) -> None:
        try:
            self.vectors.open()
        except Exception as exc:  # the first real use reports it to the user
            log.warning("could not open the vector store ahead of use: %s", exc)

    def searches_by_meaning(self) -> bool:
        """Whether a hybrid search uses the model now, rather than keywords alone (no vectors
        yet, or the model's one-time preparation still to come, which this then starts)."""
        return self.searcher.dense_ready()

    def model_preparing(self) -> bool:
        """True while the embedding model is being prepared for its first use (about 15 s, once)."""
        return bool(getattr(self.embedder, "preparing", False))

    def get_note(self, note_id: str) -> NoteContent | None:
        found = self.catalog.note(note_id)
        if found is None:
            return None
        folder, rel, title, text, modified, tags = found
        return NoteContent(note_id, rel, folder, title, text, iso_time(modified), tags)

    def folder_status(self) -> list[FolderStatus]:
        folders = self.catalog.folders()
        out = []
        for folder, files, chunks, pending, skipped, failed in self.catalog.folder_counts():
            problems = [
                SkippedFile(Path(folder), rel, f"{status}: {reason}")
                for rel, status, reason in self.catalog.problems(folders[folder])
            ]
            out.append(FolderStatus(folder, files, chunks, pending, skipped, failed, problems))
        return out

    def _cancel_export(self) -> None:
        cancel = getattr(self.embedder, "cancel_export", None)
        if cancel is not None:
            cancel()  # a model export in progress ends now (the next embed starts it again)

    def close(self, timeout: float = 5.0) -> None:
        """Stop writing and close the catalog.

        A write that can't be cut short (the model loading, one batch embedding) may
        outlast `timeout`; the catalog is then left open for the process to end with.
        That is safe: every write is journaled, and the next run finishes it.
        """
        with self._state_lock:
            self._closed = True
        self.stop()
        if not self._write_lock.acquire(timeout=timeout):
            log.warning("closing while a write is still running; the next run finishes it")
            return
        try:
            self.catalog.close()
        finally:
            self._write_lock.release()
