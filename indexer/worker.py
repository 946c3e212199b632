"""The index's one writer: a thread that runs indexing jobs from one queue (#14).

    worker = IndexWorker(open_index, folders, events)
    worker.start()                    # open the index, bring every folder up to date, watch
    worker.set_folders([a, b])        # the folder list: b is indexed, a folder left out is removed
    worker.sync_all()                 # catch up with the disk (also on a timer)
    worker.sync_paths(folder, rels)   # what the watcher saw change
    worker.repair(); worker.rebuild_vectors(); worker.reopen(open_index)
    worker.pause(); worker.resume(); worker.cancel()
    worker.close()

Everything that writes the index runs here, one job at a time; the watcher and the
catch-up timer only add jobs. The worker owns the folder list, so a folder's notes
leave the index only through the job that removes that folder. Jobs merge where they
can (changed paths join a waiting batch; a waiting full sync absorbs them). A job that
is embedding gives way to changed paths and folder changes: the embedding carries on
inside the next job, newest notes first, so a saved note is found within a second
even during a long first index. Every job has its own cancel event, never reused, so
a cancel is never lost nor lands on the wrong job. Pause holds the queue (the
watcher's batches wait in it); resume catches up with the disk.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal, Sequence

from .errors import IndexerError
from .types import FolderStatus, Progress, SyncSummary
from .watcher import FolderWatcher, WatchEvent, change_message, counts, missing_message, resolved

if TYPE_CHECKING:
    from .notes_index import NotesIndex

log = logging.getLogger(__name__)

JobKind = Literal["open", "remove", "sync_all", "sync_paths", "embed", "repair", "rebuild_vectors", "reopen"]
WorkerState = Literal["opening", "scanning", "embedding", "tidying", "idle", "paused", "error"]
# Jobs that may be stopped part-way and resumed later by another job.
_RESUMABLE = frozenset({"sync_all", "sync_paths", "embed", "repair"})
# The shortest time between two catch-ups with the disk: a setting of 0 must not spin.
_MIN_CATCH_UP = 0.5


class WorkerEvents:
    """What the worker tells the app; every method runs on the worker's (or the watcher's)
    thread. Subclass and override what you need (the GUI's bridge re-emits Qt signals)."""

    def index_state(self, state: WorkerState, detail: str) -> None: ...

    def index_progress(self, progress: Progress) -> None: ...

    def index_folders(self, statuses: list[FolderStatus]) -> None: ...

    def index_ready(self, index: NotesIndex) -> None: ...

    def folder_missing(self, folder: str) -> None: ...

    def index_changed(self, event: WatchEvent) -> None:
        """Live sync applied a batch, caught up, or has something to say (watch limits)."""


@dataclass(eq=False)
class Job:
    kind: JobKind
    paths: dict[str, set[str]] = field(default_factory=dict)  # sync_paths: folder → rel paths
    removed: tuple[str, ...] = ()  # remove: folders to take out of the index
    catching_up: bool = False  # sync_all: run by the timer or on resume (says what it caught)
    opener: Callable[[], NotesIndex] | None = None  # open, reopen
    only_if: Callable[[], bool] | None = None  # reopen: only when this says so (asked when its turn comes)
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    summary: SyncSummary | None = None
    error: BaseException | None = None

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)


@dataclass(frozen=True)
class WorkerOptions:
    watch: bool = True  # follow changes on disk as they happen
    catch_up_every: float = 300.0  # seconds between catch-ups with the disk (watched folders)
    fallback_every: float = 60.0  # the same where folders can't be watched
    debounce: float = 0.2  # quiet time that ends a burst of changes
    max_delay: float = 2.0  # a burst is handed on after this long at most
    # Asked on the worker's thread at each timed catch-up: whether the index should be opened
    # anew (the "auto" model: Chinese notes arrived in a folder of English ones).
    reopen_if: Callable[[], bool] | None = None


class IndexWorker:
    def __init__(
        self,
        open_index: Callable[[], NotesIndex],
        folders: Sequence[Path],
        events: WorkerEvents | None = None,
        options: WorkerOptions = WorkerOptions(),
    ) -> None:
        self._events = events or WorkerEvents()
        self._options = options
        self._cond = threading.Condition()
        # Guarded by _cond:
        self._folders = resolved(folders)
        self._open_index = open_index
        self._queue: deque[Job] = deque([Job("open", opener=open_index), Job("sync_all")])
        self._current: Job | None = None
        self._embedding = False  # the current job is embedding (it can give way)
        self._paused = False
        self._closing = False
        self._caught_up = time.monotonic()  # when the last full sync started
        self._missing: set[str] = set()
        # Owned by the worker's thread:
        self.index: NotesIndex | None = None
        self._watcher: FolderWatcher | None = None
        self._thread: threading.Thread | None = None
        self.state: WorkerState = "opening"
        self.detail = ""

    # -- the queue (any thread) ------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the index worker is already started")
        self._thread = threading.Thread(target=self._run, name="notewell-indexer", daemon=True)
        self._thread.start()

    @property
    def folders(self) -> list[str]:
        with self._cond:
            return list(self._folders)

    @property
    def watcher(self) -> FolderWatcher | None:
        return self._watcher

    @property
    def paused(self) -> bool:
        return self._paused

    def set_folders(self, folders: Sequence[Path]) -> Job:
        """Index exactly these folders from now on: new ones are read first, and the notes
        of a folder left out leave the index at once, paused or not (its files on disk are
        never touched). Returns the job that finishes the change."""
        wanted = resolved(folders)
        with self._cond:
            removed = [f for f in self._folders if f not in wanted]
            added = [f for f in wanted if f not in self._folders]
            self._folders = [*added, *(f for f in wanted if f not in added)]
            job: Job | None = None
            if removed or added:
                # What runs now stops: a removal goes first, then a sync that reads new folders
                # first and goes on with whatever was being read or embedded.
                current = self._current
                self._cancel_current(requeue=current is not None and current.kind in ("sync_paths", "repair"))
                job = next((j for j in self._queue if j.kind == "sync_all"), None) or Job("sync_all")
                if job in self._queue:
                    self._queue.remove(job)
                self._queue.appendleft(job)
            if removed:
                removal = self._add_removal(removed)
                job = job or removal
            self._cond.notify_all()
        if self._watcher is not None:
            self._watcher.set_folders([Path(f) for f in wanted])
        return job if job is not None else Job("sync_all", finished=_done())

    def sync_all(self) -> Job:
        """Bring every folder up to date with the disk (a stat per unchanged note)."""
        with self._cond:
            return self._add_sync_all()

    def sync_paths(self, folder: str, rels: set[str]) -> Job | None:
        """Re-index these paths of `folder` (relative; "" stands for the whole folder)."""
        with self._cond:
            if folder not in self._folders:
                return None
            waiting = next((j for j in self._queue if j.kind == "sync_all"), None)
            if waiting is not None:  # it has not scanned yet: it will see these changes
                return waiting
            batch = next((j for j in self._queue if j.kind == "sync_paths"), None)
            if batch is None:
                batch = Job("sync_paths")
                self._queue.appendleft(batch)
            batch.paths.setdefault(folder, set()).update(rels)
            self._give_way()
            self._cond.notify_all()
            return batch

    def embed(self) -> Job:
        with self._cond:
            return self._add(Job("embed"))

    def repair(self) -> Job:
        """Check the index against the disk and both stores, and fix what is wrong."""
        with self._cond:
            return self._add(Job("repair"))

    def rebuild_vectors(self) -> Job:
        """Copy the live vectors into a fresh vector store (it shrinks after many edits)."""
        with self._cond:
            return self._add(Job("rebuild_vectors"))

    def reopen(self, open_index: Callable[[], NotesIndex], only_if: Callable[[], bool] | None = None) -> Job:
        """Settings that shape the index changed (the model, file types…): open it anew and
        bring it up to date; a new model re-embeds every note while keywords keep working.
        `only_if`, asked on this thread when the job's turn comes: reopen only if it says so."""
        with self._cond:
            job = Job("reopen", opener=open_index, only_if=only_if)
            self._queue.appendleft(job)
            self._add_sync_all()
            self._cancel_current()
            self._cond.notify_all()
            return job

    def pause(self) -> None:
        """Hold the queue: the running job stops at its next file or batch and waits too."""
        with self._cond:
            if self._paused:
                return
            self._paused = True
            self._cancel_current(requeue=True)
            idle = self._current is None
        if idle:
            self._set_state("paused", "Indexing paused")

    def resume(self) -> None:
        """Run what waited, and catch up with whatever changed on disk meanwhile."""
        with self._cond:
            if not self._paused:
                return
            self._paused = False
            self._add_sync_all().catching_up = True
            self._cond.notify_all()

    def cancel(self) -> None:
        """Stop the running job at its next file or batch; what it did is kept."""
        with self._cond:
            self._cancel_current()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once the queue is empty and no job runs (or the worker has stopped)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._queue or self._current is not None:
                if self._closing or (self._paused and self._current is None):
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
            return not self._queue and self._current is None

    def close(self, timeout: float = 10.0) -> None:
        """Stop the running job, stop watching, and close the index."""
        with self._cond:
            self._closing = True
            self._cancel_current()
            for job in self._queue:
                job.cancel.set()
                job.finished.set()
            self._queue.clear()
            self._cond.notify_all()
        index = self.index
        if index is not None:
            index.stop()  # also ends the model's one-time export, which no cancel event reaches
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the index worker is still finishing a batch; the next run completes it")

    # -- under _cond -------------------------------------------------------------
    def _add(self, job: Job) -> Job:
        self._queue.append(job)
        self._cond.notify_all()
        return job

    def _add_removal(self, folders: list[str]) -> Job:
        """One waiting removal stands for all; a folder wanted again is left out of it."""
        earlier = next((j for j in self._queue if j.kind == "remove"), None)
        if earlier is not None:
            self._queue.remove(earlier)
            folders = [*earlier.removed, *folders]
        job = Job("remove", removed=tuple(f for f in dict.fromkeys(folders) if f not in self._folders))
        self._queue.appendleft(job)
        return job

    def _add_sync_all(self) -> Job:
        waiting = next((j for j in self._queue if j.kind == "sync_all"), None)
        return waiting if waiting is not None else self._add(Job("sync_all"))

    def _give_way(self) -> None:
        """A job that is only embedding stops, so that what was just asked for runs now;
        the embedding goes on inside the next job (and an `embed` job, in case)."""
        current = self._current
        if current is not None and self._embedding and current.kind in _RESUMABLE:
            current.cancel.set()
            if not any(j.kind == "embed" for j in self._queue):
                self._queue.append(Job("embed"))

    def _cancel_current(self, requeue: bool = False) -> None:
        current = self._current
        if current is None or current.kind not in _RESUMABLE | {"rebuild_vectors"}:
            return  # opening an index is quick and can't be cut short
        current.cancel.set()
        if requeue and not any(j.kind == current.kind for j in self._queue):
            paths = {folder: set(rels) for folder, rels in current.paths.items()}
            self._queue.appendleft(Job(current.kind, paths=paths, removed=current.removed))

    # -- the worker's thread -------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                job = self._next_job()
                if job is None:
                    return
                try:
                    self._do(job)
                except Exception as exc:  # shown to the user; the worker goes on
                    job.error = exc
                    if not isinstance(exc, IndexerError):
                        log.exception("indexing job %s failed", job.kind)
                    self._set_state("error", str(exc) or type(exc).__name__)
                finally:
                    with self._cond:
                        self._current = None
                        self._embedding = False
                        job.finished.set()
                        self._cond.notify_all()
                    self._after(job)
        finally:
            self._shut_down()

    def _next_job(self) -> Job | None:
        with self._cond:
            while True:
                if self._closing:
                    return None
                now = time.monotonic()
                due = self._caught_up + self._catch_up_interval()
                if now >= due:
                    if (self._options.reopen_if is not None and self.index is not None  # (one that failed
                            and not any(j.kind == "reopen" for j in self._queue)):  # to open says why)
                        self._add(Job("reopen", opener=self._open_index, only_if=self._options.reopen_if))
                    self._add_sync_all().catching_up = True
                    self._caught_up = now
                    continue
                job = self._queue[0] if self._queue else None
                if job is not None and (not self._paused or job.kind == "remove"):
                    self._queue.popleft()
                    if job.cancel.is_set():
                        job.finished.set()
                        continue
                    if job.kind == "sync_all":
                        self._caught_up = now
                    self._current = job
                    return job
                self._cond.wait(due - now)

    def _catch_up_interval(self) -> float:
        options = self._options
        live = self._watcher is not None and self._watcher.live
        every = options.catch_up_every if live else min(options.catch_up_every, options.fallback_every)
        return max(every, _MIN_CATCH_UP)

    def _do(self, job: Job) -> None:
        if job.kind in ("open", "reopen"):
            self._open(job)
            return
        index = self.index
        if index is None:  # it failed to open: the state already says why
            return
        progress = self._progress_for(job)
        if job.kind == "remove":
            gone = [f for f in job.removed if f not in self.folders]  # not wanted again meanwhile
            if gone:
                self._set_state("scanning", "Removing folders from the index…")
                job.summary = index.remove_folders([Path(f) for f in gone])  # never cut short
                self._events.index_changed(WatchEvent(
                    "reconciled", f"Removed {len(gone)} folder{'s' if len(gone) != 1 else ''} "
                    f"from the index ({job.summary.removed} notes).", None, job.summary))
        elif job.kind == "sync_all":
            job.summary = self._sync_all(index, job, progress)
        elif job.kind == "sync_paths":
            job.summary = self._sync_paths(index, job, progress)
        elif job.kind == "embed":
            if index.catalog.count_pending():
                job.summary = index.embed_pending(progress, job.cancel)
        elif job.kind == "repair":
            from .doctor import repair

            self._set_state("scanning", "Checking the index against your notes…")
            repair(index, [Path(f) for f in self.folders], job.cancel)
        elif job.kind == "rebuild_vectors":
            with index.writing(job.cancel) as pipeline:
                pipeline.compact_vectors(progress)

    def _open(self, job: Job) -> None:
        assert job.opener is not None
        if job.only_if is not None and self.index is not None and not job.only_if():
            return
        self._set_state("opening", "Opening the index…")
        old = self.index
        index = job.opener()  # the old one answers searches until the new one is ready
        self.index = index
        index.prepare_search()
        stray = [f for f in index.catalog.folders() if f not in self.folders]
        if stray:  # removed while Notewell was closing or closed: they leave now
            with self._cond:
                self._add_removal(stray)
        self._events.index_ready(index)
        if old is not None:
            # A search that picked up the old index a moment ago finishes on it first.
            timer = threading.Timer(2.0, old.close)
            timer.daemon = True
            timer.start()
        self._events.index_folders(index.folder_status())
        if self._watcher is not None:
            self._watcher.set_extensions(index.pipeline.options.extensions)  # file types may have changed
        elif self._options.watch:
            self._watcher = FolderWatcher(
                [Path(f) for f in self.folders], index.pipeline.options.extensions, self.sync_paths,
                debounce=self._options.debounce, max_delay=self._options.max_delay,
                fallback_every=self._options.fallback_every, on_event=self._watch_event,
            )
            self._watcher.start()
            self._watcher.wait_ready(30)  # the first sync starts once changes are being seen

    def _watch_event(self, event: WatchEvent) -> None:
        if event.kind in ("limit", "error"):  # catching up now matters more: wake to re-plan
            with self._cond:
                self._cond.notify_all()
        self._events.index_changed(event)

    def _sync_all(self, index: NotesIndex, job: Job, progress: Callable[[Progress], None]) -> SyncSummary:
        folders = self.folders
        self._report_missing(folders)
        if self._watcher is not None:
            self._watcher.refresh()
        self._set_state("scanning", "Scanning your folders…")
        summary = index.sync([Path(f) for f in folders], progress, job.cancel)
        if job.catching_up and (summary.indexed or summary.removed):
            self._events.index_changed(WatchEvent(
                "reconciled", f"Caught up with changes on disk: {counts(summary)}.", None, summary))
        return summary

    def _sync_paths(self, index: NotesIndex, job: Job, progress: Callable[[Progress], None]) -> SyncSummary:
        total = SyncSummary()
        for folder, rels in job.paths.items():
            if job.cancel.is_set():
                break
            if folder not in self.folders:
                continue  # removed from Notewell since the event
            self._set_state("scanning", f"Updating {Path(folder).name}…")
            paths = [Path(folder, rel) if rel else Path(folder) for rel in sorted(rels)]
            summary = index.sync_files(Path(folder), paths, progress, job.cancel)
            total.add(summary)
            if not os.path.isdir(folder):
                self._report_missing(self.folders)
                if self._watcher is not None:
                    self._watcher.refresh()
            elif summary.indexed or summary.removed or summary.failed:
                self._events.index_changed(WatchEvent(
                    "updated", change_message(folder, summary), folder, summary, tuple(sorted(rels))))
        return total

    def _progress_for(self, job: Job) -> Callable[[Progress], None]:
        def report(progress: Progress) -> None:
            if progress.phase == "embedding":
                with self._cond:
                    first = not self._embedding
                    self._embedding = True
                    if self._queue and any(j.kind in ("sync_paths", "remove") for j in self._queue):
                        self._give_way()  # waited while this job was still scanning
                if first:
                    self._set_state("embedding", "Embedding passages…")
            elif progress.phase == "tidying":
                self._set_state("tidying", progress.message)
            self._events.index_progress(progress)

        return report

    def _after(self, job: Job) -> None:
        index = self.index
        if index is not None and job.kind != "open":
            try:
                self._events.index_folders(index.folder_status())
            except Exception:  # a closed catalog while quitting
                log.debug("folder status after %s failed", job.kind, exc_info=True)
        with self._cond:
            busy = bool(self._queue) and not self._paused
            paused = self._paused
        if self.state == "error" and job.error is not None:
            return
        if paused:
            self._set_state("paused", "Indexing paused")
        elif not busy:
            summary = job.summary
            self._set_state("idle", summary.line() if summary is not None and job.kind != "embed" else "Up to date")

    def _report_missing(self, folders: list[str]) -> None:
        index = self.index
        missing = {f for f in folders if not os.path.isdir(f)
                   or (index is not None and index.pipeline.folder_looks_unmounted(f))}
        with self._cond:
            new = sorted(missing - self._missing)
            self._missing = missing
        for folder in new:
            self._events.folder_missing(folder)
            self._events.index_changed(WatchEvent("missing", missing_message(folder), folder))

    def _set_state(self, state: WorkerState, detail: str) -> None:
        self.state = state
        self.detail = detail
        try:
            self._events.index_state(state, detail)
        except Exception:
            log.exception("an index listener failed")

    def _shut_down(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None
        if self.index is not None:
            self.index.close()
        with self._cond:
            self._current = None
            for job in self._queue:
                job.finished.set()
            self._cond.notify_all()


def _done() -> threading.Event:
    finished = threading.Event()
    finished.set()
    return finished
