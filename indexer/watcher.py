"""Live sync: filesystem events → debounced batches of changed paths.

    watcher = FolderWatcher([Path("~/notes")], extensions, on_paths=worker.sync_paths)
    watcher.start()          # returns at once; watches the folders from now on
    watcher.set_folders([...])
    watcher.refresh()        # watch again a folder that came back (a drive plugged in)
    watcher.stop()           # prompt; joins its threads

The watcher never writes the index: after each quiet moment following a burst of
events it hands `on_paths(folder, rel paths)` to the index's one writer
(`indexer.worker`), which also catches up with the disk on a timer to cover what
events miss (sleep, network drives, a kernel queue overflow). Where the OS limit on
watches is reached, it says how to raise it, and `live` turns false so that the
writer catches up more often.

Events cost little: names under hidden folders and `node_modules`, and files of
other types, are dropped by a string check, and on Linux those folders get no
inotify watch at all. The full ignore rules apply when the batch is synced
(`sources.walk_paths`), exactly as in a full scan.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Literal, Sequence

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from .sources import IGNORE_FILE, SKIPPED_NAMES
from .types import SyncSummary

if TYPE_CHECKING:
    from watchdog.observers.api import BaseObserver, ObservedWatch

log = logging.getLogger(__name__)

WatchEventKind = Literal["watching", "updated", "reconciled", "missing", "limit", "error"]
PathsCallback = Callable[[str, set[str]], None]

# Opening and reading a note (as the indexer does) must not wake the watcher.
WATCHED_EVENTS = [
    FileCreatedEvent, DirCreatedEvent, FileDeletedEvent, DirDeletedEvent, FileMovedEvent, DirMovedEvent,
    FileModifiedEvent, FileAttribEvent, FileClosedEvent,
]
_RELEVANT = frozenset({"created", "deleted", "moved", "modified", "attrib", "closed"})


@dataclass(frozen=True)
class WatchEvent:
    """What live sync did, for the GUI's folder states and the CLI's log."""

    kind: WatchEventKind
    message: str  # one line for the user
    folder: str | None = None
    summary: SyncSummary | None = None
    paths: tuple[str, ...] = ()  # the batch's paths, relative to `folder`


class FolderWatcher:
    """Turns changes under `folders` into batches of paths for the index's writer.

    `on_paths` and `on_event` run on the watcher's own thread; keep them quick.
    """

    def __init__(
        self,
        folders: Sequence[Path],
        extensions: Iterable[str],
        on_paths: PathsCallback,
        *,
        debounce: float = 0.2,
        max_delay: float = 2.0,
        fallback_every: float = 60.0,
        on_event: Callable[[WatchEvent], None] | None = None,
    ) -> None:
        self._on_paths = on_paths
        self._on_event = on_event
        self._debounce = debounce
        self._max_delay = max_delay
        self._fallback_every = fallback_every
        self._extensions = frozenset("." + e.lower().lstrip(".") for e in extensions)
        self._cond = threading.Condition()
        # Guarded by _cond:
        self._folders = resolved(folders)
        self._prefixes = [(f, os.path.join(f, "")) for f in self._folders]
        self._pending: dict[str, set[str]] = {}  # folder → rel paths ("" = the whole folder)
        self._first_event = 0.0
        self._last_event = 0.0
        self._rewatch = False
        self._limit_messages: list[str] = []
        self._stopping = False
        # Owned by the watcher's thread:
        self._observer: BaseObserver | None = None
        self._watches: dict[str, tuple[ObservedWatch, tuple[int, int]]] = {}
        self._degraded = False
        self._handler = _Handler(self)
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # -- public -------------------------------------------------------------
    def start(self) -> None:
        """Start watching in the background."""
        if self._thread is not None:
            raise RuntimeError("the watcher is already started")
        self._thread = threading.Thread(target=self._run, name="notewell-watcher", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once the folders are watched."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout)

    def set_folders(self, folders: Sequence[Path]) -> None:
        """Watch these folders instead."""
        with self._cond:
            self._folders = resolved(folders)
            self._prefixes = [(f, os.path.join(f, "")) for f in self._folders]
            self._pending = {f: rels for f, rels in self._pending.items() if f in self._folders}
            self._rewatch = True
            self._cond.notify_all()

    def set_extensions(self, extensions: Iterable[str]) -> None:
        self._extensions = frozenset("." + e.lower().lstrip(".") for e in extensions)

    def refresh(self) -> None:
        """Watch again any folder that came back or was replaced, and drop vanished ones."""
        with self._cond:
            self._rewatch = True
            self._cond.notify_all()

    @property
    def folders(self) -> list[str]:
        with self._cond:
            return list(self._folders)

    @property
    def live(self) -> bool:
        """False while some folder is not watched (gone, or the OS limit was hit): changes
        there are only found by catching up."""
        return not self._degraded and set(self._watches) >= {f for f in self.folders if os.path.isdir(f)}

    # -- events (observer thread) ----------------------------------------------
    def _note(self, path: str, is_dir: bool) -> None:
        with self._cond:
            prefixes = self._prefixes
        for folder, prefix in prefixes:
            if path == folder:
                rel: str | None = ""
            elif path.startswith(prefix):
                rel = self._relevant(path[len(prefix) :].replace(os.sep, "/"), is_dir)
            else:
                continue
            if rel is None:
                continue
            with self._cond:
                now = time.monotonic()
                if not self._pending:
                    self._first_event = now
                    self._cond.notify_all()
                self._last_event = now
                self._pending.setdefault(folder, set()).add(rel)

    def _relevant(self, rel: str, is_dir: bool) -> str | None:
        """The rel path to re-sync for an event at `rel`, or None when a scan would never look there."""
        parts = rel.split("/")
        for part in parts[:-1]:
            if part[:1] == "." or part in SKIPPED_NAMES:
                return None
        name = parts[-1]
        if name == IGNORE_FILE:
            return "/".join(parts[:-1])  # the rules for that whole folder changed
        if name[:1] == "." or name in SKIPPED_NAMES or not name:
            return None
        if not is_dir and os.path.splitext(name)[1].lower() not in self._extensions:
            return None
        return rel

    def _overflowed(self, folder: str) -> None:
        log.warning("the kernel dropped events under %s; rescanning it", folder)
        self._note(folder, True)

    def _limit_hit(self, path: str, exc: OSError) -> None:
        with self._cond:
            self._limit_messages.append(_limit_message(path, exc, self._fallback_every))
            self._cond.notify_all()

    # -- the watcher's thread ---------------------------------------------------
    def _run(self) -> None:
        try:
            try:
                self._observer = _make_observer(self._limit_hit, self._overflowed)
                self._observer.start()
            except OSError as exc:  # EMFILE: no inotify instance left for us
                self._degraded = True
                self._emit(WatchEvent("limit", _limit_message(", ".join(self.folders), exc, self._fallback_every)))
            self._apply_folders()
            self._emit(WatchEvent("watching", _watching_message(self.folders, set(self._watches))))
            self._ready.set()
            self._loop()
        except Exception as exc:  # the watcher must never take the app down
            log.exception("the folder watcher stopped")
            self._degraded = True
            self._emit(WatchEvent("error", f"Watching for changes stopped: {exc}. Restart Notewell."))
        finally:
            self._ready.set()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    if self._rewatch or self._limit_messages:
                        break
                    now = time.monotonic()
                    if self._pending:
                        due = min(self._last_event + self._debounce, self._first_event + self._max_delay)
                        if now >= due:
                            break
                        self._cond.wait(due - now)
                    else:
                        self._cond.wait()
                batch, self._pending = self._pending, {}
                rewatch, self._rewatch = self._rewatch, False
                messages, self._limit_messages = self._limit_messages, []
            for message in messages:
                self._degraded = True
                self._emit(WatchEvent("limit", message))
            if rewatch:
                self._apply_folders()
                self._watch_again()
            for folder, rels in batch.items():
                try:
                    self._on_paths(folder, rels)
                except Exception:
                    log.exception("handing changed paths to the index failed")

    # -- watches --------------------------------------------------------------
    def _apply_folders(self) -> None:
        wanted = set(self.folders)
        for folder in [f for f in self._watches if f not in wanted]:
            self._unwatch(folder)
        for folder in sorted(wanted - set(self._watches)):
            self._watch(folder)

    def _watch_again(self) -> None:
        """Watch again a folder that came back (a drive plugged in) or was replaced."""
        live = {emitter.watch for emitter in self._observer.emitters if emitter.is_alive()} if self._observer else set()
        for folder in self.folders:
            current = _identity(folder)
            known = self._watches.get(folder)
            # A folder deleted and made again can come back with the same inode number, while
            # its old watch stopped when it was deleted: the watch must be alive too.
            if known is not None and known[1] == current and known[0] in live:
                continue
            if known is not None:
                self._unwatch(folder)
            if current is not None:
                self._watch(folder)

    def _watch(self, folder: str) -> None:
        if self._observer is None:
            return
        identity = _identity(folder)
        if identity is None:
            return  # the writer reports a missing folder when it catches up
        try:
            watch = self._observer.schedule(self._handler, folder, recursive=True, event_filter=WATCHED_EVENTS)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EMFILE):
                self._degraded = True
                self._emit(WatchEvent("limit", _limit_message(folder, exc, self._fallback_every), folder))
            else:
                self._emit(WatchEvent(
                    "error",
                    f"Cannot watch {folder} for changes ({exc.strerror or exc}); "
                    f"changes there are picked up every {_minutes(self._fallback_every)} instead.",
                    folder,
                ))
            return
        self._watches[folder] = (watch, identity)
        if self._ready.is_set():
            # Trigger: a folder is watched from now on (added, or back after a drive came
            # back). Why: a change made before the watch took hold has no event. Outcome: the
            # folder is checked once more (a stat per unchanged note). The folders watched at
            # start need none: the writer's first sync begins once they are watched.
            self._on_paths(folder, {""})

    def _unwatch(self, folder: str) -> None:
        watch, _ = self._watches.pop(folder)
        if self._observer is not None:
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError):
                pass

    def _emit(self, event: WatchEvent) -> None:
        log.info("%s", event.message)
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("a watcher listener failed")


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher) -> None:
        self._watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind not in _RELEVANT or (kind == "modified" and event.is_directory):
            return
        self._watcher._note(os.fsdecode(event.src_path), event.is_directory)
        if event.dest_path:
            self._watcher._note(os.fsdecode(event.dest_path), event.is_directory)


# -- messages -------------------------------------------------------------------
def _limit_message(folder: str, exc: OSError, every: float) -> str:
    setting, value = (
        ("max_user_instances", 1024) if exc.errno == errno.EMFILE else ("max_user_watches", 524288)
    )
    current = _read_sysctl(f"/proc/sys/fs/inotify/{setting}")
    now = f" (now {current})" if current else ""
    return (
        f"Cannot watch all of {folder} for changes: the system's limit fs.inotify.{setting}{now} is reached. "
        f"Changes there are picked up every {_minutes(every)} instead. To raise the limit: "
        f"echo fs.inotify.{setting}={value} | sudo tee /etc/sysctl.d/60-notewell.conf && sudo sysctl --system"
    )


def missing_message(folder: str) -> str:
    return (
        f"The notes folder {folder} is gone (a drive unplugged?). Its notes stay searchable; "
        "watching resumes when it is back, or remove the folder in Settings."
    )


def _watching_message(folders: list[str], watched: set[str]) -> str:
    if not folders:
        return "No notes folders to watch."
    if watched >= set(folders):
        return f"Watching {len(folders)} folder{'s' if len(folders) != 1 else ''} for changes."
    return f"Watching {len(watched)} of {len(folders)} folders for changes; the others are checked periodically."


def change_message(folder: str, summary: SyncSummary) -> str:
    return f"{Path(folder).name}: {counts(summary)}."


def counts(summary: SyncSummary) -> str:
    parts = []
    if summary.indexed:
        parts.append(f"{summary.indexed} note{'s' if summary.indexed != 1 else ''} updated")
    if summary.removed:
        parts.append(f"{summary.removed} removed")
    if summary.failed:
        parts.append(f"{summary.failed} could not be read")
    return ", ".join(parts) or "nothing changed"


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} seconds" if seconds < 120 else f"{seconds / 60:.0f} minutes"


def _read_sysctl(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def resolved(folders: Sequence[Path | str]) -> list[str]:
    out: list[str] = []
    for folder in folders:
        text = str(Path(folder).expanduser().resolve())
        if text not in out:
            out.append(text)
    return out


def _identity(folder: str) -> tuple[int, int] | None:
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if os.path.isdir(folder) else None


def _skipped_dir(name: bytes) -> bool:
    return name[:1] == b"." or os.fsdecode(name) in SKIPPED_NAMES


# -- the observer -----------------------------------------------------------------
def _make_observer(on_limit: Callable[[str, OSError], None], on_overflow: Callable[[str], None]) -> BaseObserver:
    if _InotifyWatchGroup is not None:
        return _PruningObserver(on_limit, on_overflow)
    from watchdog.observers import Observer

    return Observer()


try:
    from watchdog.observers.api import DEFAULT_OBSERVER_TIMEOUT, BaseObserver as _BaseObserver
    from watchdog.observers.inotify import (
        InotifyEmitter as _InotifyEmitter,
        InotifyObserver as _InotifyObserver,
        InotifyWatchGroup as _InotifyWatchGroup,
    )
    from watchdog.observers.inotify_c import InotifyFD as _InotifyFD
except (ImportError, OSError):  # not Linux, or a watchdog without these classes: the plain Observer
    _InotifyWatchGroup = None
else:
    # watchdog 7.1.1 replaced the watch group's path tables with a tree; our pruning group
    # writes those tables, so on any other layout it would watch nothing. Fall back to the
    # plain Observer (every folder watched) rather than miss changes.
    if "_active_callbacks_by_path" not in {f.name for f in dataclasses.fields(_InotifyWatchGroup)}:
        _InotifyWatchGroup = None

if _InotifyWatchGroup is not None:
    # A folder moved out and back in keeps its inotify watch (watches follow the inode), and
    # watchdog warns when it re-adds that watch; the watch is right, the warning only noise.
    warnings.filterwarnings("ignore", "Callback with id .* already exists", RuntimeWarning, "notewell.indexer.watcher")

    @dataclass
    class _PrunedGroup(_InotifyWatchGroup):
        """watchdog's inotify watch group, minus watches on folders a scan never enters,
        and telling us when the kernel dropped events or refused a watch (#6)."""

        on_limit: Callable[[OSError], None] | None = None
        on_overflow: Callable[[], None] | None = None

        def _add_all_callbacks(self, path: bytes) -> None:
            if path != self.path and _skipped_below(self.path, path):
                return
            self._add_callback(path)
            if not (self.is_recursive and os.path.isdir(path)):
                return
            for root, dirnames, _ in os.walk(path):
                dirnames[:] = [
                    d for d in dirnames if not _skipped_dir(d) and not os.path.islink(os.path.join(root, d))
                ]
                for dirname in dirnames:
                    self._add_callback(os.path.join(root, dirname))

        def _add_callback(self, path: bytes) -> None:
            try:
                wd = self._inotify_fd.add_callback(path, self.event_mask, self._callback, self._id)
            except OSError as exc:
                if path == self.path:
                    raise
                # Trigger: a folder below the root cannot be watched. Why: it vanished, or the
                # watch limit is reached. Outcome: the latter is reported; periodic reconciles cover it.
                if exc.errno in (errno.ENOSPC, errno.EMFILE) and self.on_limit is not None:
                    self.on_limit(exc)
                return
            self._active_callbacks_by_path[path] = wd
            self._active_callbacks_by_watch[wd] = path

        def on_queue_overflow(self) -> None:
            super().on_queue_overflow()
            if self.on_overflow is not None:
                self.on_overflow()

    class _PrunedEmitter(_InotifyEmitter):
        def __init__(
            self, *args: object, on_limit: Callable[[str, OSError], None],
            on_overflow: Callable[[str], None], **kwargs: object,
        ) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            self._on_limit = on_limit
            self._on_overflow = on_overflow

        def on_thread_start(self) -> None:
            root = self.watch.path
            self._inotify = _PrunedGroup(
                self._inotify_fd,
                os.fsencode(root),
                is_recursive=self.watch.is_recursive,
                event_mask=self.get_event_mask_from_filter(),
                follow_symlink=self.watch.follow_symlink,
                on_limit=lambda exc: self._on_limit(root, exc),
                on_overflow=lambda: self._on_overflow(root),
            )

    class _PruningObserver(_InotifyObserver):
        def __init__(self, on_limit: Callable[[str, OSError], None], on_overflow: Callable[[str], None]) -> None:
            self._inotify_fd = _InotifyFD()
            self._inotify_fd.start()
            _BaseObserver.__init__(
                self, _PrunedEmitter, timeout=DEFAULT_OBSERVER_TIMEOUT, inotify_fd=self._inotify_fd,
                on_limit=on_limit, on_overflow=on_overflow,
            )


def _skipped_below(root: bytes, path: bytes) -> bool:
    rel = os.path.relpath(path, root)
    return any(_skipped_dir(part) for part in rel.split(os.sep.encode()))
