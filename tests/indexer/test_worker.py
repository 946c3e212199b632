"""The index's one writer (#14): jobs from one queue, cancels that land where meant,
pause that holds everything, the newest notes embedded first, and a saved note that
does not wait behind a long first index."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Iterator, Sequence

import pytest

from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from notewell.indexer.worker import IndexWorker, Job, WorkerOptions
from tests.helpers import wait_until, write_notes


class Recording(HashEmbedder):
    """Remembers the order it embedded texts in; `delay` per model batch."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.texts: list[str] = []
        self.lock = threading.Lock()

    def embed_documents(self, texts: Sequence[str]):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        with self.lock:
            self.texts.extend(texts)
        return super().embed_documents(texts)


def _dated_notes(folder: Path, count: int) -> Path:
    """`count` notes, note n modified n minutes after note 0."""
    write_notes(folder, {f"note{n:03}.md": f"# Note {n}\n\nText of note number {n}.\n" for n in range(count)})
    base = time.time() - 10 * 24 * 3600
    for n in range(count):
        os.utime(folder / f"note{n:03}.md", (base + 60 * n, base + 60 * n))
    return folder


@pytest.fixture
def worker_for(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    made: list[IndexWorker] = []

    def make(folders: list[Path], embedder: HashEmbedder, **options: object) -> IndexWorker:
        worker = IndexWorker(lambda: NotesIndex.open(tmp_path / "data", embedder), folders,
                             options=WorkerOptions(**options))  # type: ignore[arg-type]
        worker.start()
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.close()


def test_the_most_recently_modified_notes_are_embedded_first(tmp_path: Path) -> None:
    notes = _dated_notes(tmp_path / "notes", 40)
    embedder = Recording()
    index = NotesIndex.open(tmp_path / "data", embedder)
    try:
        index.sync([notes])
    finally:
        index.close()
    order = [int(text.split("Note ")[1].split()[0]) for text in embedder.texts]
    assert order == sorted(order, reverse=True)


def test_a_saved_note_does_not_wait_behind_a_long_first_index(tmp_path: Path, worker_for) -> None:  # type: ignore[no-untyped-def]
    notes = _dated_notes(tmp_path / "notes", 400)
    embedder = Recording(delay=0.25)  # 400 passages in 7 batches of 64: ~2 s of work
    worker = worker_for([notes], embedder, debounce=0.05)
    assert wait_until(lambda: worker.state == "embedding" and embedder.texts, 30)
    (notes / "fresh.md").write_text("# Fresh\n\nA kingfisher by the weir.\n")
    assert wait_until(lambda: any("kingfisher" in text for text in embedder.texts), 30)
    index = worker.index
    assert index is not None
    assert index.catalog.count_pending() > 0  # found by meaning while the first index goes on
    assert worker.wait_idle(60)
    assert index.catalog.count_pending() == 0
    assert sum("kingfisher" in text for text in embedder.texts) == 1


def test_a_cancel_lands_on_its_own_job_and_is_never_lost(tmp_path: Path, worker_for) -> None:  # type: ignore[no-untyped-def]
    notes = _dated_notes(tmp_path / "notes", 300)
    embedder = Recording(delay=0.3)
    worker = worker_for([notes], embedder)
    assert wait_until(lambda: worker.state == "embedding", 30)
    waiting = worker.repair()  # queued behind the running sync
    waiting.cancel.set()  # cancelled before it starts: it never runs
    worker.cancel()  # the running sync stops at its next batch
    assert waiting.wait(30) and waiting.summary is None
    index = worker.index
    assert index is not None and index.catalog.count_pending() > 0
    after = worker.sync_all()  # the next job is not hit by the earlier cancel
    assert after.wait(60) and not after.cancel.is_set()
    assert index.catalog.count_pending() == 0


def test_pause_holds_the_queue_and_the_watcher_and_resume_catches_up(tmp_path: Path, worker_for) -> None:  # type: ignore[no-untyped-def]
    notes = write_notes(tmp_path / "notes", {"a.md": "# A\n\nalpha\n"})
    worker = worker_for([notes], HashEmbedder(), debounce=0.05)
    assert worker.wait_idle(30)
    index = worker.index
    assert index is not None
    worker.pause()
    assert worker.state == "paused"
    (notes / "b.md").write_text("# B\n\nbeta written while paused\n")
    time.sleep(0.6)  # the watcher saw it; the job waits in the queue
    assert index.search("beta", mode="keyword") == []
    worker.resume()
    assert wait_until(lambda: [r.path for r in index.search("beta", mode="keyword")] == ["b.md"])


def test_removing_a_folder_while_it_is_indexed_takes_its_notes_out_and_keeps_the_other(
    tmp_path: Path, worker_for  # type: ignore[no-untyped-def]
) -> None:
    first = _dated_notes(tmp_path / "first", 200)
    second = write_notes(tmp_path / "second", {"s.md": "# Second\n\nA heron.\n"})
    embedder = Recording(delay=0.03)
    worker = worker_for([first], embedder)
    assert wait_until(lambda: worker.state == "embedding", 30)
    job: Job = worker.set_folders([second])
    assert job.wait(60) and worker.wait_idle(60)
    index = worker.index
    assert index is not None
    assert [row[0] for row in index.catalog.folder_counts()] == [str(second.resolve())]
    assert index.catalog.count_pending() == 0 and index.vectors.count() == index.catalog.count_embedded()


# -- findings of the #14 review, replayed -----------------------------------------------------

def _two_folders(tmp_path: Path) -> tuple[Path, Path]:
    a = write_notes(tmp_path / "a", {f"a{n}.md": f"# A {n}\n\nalpha zebra {n}\n" for n in range(10)})
    b = write_notes(tmp_path / "b", {f"b{n}.md": f"# B {n}\n\nbeta zebrabeta {n}\n" for n in range(10)})
    return a, b


def test_a_folder_removed_while_paused_stops_being_searchable_at_once(tmp_path: Path, worker_for) -> None:  # type: ignore[no-untyped-def]
    a, b = _two_folders(tmp_path)
    worker = worker_for([a, b], HashEmbedder())
    assert worker.wait_idle(30)
    index = worker.index
    worker.pause()
    worker.set_folders([a])
    assert wait_until(lambda: index.search("zebrabeta", mode="keyword") == [])
    assert worker.paused and wait_until(lambda: worker.state == "paused")


def test_a_folder_removed_before_a_quit_is_gone_at_the_next_start(tmp_path: Path, worker_for) -> None:  # type: ignore[no-untyped-def]
    a, b = _two_folders(tmp_path)
    index = NotesIndex.open(tmp_path / "data", HashEmbedder())
    index.sync([a, b])  # as if B's removal never ran before Notewell closed
    index.close()
    worker = worker_for([a], HashEmbedder())
    assert worker.wait_idle(30)
    assert list(worker.index.catalog.folders()) == [str(a.resolve())]
    assert worker.index.search("zebrabeta", mode="keyword") == []


def test_a_folder_removed_and_added_back_before_the_removal_runs_is_not_embedded_again(
    tmp_path: Path, worker_for  # type: ignore[no-untyped-def]
) -> None:
    a, b = _two_folders(tmp_path)
    embedder = HashEmbedder()
    worker = worker_for([a, b], embedder)
    assert worker.wait_idle(30)
    embedded = embedder.embedded
    worker.pause()
    with worker._cond:  # hold the worker so both changes land before either runs
        worker.set_folders([a])
        worker.set_folders([a, b])
    worker.resume()
    assert worker.wait_idle(30)
    assert embedder.embedded == embedded
    assert len(worker.index.search("zebrabeta", k=20, mode="keyword")) == 10


def test_pausing_during_a_watcher_batch_is_a_pause_not_an_error(tmp_path: Path, worker_for) -> None:  # type: ignore[no-untyped-def]
    a, b = _two_folders(tmp_path)
    embedder = Recording(delay=0.2)
    worker = worker_for([a, b], embedder, debounce=0.05)
    assert worker.wait_idle(30)
    write_notes(a, {f"new{n}.md": f"# New {n}\n\nfresh words {n}\n" for n in range(150)})
    assert wait_until(lambda: worker.state == "embedding", 30)
    worker.pause()
    write_notes(b, {"late.md": "# Late\n\nwritten while paused\n"})
    time.sleep(0.5)
    assert worker.state == "paused"
    worker.resume()
    assert worker.wait_idle(60) and wait_until(lambda: worker.state == "idle")
    assert [r.path for r in worker.index.search("written while paused", mode="keyword")] == ["late.md"]


def test_a_catch_up_interval_of_zero_does_not_spin(tmp_path: Path, worker_for) -> None:  # type: ignore[no-untyped-def]
    a, _ = _two_folders(tmp_path)
    worker = worker_for([a], HashEmbedder(), catch_up_every=0.0)
    assert worker.wait_idle(30)
    before = time.process_time()
    time.sleep(1.0)
    assert time.process_time() - before < 0.5  # a few catch-ups, not a busy loop
