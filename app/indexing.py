"""Indexing for the desktop app, on one worker thread (no Qt here).

    controller = IndexingController(open_index, folders, events)
    controller.start()            # opens the index, then syncs; returns at once
    controller.request_sync()     # folders changed: sync again (coalesced)
    controller.pause() / resume()
    controller.reopen()           # settings that shape the index changed
    controller.search("tar", k=5) # from any thread, once the index is open
    controller.close()

Everything slow (importing the indexer, opening Chroma, loading the model on the
first embed) happens on the worker thread; `events` is called from that thread
(the GUI's bridge re-emits each call as a Qt signal).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal, Protocol, Sequence

from notewell.app.progress import PREPARING

if TYPE_CHECKING:
    from notewell.indexer.notes_index import NotesIndex
    from notewell.indexer.types import FolderStatus, Progress, SearchResult

log = logging.getLogger(__name__)

IndexState = Literal["opening", "scanning", "embedding", "idle", "paused", "error"]
PREPARING_MODEL = f"{PREPARING}… keyword search works meanwhile"
# Starts watching `folders`, calling `on_change` after each applied batch; returns a stop function.
WatchFactory = Callable[["NotesIndex", Sequence[Path], Callable[[], None]], Callable[[], None]]


def watch_folders(
    index: "NotesIndex", folders: Sequence[Path], on_change: Callable[[], None]
) -> Callable[[], None]:
    """The app's `WatchFactory`: live sync with `indexer.watcher`, refreshing folder states."""
    from notewell.indexer.watcher import watch_index

    return watch_index(index, folders, on_change=lambda event: on_change())


class IndexEvents(Protocol):
    def index_progress(self, progress: Progress) -> None: ...

    def index_folders(self, statuses: list[FolderStatus]) -> None: ...

    def index_state(self, state: IndexState, message: str) -> None: ...

    def index_ready(self, index: NotesIndex) -> None: ...

    def folder_missing(self, folder: str) -> None: ...


class IndexNotReady(Exception):
    """Search before the index is open."""


class IndexingController:
    def __init__(
        self,
        open_index: Callable[[], NotesIndex],
        folders: Callable[[], list[Path]],
        events: IndexEvents,
        *,
        watch: WatchFactory | None = None,
        progress_interval: float = 0.1,
    ) -> None:
        self._open_index = open_index
        self._folders = folders
        self._events = events
        self._watch = watch
        self._interval = progress_interval
        self._cond = threading.Condition()
        self._index: NotesIndex | None = None
        self._wanted = True  # a sync is due
        self._reopen = False
        self._paused = False
        self._closing = False
        self._missing: set[str] = set()
        self._stop_watching: Callable[[], None] | None = None
        self._watched: list[Path] = []
        self._thread: threading.Thread | None = None
        self.state: IndexState = "opening"
        self.message = ""
        self._embedding_since: tuple[float, int] | None = None  # (time, passages done) when embedding began

    # -- called from the GUI thread ------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="notewell-indexer", daemon=True)
        self._thread.start()

    def request_sync(self) -> None:
        with self._cond:
            self._wanted = True
            self._cond.notify_all()
        index = self._index
        if index is not None and self.state in ("scanning", "embedding"):
            index.stop()  # start over with the new folder list; nothing done is lost

    def reopen(self) -> None:
        with self._cond:
            self._reopen = self._wanted = True
            self._cond.notify_all()
        if self._index is not None:
            self._index.stop()

    def pause(self) -> None:
        with self._cond:
            self._paused = True
        if self._index is not None:
            self._index.stop()
        self._set_state("paused", "Indexing paused")

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._wanted = True
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def search(self, query: str, k: int = 5) -> list[SearchResult]:
        index = self._index
        if index is None:
            raise IndexNotReady("The index is still opening; try again in a moment.")
        return index.search(query, k=k)

    def close(self, timeout: float = 30.0) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._index is not None:
            self._index.stop()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the worker thread ---------------------------------------------------
    def _run(self) -> None:
        try:
            self._open()
            while self._next_job():
                if self._reopen:
                    self._reopen = False
                    self._close_index()
                    self._open()
                self._sync()
        except Exception as exc:  # shown to the user; the app keeps running
            log.exception("indexing failed")
            self._set_state("error", str(exc) or type(exc).__name__)
        finally:
            self._close_index()

    def _open(self) -> None:
        self._set_state("opening", "Opening the index…")
        index = self._open_index()
        self._index = index
        index.prepare_search()
        self._events.index_ready(index)
        self._events.index_folders(index.folder_status())

    def _next_job(self) -> bool:
        with self._cond:
            while not self._closing and (self._paused or not self._wanted):
                self._cond.wait()
            self._wanted = False
            return not self._closing

    def _sync(self) -> None:
        index = self._index
        assert index is not None
        folders = self._folders()
        self._report_missing(folders)
        reporter = _Throttled(self._on_progress, self._interval)
        self._set_state("scanning", "Scanning your folders…")
        summary = index.sync(folders, reporter)
        reporter.flush()
        self._events.index_folders(index.folder_status())
        if self._paused:
            self._set_state("paused", "Indexing paused")
        elif not self._wanted:
            self._set_state("idle", summary.line())
            self._restart_watcher(index, folders)

    def _on_progress(self, progress: Progress) -> None:
        if progress.phase == "tidying":  # searches go on; new notes wait a few seconds
            self._set_state("scanning", progress.message)
        if progress.phase == "embedding":
            starting = self.state != "embedding"
            preparing = progress.done == 0 and self._index is not None and self._index.model_preparing()
            now = time.monotonic()
            if starting or preparing or self._embedding_since is None:
                self._embedding_since = None if preparing else (now, progress.done)
            message = PREPARING_MODEL if preparing else embedding_message(progress, self._embedding_since, now)
            if starting or message != self.message:
                self._set_state("embedding", message)
            if starting and self._index is not None:  # pending counts per folder are known now
                self._events.index_folders(self._index.folder_status())
        self._events.index_progress(progress)

    def _report_missing(self, folders: list[Path]) -> None:
        missing = {str(f) for f in folders if not f.is_dir()}
        for folder in sorted(missing - self._missing):
            self._events.folder_missing(folder)
        self._missing = missing

    def _restart_watcher(self, index: NotesIndex, folders: list[Path]) -> None:
        if self._watch is None or (self._stop_watching and folders == self._watched):
            return
        self._stop_watcher()
        present = [f for f in folders if f.is_dir()]
        if present:
            self._stop_watching = self._watch(index, present, self._after_change)
            self._watched = folders

    def _after_change(self) -> None:
        if self._index is not None:
            self._events.index_folders(self._index.folder_status())

    def _stop_watcher(self) -> None:
        if self._stop_watching is not None:
            try:
                self._stop_watching()
            finally:
                self._stop_watching = None

    def _close_index(self) -> None:
        self._stop_watcher()
        if self._index is not None:
            self._index.close()
            self._index = None

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
