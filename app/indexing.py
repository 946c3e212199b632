"""Indexing as the app shows it (no Qt here): the index's one writer, and words for it.

    indexing = IndexingController(open_index, folders, events)
    indexing.start()                  # returns at once: the worker opens the index and syncs
    indexing.set_folders([...])       # the Folders tab changed the list
    indexing.pause() / resume()
    indexing.reopen(open_index)       # settings that shape the index changed
    indexing.search("tar", k=5)       # from any thread, once the index is open
    indexing.close()

All writing happens on `indexer.worker.IndexWorker`'s thread (the watcher and the
catch-up timer only queue jobs there). This class turns what the worker reports into
what a person reads (the model being prepared, time left) and passes it to `events`
from the worker's thread; the GUI's bridge re-emits each call as a Qt signal, and
`notewell serve` prints them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal, Protocol

from notewell.app.progress import PREPARING
from notewell.indexer.worker import IndexWorker, WorkerEvents, WorkerOptions, WorkerState

if TYPE_CHECKING:
    from notewell.indexer.notes_index import NotesIndex
    from notewell.indexer.types import FolderStatus, NoteContent, Progress, SearchResult
    from notewell.indexer.watcher import WatchEvent

log = logging.getLogger(__name__)

IndexState = Literal["opening", "scanning", "embedding", "idle", "paused", "error"]
PREPARING_MODEL = f"{PREPARING}… keyword search works meanwhile"


class IndexEvents(Protocol):
    def index_progress(self, progress: Progress) -> None: ...

    def index_folders(self, statuses: list[FolderStatus]) -> None: ...

    def index_state(self, state: IndexState, message: str) -> None: ...

    def index_ready(self, index: NotesIndex) -> None: ...

    def folder_missing(self, folder: str) -> None: ...

    def index_changed(self, event: WatchEvent) -> None: ...


class IndexNotReady(Exception):
    """Search before the index is open."""


class IndexingController(WorkerEvents):
    def __init__(
        self,
        open_index: Callable[[], NotesIndex],
        folders: list[Path],
        events: IndexEvents,
        options: WorkerOptions = WorkerOptions(),
        *,
        progress_interval: float = 0.1,
    ) -> None:
        self._events = events
        self._progress = _Throttled(events.index_progress, progress_interval)
        self.worker = IndexWorker(open_index, folders, self, options)
        self.state: IndexState = "opening"
        self.message = ""
        self._embedding_since: tuple[float, int] | None = None  # (time, passages done) when embedding began

    def start(self) -> None:
        self.worker.start()

    def set_folders(self, folders: list[Path]) -> None:
        self.worker.set_folders(folders)

    def reopen(self, open_index: Callable[[], NotesIndex], only_if: Callable[[], bool] | None = None) -> None:
        self.worker.reopen(open_index, only_if)

    def pause(self) -> None:
        self.worker.pause()

    def resume(self) -> None:
        self.worker.resume()

    @property
    def paused(self) -> bool:
        return self.worker.paused

    @property
    def index(self) -> NotesIndex | None:
        return self.worker.index

    def search(self, query: str, k: int = 5) -> list[SearchResult]:
        index = self.worker.index
        if index is None:
            raise IndexNotReady("The index is still opening; try again in a moment.")
        return index.search(query, k=k)

    def get_note(self, note_id: str) -> NoteContent | None:
        index = self.worker.index
        if index is None:
            raise IndexNotReady("The index is still opening; try again in a moment.")
        return index.get_note(note_id)

    def close(self, timeout: float = 10.0) -> None:
        self.worker.close(timeout)

    # -- WorkerEvents (the worker's thread) ------------------------------------------
    def index_state(self, state: WorkerState, detail: str) -> None:
        if state == "embedding":
            return  # said by the first progress report, which knows whether the model is ready
        if state == "tidying":  # searches go on; new notes wait a few seconds
            state = "scanning"
        if state in ("idle", "paused", "error"):
            self._progress.flush()
        self._set_state(state, detail)

    def index_progress(self, progress: Progress) -> None:
        if progress.phase == "embedding":
            index = self.worker.index
            starting = self.state != "embedding"
            preparing = progress.done == 0 and index is not None and index.model_preparing()
            now = time.monotonic()
            if starting or preparing or self._embedding_since is None:
                self._embedding_since = None if preparing else (now, progress.done)
            message = PREPARING_MODEL if preparing else embedding_message(progress, self._embedding_since, now)
            if starting or message != self.message:
                self._set_state("embedding", message)
            if starting and index is not None:  # pending counts per folder are known now
                self._events.index_folders(index.folder_status())
        self._progress(progress)

    def index_folders(self, statuses: list[FolderStatus]) -> None:
        self._events.index_folders(statuses)

    def index_ready(self, index: NotesIndex) -> None:
        self._events.index_ready(index)

    def folder_missing(self, folder: str) -> None:
        self._events.folder_missing(folder)

    def index_changed(self, event: WatchEvent) -> None:
        self._events.index_changed(event)

    def _set_state(self, state: IndexState, message: str) -> None:
        self.state = state
        self.message = message
        self._events.index_state(state, message)


def embedding_message(progress: Progress, since: tuple[float, int] | None, now: float) -> str:
    """"Embedding passages…", with the time left once the pace is known (5 s and 64 passages in)."""
    if since is None:
        return "Embedding passages…"
    elapsed, done = now - since[0], progress.done - since[1]
    if elapsed < 5 or done < 64 or progress.total <= progress.done:
        return "Embedding passages…"
    left = (progress.total - progress.done) * elapsed / done
    if left < 60:
        return "Embedding passages… less than a minute left"
    if left < 90 * 60:
        return f"Embedding passages… about {round(left / 60)} min left"
    return f"Embedding passages… about {left / 3600:.1f} h left"


class _Throttled:
    """Pass progress on at most every `interval` seconds, plus every phase change."""

    def __init__(self, target: Callable[[Progress], None], interval: float) -> None:
        self._target = target
        self._interval = interval
        self._last = 0.0
        self._last_key: tuple[str, str | None] | None = None
        self._held: Progress | None = None

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        key = (progress.phase, progress.folder)
        if key != self._last_key or now - self._last >= self._interval or progress.done >= progress.total:
            self._target(progress)
            self._last, self._last_key, self._held = now, key, None
        else:
            self._held = progress

    def flush(self) -> None:
        if self._held is not None:
            self._target(self._held)
            self._held = None
