"""A person living with the app (#14): folders added and removed mid-index, restarts
(clean and kill -9) mid-way, notes edited, renamed, moved and deleted, and the catch-up
timer running often. Through the real runtime (one writer, watcher, API server).

What must hold: no passage is embedded twice unless its text changed (every model call
is logged, across processes), and the index ends equal to a fresh index of the final
folders, with per-folder counts that match the catalog.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

import pytest

import notewell.indexer.pipeline as pipeline
from notewell.app.preferences import Preferences
from notewell.app.runtime import Runtime, RuntimeOptions
from notewell.app.settings import Settings
from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from tests.helpers import wait_until, write_notes
from tests.indexer.test_pipeline import snapshot

SMALL_WINDOW = 16  # passages written to the vector store at once (a kill -9 loses at most this many)


class LoggingEmbedder(HashEmbedder):
    """Appends a hash of every text it embeds to a file shared by every process; slow
    enough that folder changes and restarts land mid-index."""

    def __init__(self, log: Path, delay: float = 0.05) -> None:
        super().__init__()
        self.log = log
        self.delay = delay

    def embed_documents(self, texts: Sequence[str]):  # type: ignore[no-untyped-def]
        with open(self.log, "a", encoding="utf-8") as handle:
            handle.writelines(_digest(text) + "\n" for text in texts)
        time.sleep(self.delay)
        return super().embed_documents(texts)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


class Silent:
    """The runtime's events, unheard (the GUI's bridge or serve's console hear them in the app)."""

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return lambda *args, **kwargs: None


def _folder(root: Path, name: str, count: int) -> Path:
    return write_notes(root / name, {
        f"{name}-{n:03}.md": f"# {name} note {n}\n\nAbout {name} item {n}.\n\n## Detail\n\n"
        f"The {name} detail number {n} is here.\n" for n in range(count)
    })


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "EMBED_BATCH", 8)
    monkeypatch.setattr(pipeline, "STORE_BATCH", SMALL_WINDOW)


def _runtime(data: Path, embedder: HashEmbedder) -> Runtime:
    prefs = Preferences(Settings.load(data), data)
    options = RuntimeOptions(port=0, share=False, embedder=embedder)
    return Runtime(prefs, options, Silent())  # type: ignore[arg-type]


def _set_folders(runtime: Runtime, folders: list[Path]) -> None:
    runtime.prefs.update({"folders": [str(f.resolve()) for f in folders]})
    runtime.settings_changed(frozenset({"folders"}))


def _embedding(runtime: Runtime) -> bool:
    index = runtime.indexing.index
    return index is not None and runtime.indexing.state == "embedding" and index.catalog.count_embedded() > 0


def _idle(runtime: Runtime, timeout: float = 90) -> bool:
    return runtime.indexing.worker.wait_idle(timeout) and wait_until(lambda: runtime.indexing.state == "idle")


# A worker in its own process over the same data folder, killed mid-index.
KILLED = """
import sys, time
from pathlib import Path
import notewell.indexer.pipeline as pipeline
from notewell.indexer.notes_index import NotesIndex
from notewell.indexer.worker import IndexWorker
from tests.app.test_lived_in import LoggingEmbedder, SMALL_WINDOW

pipeline.EMBED_BATCH, pipeline.STORE_BATCH = 8, SMALL_WINDOW
data, log = Path(sys.argv[1]), Path(sys.argv[2])
worker = IndexWorker(lambda: NotesIndex.open(data, LoggingEmbedder(log)), [Path(f) for f in sys.argv[3:]])
worker.start()
print("started", flush=True)
time.sleep(600)
"""


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_a_lived_in_index_embeds_each_passage_once_and_equals_a_fresh_index(
    root: Path, small_windows: None
) -> None:
    data, log = root / "data", root / "embedded.log"
    a, b, c = _folder(root, "alpha", 60), _folder(root, "beta", 30), _folder(root, "gamma", 150)
    settings = Settings(folders=[str(a.resolve())], catch_up_minutes=0.01)  # a catch-up every 0.6 s
    settings.save(data)

    # Add folder B while A is being embedded, then remove A while B is.
    runtime = _runtime(data, LoggingEmbedder(log))
    runtime.start()
    try:
        assert wait_until(lambda: _embedding(runtime), 60)
        _set_folders(runtime, [a, b])
        catalog = runtime.indexing.index.catalog
        assert wait_until(lambda: any(row[0] == str(b.resolve()) and row[1] == 30 for row in catalog.folder_counts()), 60)
        _set_folders(runtime, [b])
        assert _idle(runtime)
        index = runtime.indexing.index
        assert [row[0] for row in index.catalog.folder_counts()] == [str(b.resolve())]

        # A clean restart while C is half embedded.
        _set_folders(runtime, [b, c])
        assert wait_until(lambda: _embedding(runtime) and 80 <= index.catalog.count_pending() <= 240, 60)
    finally:
        runtime.close()

    # A kill -9 while C goes on being embedded, in a process of its own.
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(data), str(log), str(b), str(c)],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
        before = _log_lines(log)
        assert wait_until(lambda: _log_lines(log) >= before + 24, 60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    # Back again: edit, rename, move between folders, delete, while the catch-up runs often.
    runtime = _runtime(data, LoggingEmbedder(log, delay=0.0))
    runtime.start()
    try:
        assert _idle(runtime)
        (b / "beta-001.md").write_text("# beta note 1\n\nRewritten entirely: a heron by the lake.\n")
        (b / "beta-002.md").rename(b / "renamed.md")
        (c / "gamma-003.md").rename(b / "moved-from-gamma.md")
        (c / "gamma-004.md").unlink()
        index = runtime.indexing.index
        assert wait_until(lambda: [r.path for r in index.search("heron lake", k=1, mode="keyword")]
                          == ["beta-001.md"])
        assert wait_until(lambda: index.catalog.counts()["files"] == 179 and index.catalog.count_pending() == 0)
        time.sleep(1.5)  # two more catch-ups with the disk: they must change nothing
        assert _idle(runtime)
        statuses = {s.folder: (s.files, s.chunks) for s in index.folder_status()}
        assert statuses == {row[0]: (row[1], row[2]) for row in index.catalog.folder_counts()}
        assert statuses == {str(b.resolve()): (31, statuses[str(b.resolve())][1]),
                            str(c.resolve()): (148, statuses[str(c.resolve())][1])}
        got = snapshot(index)
    finally:
        runtime.close()

    fresh = NotesIndex.open(root / "fresh", HashEmbedder())
    try:
        fresh.sync([b, c])
        want = snapshot(fresh)
    finally:
        fresh.close()
    assert _without_folder_ids(got) == _without_folder_ids(want)

    # Each passage was embedded once; the kill -9 may cost the one window it cut short,
    # and the rewritten note its new passages (new texts, not repeats).
    repeats = sum(n - 1 for n in Counter(log.read_text().split()).values() if n > 1)
    assert repeats <= SMALL_WINDOW, f"{repeats} passages were embedded more than once"


def _log_lines(log: Path) -> int:
    try:
        return len(log.read_text().split())
    except FileNotFoundError:
        return 0


def _without_folder_ids(snap: dict) -> dict:
    return {key: value for key, value in snap.items() if key != "tombstones"}
