"""Live sync with real watchdog on real folders, through the index's one writer
(`IndexWorker`): every kind of change reaches the index, bursts are coalesced,
ignored paths cost nothing, and the index always ends equal to a fresh index of the disk."""

from __future__ import annotations

import errno
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import psutil
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule

from notewell.indexer import watcher as watcher_module
from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from notewell.indexer.sources import SourceOptions, walk_folder, walk_paths
from notewell.indexer.watcher import WatchEvent
from notewell.indexer.worker import IndexWorker, WorkerEvents, WorkerOptions
from tests.helpers import finishes, wait_until, write_notes
from tests.indexer.test_pipeline import assert_consistent, snapshot

NOTES = {
    "cooking/bread.md": "# Bread\n\nFlour, water and salt make a sourdough loaf.\n",
    "travel/japan.md": "# Japan\n\nTake the shinkansen from Tokyo to Kyoto.\n",
    "todo.txt": "Buy stamps.\nCall the plumber about the leaking tap.\n",
}


def assert_settled(index: NotesIndex) -> None:
    """Consistent once the batch in flight (embedding included) has finished."""
    with index.writing():
        assert_consistent(index)


def found(index: NotesIndex, query: str, mode: str = "keyword") -> list[str]:
    """Keyword hits sorted by path; dense hits best first."""
    paths = [r.path for r in index.search(query, k=20, mode=mode)]
    return sorted(paths) if mode == "keyword" else paths


class Recorder(WorkerEvents):
    def __init__(self) -> None:
        self.events: list[WatchEvent] = []

    def index_changed(self, event: WatchEvent) -> None:
        self.events.append(event)


class Live:
    """An index kept live by its writer and watcher, and what they reported."""

    def __init__(self, data: Path, folders: list[Path], embedder: HashEmbedder | None = None,
                 source_options: SourceOptions | None = None, **options: object) -> None:
        self.recorder = Recorder()
        self.events = self.recorder.events
        self.calls: list[int] = []

        def open_index() -> NotesIndex:
            index = NotesIndex.open(data, embedder or HashEmbedder(), source_options=source_options)
            original = index.sync_files

            def counting(folder: Path, paths: list[Path], *args, **kwargs):  # type: ignore[no-untyped-def]
                self.calls.append(len(paths))
                return original(folder, paths, *args, **kwargs)

            index.sync_files = counting  # type: ignore[method-assign]
            return index

        options.setdefault("debounce", 0.1)
        self.worker = IndexWorker(open_index, folders, self.recorder, WorkerOptions(**options))  # type: ignore[arg-type]
        self.worker.start()
        assert self.worker.wait_idle(30)
        assert self.worker.watcher is not None and self.worker.watcher.wait_ready(10)
        assert self.worker.index is not None
        self.index: NotesIndex = self.worker.index

    @property
    def watcher(self):  # type: ignore[no-untyped-def]
        return self.worker.watcher

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def stop(self) -> None:
        self.worker.close()


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return write_notes(tmp_path / "notes", NOTES)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def live(data: Path, notes: Path) -> Iterator[Live]:
    running = Live(data, [notes])
    yield running
    running.stop()


def test_start_syncs_and_watches(live: Live, notes: Path) -> None:
    assert found(live.index, "shinkansen") == ["travel/japan.md"]
    assert "watching" in live.kinds()
    assert "reconciled" not in live.kinds()  # a first index is not "catching up with changes on disk"
    assert live.watcher.live


def test_created_note_is_searchable_both_ways(live: Live, notes: Path) -> None:
    (notes / "ideas.md").write_text("# Ideas\n\nA zeppelin shaped teapot.\n")
    assert wait_until(lambda: found(live.index, "zeppelin") == ["ideas.md"])
    assert wait_until(lambda: found(live.index, "zeppelin teapot", "dense")[:1] == ["ideas.md"])
    # The event is told once the sync that made the note searchable has finished (a moment
    # later on a busy machine: wait for it rather than read it at once).
    assert wait_until(lambda: any(e.kind == "updated" and e.paths == ("ideas.md",) and "1 note updated" in e.message
                                  for e in list(live.events)))


def test_modified_note_replaces_its_old_text(live: Live, notes: Path) -> None:
    (notes / "todo.txt").write_text("Water the ferns.\n")
    assert wait_until(lambda: found(live.index, "ferns") == ["todo.txt"])
    assert found(live.index, "plumber") == []


def test_deleted_note_is_gone_from_both_searches(live: Live, notes: Path) -> None:
    (notes / "todo.txt").unlink()
    assert wait_until(lambda: found(live.index, "plumber") == [])
    assert "todo.txt" not in found(live.index, "plumber", "dense")
    assert_settled(live.index)


def test_renamed_note_is_found_at_its_new_path_only(live: Live, notes: Path) -> None:
    (notes / "travel/japan.md").rename(notes / "travel/nippon.md")
    assert wait_until(lambda: found(live.index, "shinkansen") == ["travel/nippon.md"])
    assert wait_until(lambda: found(live.index, "shinkansen", "dense")[:1] == ["travel/nippon.md"])
    assert_settled(live.index)


@pytest.mark.parametrize("editor", ["vim", "vscode", "obsidian"])
def test_atomic_saves_leave_exactly_the_saved_note(live: Live, notes: Path, editor: str) -> None:
    note = notes / "travel/japan.md"
    new = "# Japan\n\nTake the ferry from Osaka to Beppu.\n"
    if editor == "vim":  # backup by rename, write anew, drop the backup
        note.rename(notes / "travel/japan.md~")
        note.write_text(new)
        (notes / "travel/japan.md~").unlink()
    elif editor == "vscode":  # temp file beside it, renamed over
        tmp = notes / "travel/.japan.md.tmp-123"
        tmp.write_text(new)
        os.replace(tmp, note)
    else:  # a temp file with the note's own extension
        tmp = notes / "travel/japan.md.tmp.md"
        tmp.write_text(new)
        os.replace(tmp, note)
    assert wait_until(lambda: found(live.index, "ferry") == ["travel/japan.md"])
    assert found(live.index, "shinkansen") == []
    assert wait_until(lambda: snapshot(live.index)["files"] == fresh(notes)["files"])


def test_folders_created_moved_in_moved_out_and_deleted(live: Live, notes: Path, tmp_path: Path) -> None:
    (notes / "new/deep").mkdir(parents=True)
    (notes / "new/deep/one.md").write_text("quasar one\n")
    assert wait_until(lambda: found(live.index, "quasar") == ["new/deep/one.md"])

    outside = write_notes(tmp_path / "elsewhere", {"a.md": "nebula a\n", "sub/b.md": "nebula b\n"})
    outside.rename(notes / "moved-in")
    assert wait_until(lambda: found(live.index, "nebula") == ["moved-in/a.md", "moved-in/sub/b.md"])

    (notes / "moved-in").rename(tmp_path / "gone-again")
    assert wait_until(lambda: found(live.index, "nebula") == [])

    shutil.rmtree(notes / "new")
    assert wait_until(lambda: found(live.index, "quasar") == [])
    (notes / "cooking").rename(notes / "baking")
    assert wait_until(lambda: found(live.index, "sourdough") == ["baking/bread.md"])
    assert wait_until(lambda: snapshot(live.index)["chunks"] == fresh(notes)["chunks"])
    assert_settled(live.index)


def test_note_moved_between_two_watched_folders(data: Path, notes: Path, tmp_path: Path) -> None:
    other = write_notes(tmp_path / "other", {"inbox.md": "# Inbox\n\nNothing yet.\n"})
    running = Live(data, [notes, other])
    index = running.index
    try:
        (notes / "travel/japan.md").rename(other / "japan.md")
        assert wait_until(lambda: [(r.folder, r.path) for r in index.search("shinkansen", mode="keyword")]
                          == [(str(other.resolve()), "japan.md")])
        (other / "japan.md").rename(notes / "japan.md")
        assert wait_until(lambda: [(r.folder, r.path) for r in index.search("shinkansen", mode="keyword")]
                          == [(str(notes.resolve()), "japan.md")])
        assert_settled(index)
    finally:
        running.stop()


def test_ignore_rules_and_size_cap_apply_as_in_a_full_scan(data: Path, notes: Path) -> None:
    running = Live(data, [notes], source_options=SourceOptions(max_bytes=2000))
    idx = running.index
    try:
        (notes / ".git").mkdir()
        (notes / ".git/HEAD.md").write_text("walrus hidden\n")
        (notes / "node_modules/pkg").mkdir(parents=True)
        (notes / "node_modules/pkg/README.md").write_text("walrus module\n")
        (notes / "drafts").mkdir()
        (notes / "drafts/wip.md").write_text("walrus draft\n")
        (notes / "big.md").write_text("walrus " * 1000)
        (notes / "image.png").write_bytes(b"walrus")
        (notes / "plain.md").write_text("walrus plain\n")
        assert wait_until(lambda: found(idx, "walrus") == ["drafts/wip.md", "plain.md"])
        assert [p.rel for s in idx.folder_status() for p in s.problems] == ["big.md"]

        (notes / ".notewellignore").write_text("drafts/\n")
        assert wait_until(lambda: found(idx, "walrus") == ["plain.md"])
        (notes / "drafts/more.md").write_text("walrus more\n")
        (notes / ".notewellignore").unlink()
        assert wait_until(lambda: found(idx, "walrus") == ["drafts/more.md", "drafts/wip.md", "plain.md"])
        assert wait_until(lambda: snapshot(idx)["files"] == fresh(notes, max_bytes=2000)["files"])
    finally:
        running.stop()


def test_events_under_ignored_folders_never_reach_the_writer(live: Live, notes: Path) -> None:
    (notes / ".git/objects").mkdir(parents=True)
    (notes / "node_modules/pkg").mkdir(parents=True)
    before = len(live.calls)
    for n in range(100):
        (notes / f".git/objects/{n}.md").write_text("x")
        (notes / f"node_modules/pkg/{n}.md").write_text("x")
        (notes / f"cooking/scratch{n}.tmp").write_text("x")
    (notes / "marker.md").write_text("marker\n")
    assert wait_until(lambda: found(live.index, "marker") == ["marker.md"])
    assert live.calls[before:] == [1]  # one batch, one path: the marker


def test_ignored_folders_get_no_inotify_watch(data: Path, notes: Path) -> None:
    for n in range(30):
        (notes / f"node_modules/pkg{n}/lib").mkdir(parents=True)
        (notes / f".obsidian/plugins/p{n}").mkdir(parents=True)
    running = Live(data, [notes])
    try:
        watched = _inotify_watch_count()
        assert watched is not None and watched <= 4  # notes, cooking, travel (no node_modules, no .obsidian)
    finally:
        running.stop()


def _inotify_watch_count() -> int | None:
    counts = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") != "anon_inode:inotify":
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                counts.append(sum(line.startswith("inotify wd:") for line in info))
        except OSError:
            continue
    return max(counts) if counts else None


def test_a_1000_file_burst_is_coalesced_and_fully_reflected(live: Live, notes: Path) -> None:
    burst = notes / "burst"
    burst.mkdir()
    for n in range(1000):
        (burst / f"n{n:04}.md").write_text(f"# Note {n}\n\nBurst item token{n} about gannets.\n")
    assert wait_until(
        lambda: live.index.catalog.counts()["files"] == 1003 and live.index.catalog.count_pending() == 0,
        timeout=60,
    )
    assert found(live.index, "token999") == ["burst/n0999.md"]
    assert len(live.calls) <= 10, live.calls  # a handful of batches, not 1,000 syncs
    assert_settled(live.index)


def test_changes_made_while_stopped_are_caught_at_start(data: Path, notes: Path) -> None:
    Live(data, [notes]).stop()
    (notes / "todo.txt").unlink()
    (notes / "offline.md").write_text("written while Notewell was closed: ocelot\n")
    second = Live(data, [notes])
    try:
        assert found(second.index, "ocelot") == ["offline.md"]
        assert found(second.index, "plumber") == []
    finally:
        second.stop()


def test_watch_limit_is_explained_and_periodic_reconcile_takes_over(
    data: Path, notes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = watcher_module._make_observer

    def limited(*args):  # type: ignore[no-untyped-def]
        observer = real(*args)

        def schedule(*_args, **_kwargs):  # type: ignore[no-untyped-def]
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

        observer.schedule = schedule
        return observer

    monkeypatch.setattr(watcher_module, "_make_observer", limited)
    running = Live(data, [notes], fallback_every=0.5)
    index = running.index
    try:
        assert wait_until(lambda: any(e.kind == "limit" for e in running.events))
        limit = [e for e in running.events if e.kind == "limit"]
        assert limit and "fs.inotify.max_user_watches" in limit[0].message
        assert "sudo sysctl" in limit[0].message
        assert not running.watcher.live
        (notes / "late.md").write_text("found by the periodic reconcile: axolotl\n")
        assert wait_until(lambda: found(index, "axolotl") == ["late.md"], timeout=15)
        assert running.calls == []  # no events: the writer's catch-up did it
    finally:
        running.stop()


def test_kernel_queue_overflow_rescans_the_folder(live: Live, notes: Path) -> None:
    folder_id = live.index.catalog.folder_id(str(notes.resolve()))
    assert folder_id is not None
    lost = live.index.catalog.files_in(folder_id)["todo.txt"]
    live.index.catalog.remove_files([lost.id])  # as if its event had been dropped
    assert found(live.index, "plumber") == []
    observer = live.watcher._observer
    assert observer is not None
    for emitter in observer.emitters:
        emitter._inotify.on_queue_overflow()  # what watchdog calls on IN_Q_OVERFLOW
    assert wait_until(lambda: found(live.index, "plumber") == ["todo.txt"])


def test_folder_deleted_then_back_keeps_notes_and_resumes_watching(live: Live, notes: Path, tmp_path: Path) -> None:
    notes.rename(tmp_path / "unplugged")
    shutil.rmtree(tmp_path / "unplugged")
    assert wait_until(lambda: "missing" in live.kinds())
    assert found(live.index, "shinkansen") == ["travel/japan.md"]  # kept, as a full sync would
    write_notes(notes, {"back.md": "plugged in again: pangolin\n"})
    live.worker.sync_all()
    assert wait_until(lambda: found(live.index, "pangolin") == ["back.md"])
    assert found(live.index, "shinkansen") == []
    (notes / "after.md").write_text("watched again: tapir\n")
    assert wait_until(lambda: found(live.index, "tapir") == ["after.md"])


def test_set_folders_adds_and_removes_folders(live: Live, notes: Path, tmp_path: Path) -> None:
    other = write_notes(tmp_path / "other", {"heron.md": "A grey heron.\n"})
    live.worker.set_folders([notes, other])
    assert wait_until(lambda: found(live.index, "heron") == ["heron.md"])
    (other / "egret.md").write_text("A white egret.\n")
    assert wait_until(lambda: found(live.index, "egret") == ["egret.md"])
    live.worker.set_folders([other])
    assert wait_until(lambda: found(live.index, "shinkansen") == [])
    (notes / "unwatched.md").write_text("kestrel\n")
    time.sleep(0.4)
    assert found(live.index, "kestrel") == []


def test_close_mid_burst_stops_after_the_batch_in_hand(data: Path, notes: Path) -> None:
    class Slow(HashEmbedder):
        def embed_documents(self, texts):  # type: ignore[no-untyped-def]
            time.sleep(0.05)
            return super().embed_documents(texts)

    slow = Slow()
    running = Live(data, [notes], embedder=slow)
    for n in range(300):
        (notes / f"b{n}.md").write_text(f"# Burst {n}\n\nslow burst {n}\n")
    assert wait_until(lambda: slow.calls > 1, timeout=30)
    assert finishes(running.stop)
    calls = slow.calls
    time.sleep(0.3)
    assert slow.calls == calls  # nothing ran after the close returned
    reopened = NotesIndex.open(data, HashEmbedder())
    try:
        assert reopened.catalog.count_pending() > 0  # the rest waits for the next start
    finally:
        reopened.close()


def live_threads(running: Live) -> list[threading.Thread]:
    """The threads that keep the index live: its writer, the watcher, and watchdog's observer,
    emitters and inotify reader."""
    watcher = running.watcher
    observer = watcher._observer
    threads = [running.worker._thread, watcher._thread, observer, *observer.emitters]
    reader = getattr(observer, "_inotify_fd", None)
    if isinstance(reader, threading.Thread):
        threads.append(reader)
    return threads


def thread_cpu(process: psutil.Process, ids: set[int]) -> dict[int, float]:
    """CPU seconds so far of each of these threads (by native id) that is still running."""
    return {t.id: t.user_time + t.system_time for t in process.threads() if t.id in ids}


@pytest.mark.skipif(sys.platform == "darwin", reason="psutil's thread ids on macOS are not native ids")
def test_idle_watcher_uses_no_cpu(data: Path, notes: Path) -> None:
    """An idle watcher of the user's folders uses no CPU: over 2 s, the threads that started
    with it (the index's writer, the watcher, watchdog's threads, the store's threads the
    writer opened) use under 0.05 s together. Only those threads are counted: work left in
    the test process by other tests, or a busy machine, neither fails it nor hides a watcher
    that polls in a loop."""
    process = psutil.Process()
    before = {t.id for t in process.threads()}
    running = Live(data, [notes])
    try:
        started = {t.id for t in process.threads()} - before
        known = live_threads(running)
        assert all(t.is_alive() for t in known)
        assert {t.native_id for t in known} <= started  # (the watcher's own threads are measured)
        names = {t.native_id: t.name for t in threading.enumerate()}
        first = thread_cpu(process, started)
        time.sleep(2.0)
        last = thread_cpu(process, started)
        assert all(t.is_alive() for t in known)
        used = {tid: last[tid] - first[tid] for tid in first.keys() & last.keys()}
        busy = {names.get(tid, f"native thread {tid}"): round(s, 3) for tid, s in used.items() if s}
        assert sum(used.values()) < 0.05, f"CPU seconds over 2 s idle, by thread: {busy}"
    finally:
        running.stop()


def fresh(notes: Path, **options: object) -> dict:
    with tempfile.TemporaryDirectory() as data:
        idx = NotesIndex.open(Path(data), HashEmbedder(), source_options=SourceOptions(**options))  # type: ignore[arg-type]
        try:
            idx.sync([notes])
            return snapshot(idx)
        finally:
            idx.close()


@pytest.mark.parametrize(
    "rels",
    [[""], ["a"], ["a/b/two.md", "a"], ["drafts/d.md"], ["c"], ["c/x.tmp.md", "c/keep.md", "missing/x.md"],
     [".git/h.md", "node_modules/m.md", "a/b"]],
)
def test_walk_paths_yields_what_the_full_walk_yields_there(tmp_path: Path, rels: list[str]) -> None:
    root = write_notes(tmp_path / "n", {
        "a/one.md": "x", "a/b/two.md": "y", ".git/h.md": "z", "node_modules/m.md": "q", "drafts/d.md": "d",
        "c/x.tmp.md": "t", "c/keep.md": "k", ".notewellignore": "drafts/\n*.tmp.md\n",
    })
    (root / "c/link").symlink_to("/etc")
    full = list(walk_folder(root))
    under = [e for e in full if any(r == "" or e.rel == r or e.rel.startswith(r + "/") for r in rels)]
    assert sorted(walk_paths(root, rels), key=lambda e: e.rel) == sorted(under, key=lambda e: e.rel)


# -- a randomized sequence of file operations always ends equal to a fresh index --------------
ROOTS = ("notes", "other", "outside")  # two watched folders and one that is not
DIRS = ("", "a", "a/b", "c", ".hidden", "node_modules")
NAMES = ("x.md", "y.md", "z.txt", "w.png", ".x.md.swp")
WORDS = ("apple", "river", "stone", "cloud", "ember", "maple")
IGNORES = ("", "b/\n", "y.md\n", "*.txt\n!z.txt\n")

places = st.tuples(st.sampled_from(ROOTS), st.sampled_from(DIRS))
files = st.tuples(st.sampled_from(ROOTS), st.sampled_from(DIRS), st.sampled_from(NAMES))
texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)


class LiveSyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="notewell-live-"))
        for root in ROOTS:
            (self.tmp / root).mkdir()
        self.watched = [self.tmp / "notes", self.tmp / "other"]
        self.live = Live(self.tmp / "data", self.watched, debounce=0.05)
        self.index = self.live.index

    def _file(self, where: tuple[str, str, str]) -> Path:
        root, folder, name = where
        return self.tmp / root / folder / name

    def _dir(self, where: tuple[str, str]) -> Path:
        root, folder = where
        return self.tmp / root / folder

    @rule(where=files, text=texts)
    def write(self, where: tuple[str, str, str], text: str) -> None:
        path = self._file(where)
        if not path.parent.is_dir() and path.parent.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            path.write_text(f"# Note\n\n{text}\n")

    @rule(where=files, text=texts)
    def atomic_save(self, where: tuple[str, str, str], text: str) -> None:
        path = self._file(where)
        if path.parent.is_dir() and not path.is_dir():
            tmp = path.parent / f".{path.name}.tmp"
            tmp.write_text(f"# Saved\n\n{text}\n")
            os.replace(tmp, path)

    @rule(where=files)
    def delete(self, where: tuple[str, str, str]) -> None:
        path = self._file(where)
        if path.is_file():
            path.unlink()

    @rule(src=files, dst=files)
    def move_file(self, src: tuple[str, str, str], dst: tuple[str, str, str]) -> None:
        source, target = self._file(src), self._file(dst)
        if source.is_file() and target.parent.is_dir() and not target.is_dir():
            os.replace(source, target)

    @rule(src=places, dst=places)
    def move_folder(self, src: tuple[str, str], dst: tuple[str, str]) -> None:
        source, target = self._dir(src), self._dir(dst)
        if not src[1] or not source.is_dir() or target.exists() or not target.parent.is_dir():
            return
        if target == source or source in target.parents:
            return
        source.rename(target)

    @rule(where=places)
    def delete_folder(self, where: tuple[str, str]) -> None:
        if where[1] and self._dir(where).is_dir():
            shutil.rmtree(self._dir(where))

    @rule(where=places, patterns=st.sampled_from(IGNORES))
    def ignore_file(self, where: tuple[str, str], patterns: str) -> None:
        folder = self._dir(where)
        if not folder.is_dir():
            return
        if patterns:
            (folder / ".notewellignore").write_text(patterns)
        else:
            (folder / ".notewellignore").unlink(missing_ok=True)

    def teardown(self) -> None:
        try:
            want = _fresh_state(self.watched)
            if not wait_until(lambda: _state(self.index) == want, timeout=10):
                assert _state(self.index) == want
            assert_consistent(self.index)
        finally:
            self.live.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)


def _state(index: NotesIndex) -> tuple:
    snap = snapshot(index)
    return snap["files"], snap["chunks"]


def _fresh_state(folders: list[Path]) -> tuple:
    with tempfile.TemporaryDirectory() as data:
        idx = NotesIndex.open(Path(data), HashEmbedder())
        try:
            idx.sync(folders)
            return _state(idx)
        finally:
            idx.close()


LiveSyncMachine.TestCase.settings = settings(
    max_examples=15, stateful_step_count=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLiveSyncEndsEqualToAFreshIndex = LiveSyncMachine.TestCase
