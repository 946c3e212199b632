"""A search never waits for the model's one-time preparation (#14): an empty index answers
at once, and a hybrid query that comes before the model is ready answers from keywords
while the preparation goes on in the background. With the real model."""

from __future__ import annotations

import threading
from pathlib import Path

from notewell.indexer.embedding import SentenceTransformerEmbedder
from notewell.indexer.notes_index import NotesIndex
from tests.helpers import wait_until, write_notes


def test_an_empty_index_answers_at_once_without_preparing_the_model(tmp_path: Path) -> None:
    embedder = SentenceTransformerEmbedder(cache_dir=tmp_path / "onnx")  # nothing exported yet
    index = NotesIndex.open(tmp_path / "data", embedder)
    try:
        assert index.search("anything at all") == []
        assert index.search("anything at all", mode="dense") == []
        assert not embedder.preparing and not embedder.loaded  # nothing was started for it
    finally:
        index.close()


def test_a_hybrid_search_before_the_model_is_ready_answers_from_keywords(real_embedder, tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes", {
        "kayak.md": "# Kayak\n\nPaddle the fjord at dawn, before the wind rises.\n",
        "bread.md": "# Bread\n\nFeed the starter, then mix flour and water.\n",
    })
    built = NotesIndex.open(tmp_path / "data", real_embedder)
    built.sync([notes])  # vectors exist, made by the same model
    built.close()

    fresh = SentenceTransformerEmbedder(cache_dir=tmp_path / "empty-onnx")  # must export before a query
    index = NotesIndex.open(tmp_path / "data", fresh)
    try:
        results = index.search("fjord paddling", k=1)
        assert [r.path for r in results] == ["kayak.md"]
        assert fresh.preparing  # the answer came while the preparation runs in the background
        assert not fresh.loaded  # and without loading the model on PyTorch meanwhile
    finally:
        index.close()  # cancels the export
    # ... even one whose process had not started yet: it ran on for 15-40 s at full CPU for an
    # index already closed, then loaded the model in this process (it skewed later tests' CPU).
    assert wait_until(lambda: not fresh.preparing, 10)
    assert not list((tmp_path / "empty-onnx").glob("*.onnx"))
    assert fresh._export is None or fresh._export.poll() is not None


def test_closing_the_writer_ends_the_models_preparation_with_it(tmp_path: Path) -> None:
    """Quit during the first run's preparation left the export process running (review of #14)."""
    from notewell.indexer.worker import IndexWorker, WorkerOptions
    from tests.helpers import finishes

    notes = write_notes(tmp_path / "notes", {"a.md": "# A\n\nPaddle the fjord at dawn.\n"})
    embedder = SentenceTransformerEmbedder(cache_dir=tmp_path / "onnx")  # nothing cached: it must export
    worker = IndexWorker(lambda: NotesIndex.open(tmp_path / "data", embedder), [notes],
                         options=WorkerOptions(watch=False))
    worker.start()
    assert wait_until(lambda: embedder._export is not None and embedder._export.poll() is None, 60)
    export = embedder._export
    assert finishes(lambda: worker.close(timeout=20), 30)
    # The export process is gone with the writer: terminated by the close, and reaped by its
    # thread moments later (poll() says None while that thread holds the Popen's waitpid lock).
    assert export.wait(timeout=10) != 0  # ended by a signal, not finished
    assert not list((tmp_path / "onnx").glob("*.onnx"))  # cut short, not left to finish
    assert not worker._thread.is_alive()


def test_the_cli_says_when_it_answers_from_keywords_only(real_embedder, tmp_path: Path, capsys, monkeypatch) -> None:
    """After an upgrade the model needs preparing again: `notewell search` said nothing and
    quietly ranked by keywords (review of #14)."""
    from notewell.app import cli
    from notewell.app.services import MODEL_CACHE_ENV

    monkeypatch.delenv(MODEL_CACHE_ENV)  # the data dir's own cache, which has no export yet

    notes = write_notes(tmp_path / "notes", {"kayak.md": "# Kayak\n\nPaddle the fjord at dawn.\n"})
    built = NotesIndex.open(tmp_path / "data", real_embedder)  # vectors exist; data/onnx does not
    built.sync([notes])
    built.close()
    assert cli.main(["search", "fjord", "--data-dir", str(tmp_path / "data")]) == 0
    out, err = capsys.readouterr()
    assert "Kayak" in out
    assert "answered from keywords only" in err and "notewell index" in err
    # The export that search asked for ends with it, not 15-40 s later.
    assert wait_until(lambda: not any(t.name == "notewell-onnx-export" for t in threading.enumerate()), 10)
