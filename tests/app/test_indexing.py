"""The indexing controller without Qt: a recording `events` object, a real index."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from notewell.app.indexing import IndexingController, IndexNotReady, embedding_message
from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from notewell.indexer.types import Progress
from tests.helpers import write_notes


class Recorder:
    def __init__(self) -> None:
        self.states: list[str] = []
        self.folders: list[list] = []
        self.missing: list[str] = []
        self.phases: list[str] = []
        self.changed = threading.Event()

    def index_progress(self, progress) -> None:
        self.phases.append(progress.phase)

    def index_folders(self, statuses) -> None:
        self.folders.append(statuses)

    def index_state(self, state, message) -> None:
        self.states.append(state)
        self.changed.set()

    def index_ready(self, index) -> None:
        pass

    def folder_missing(self, folder) -> None:
        self.missing.append(folder)

    def index_changed(self, event) -> None:
        pass


def files(statuses, folder: Path) -> int:
    return next((s.files for s in statuses if s.folder == str(folder)), -1)


def wait_for(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_sync_pause_resume_and_missing_folders(tmp_path: Path):
    notes = write_notes(tmp_path / "notes", {"a.md": "# A\n\nalpha\n", "b.md": "# B\n\nbeta\n"})
    folders = [notes]
    events = Recorder()
    controller = IndexingController(lambda: NotesIndex.open(tmp_path / "data", HashEmbedder()), folders, events)
    try:
        controller.start()
        wait_for(lambda: events.states[-1:] == ["idle"])
        assert events.states[0] == "opening" and "scanning" in events.states
        assert events.folders[-1][0].files == 2 and events.phases[-1] == "done"
        assert [r.title for r in controller.search("alpha", k=1)] == ["A"]

        controller.pause()
        assert controller.paused and events.states[-1] == "paused"
        write_notes(notes, {"c.md": "# C\n\ngamma\n"})
        controller.set_folders([*folders, tmp_path / "gone"])
        time.sleep(0.2)
        assert events.states[-1] == "paused"  # nothing runs while paused
        controller.resume()
        wait_for(lambda: events.states[-1:] == ["idle"] and files(events.folders[-1], notes) == 3)
        assert events.missing == [str(tmp_path / "gone")]
    finally:
        controller.close()


def test_search_before_open_is_a_clear_error(tmp_path: Path):
    controller = IndexingController(lambda: None, [], Recorder())  # type: ignore[arg-type]
    try:
        controller.search("x")
    except IndexNotReady as exc:
        assert "still opening" in str(exc)
    else:
        raise AssertionError("expected IndexNotReady")


class FirstRunEmbedder(HashEmbedder):
    """Reports the one-time model preparation until its first batch, as the real model does."""

    preparing = True

    def embed_documents(self, texts):
        self.preparing = False
        return super().embed_documents(texts)


def test_first_run_says_the_model_is_being_prepared_then_that_it_embeds(tmp_path: Path):
    notes = write_notes(tmp_path / "notes", {"a.md": "# A\n\nalpha\n"})
    messages: list[str] = []
    events = Recorder()
    events.index_state = lambda state, message: (events.states.append(state), messages.append(message))
    controller = IndexingController(
        lambda: NotesIndex.open(tmp_path / "data", FirstRunEmbedder()), [notes], events
    )
    try:
        controller.start()
        wait_for(lambda: events.states[-1:] == ["idle"])
        embedding = [m for s, m in zip(events.states, messages) if s == "embedding"]
        assert embedding[0].startswith("Preparing the embedding model") and "keyword search works" in embedding[0]
        assert embedding[-1] == "Embedding passages…"
    finally:
        controller.close()


@pytest.mark.parametrize(
    ("done", "total", "elapsed", "expected"),
    [
        (40, 1000, 2.0, "Embedding passages…"),  # too early to tell the pace
        (100, 1000, 10.0, "Embedding passages… about 2 min left"),  # 10/s, 900 to go
        (500, 520, 50.0, "Embedding passages… less than a minute left"),
        (1000, 60000, 100.0, "Embedding passages… about 1.6 h left"),
    ],
)
def test_embedding_tells_the_time_left_once_the_pace_is_known(done, total, elapsed, expected):
    assert embedding_message(Progress("embedding", None, done, total), (1000.0, 0), 1000.0 + elapsed) == expected
