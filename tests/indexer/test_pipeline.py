"""The index stays equal to the folders on disk: new, changed, deleted, renamed,
removed folders, model changes — with real files, real SQLite and real Chroma."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from notewell.indexer.embedding import HashEmbedder
from notewell.indexer.notes_index import NotesIndex
from tests.helpers import write_notes

NOTES = {
    "cooking/bread.md": "# Bread\n\nFlour, water and salt make a sourdough loaf.\n\n## Baking\n\nBake at 250 degrees.\n",
    "travel/japan.md": "---\ntags: [trip]\n---\n# Japan\n\nTake the shinkansen from Tokyo to Kyoto.\n",
    "todo.txt": "Buy stamps.\nCall the plumber about the leaking tap.\n",
}


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return write_notes(tmp_path / "notes", NOTES)


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def index(tmp_path: Path, embedder: HashEmbedder):
    idx = NotesIndex.open(tmp_path / "data", embedder)
    yield idx
    idx.close()


def paths(index: NotesIndex, query: str, mode: str = "keyword") -> list[str]:
    return [r.path for r in index.search(query, k=10, mode=mode)]


def snapshot(index: NotesIndex) -> dict:
    """What a client could observe: notes, chunk ids and texts, vectors stored."""
    catalog = index.catalog
    chunks = sorted(catalog.query("SELECT c.id, f.rel, c.text, c.embedded FROM chunks c JOIN files f ON f.id = c.file_id"))
    return {
        "files": sorted(catalog.query("SELECT rel, status, hash FROM files")),
        "chunks": chunks,
        "fts": catalog.query("SELECT count(*) FROM chunks_fts")[0][0],
        "vectors": index.vectors.all_ids(),
        "tombstones": catalog.pending_vector_deletes(),
    }


def assert_consistent(index: NotesIndex) -> None:
    snap = snapshot(index)
    assert snap["fts"] == len(snap["chunks"])
    assert snap["vectors"] == {cid for cid, _, _, embedded in snap["chunks"] if embedded}
    assert all(embedded for *_, embedded in snap["chunks"])
    assert snap["tombstones"] == []


def test_first_sync_indexes_every_note(index: NotesIndex, notes: Path) -> None:
    summary = index.sync([notes])
    assert (summary.indexed, summary.unchanged, summary.removed, summary.failed) == (3, 0, 0, 0)
    assert summary.chunks > 0
    assert paths(index, "shinkansen") == ["travel/japan.md"]
    assert paths(index, "plumber", mode="dense")[0] == "todo.txt"
    assert_consistent(index)


def test_second_sync_reads_nothing_and_embeds_nothing(index: NotesIndex, notes: Path, embedder: HashEmbedder) -> None:
    index.sync([notes])
    embedded = embedder.embedded
    summary = index.sync([notes])
    assert (summary.indexed, summary.unchanged, summary.chunks) == (0, 3, 0)
    assert embedder.embedded == embedded


def test_touched_but_identical_file_is_not_reembedded(index: NotesIndex, notes: Path, embedder: HashEmbedder) -> None:
    index.sync([notes])
    embedded = embedder.embedded
    os.utime(notes / "todo.txt", ns=(1_000_000_000, 1_000_000_000))
    summary = index.sync([notes])
    assert summary.unchanged == 3 and summary.indexed == 0
    assert embedder.embedded == embedded
    assert index.sync([notes]).unchanged == 3


def test_edit_reembeds_only_the_changed_passage(index: NotesIndex, notes: Path, embedder: HashEmbedder) -> None:
    index.sync([notes])
    before = embedder.embedded
    bread = notes / "cooking/bread.md"
    bread.write_text(bread.read_text().replace("Bake at 250 degrees.", "Bake at 230 degrees with steam."))
    summary = index.sync([notes])
    assert summary.indexed == 1
    assert embedder.embedded - before == summary.chunks < len(index.catalog.query("SELECT id FROM chunks"))
    assert paths(index, "steam") == ["cooking/bread.md"]
    assert paths(index, "250") == []
    assert_consistent(index)


def test_deleted_note_disappears_from_both_searches(index: NotesIndex, notes: Path) -> None:
    index.sync([notes])
    (notes / "todo.txt").unlink()
    summary = index.sync([notes])
    assert summary.removed == 1
    assert "todo.txt" not in paths(index, "plumber")
    assert "todo.txt" not in paths(index, "plumber", mode="dense")
    assert_consistent(index)


def test_rename_keeps_vectors_and_changes_path(index: NotesIndex, notes: Path, embedder: HashEmbedder) -> None:
    index.sync([notes])
    before = embedder.embedded
    (notes / "travel/japan.md").rename(notes / "travel/japan-2024.md")
    summary = index.sync([notes])
    assert (summary.indexed, summary.removed) == (1, 1)
    assert summary.reused > 0 and embedder.embedded == before
    assert paths(index, "shinkansen") == ["travel/japan-2024.md"]
    assert paths(index, "shinkansen", mode="dense")[0] == "travel/japan-2024.md"
    assert_consistent(index)


def test_removing_a_folder_removes_its_notes(index: NotesIndex, notes: Path, tmp_path: Path) -> None:
    other = write_notes(tmp_path / "other", {"idea.md": "# Idea\n\nA shinkansen themed board game.\n"})
    index.sync([notes, other])
    assert sorted(paths(index, "shinkansen")) == ["idea.md", "travel/japan.md"]
    index.sync([other])  # a sync of some folders leaves the others alone (#14)
    assert sorted(paths(index, "shinkansen")) == ["idea.md", "travel/japan.md"]
    summary = index.remove_folders([notes])  # leaving the index takes an explicit removal
    assert summary.removed == 3
    assert paths(index, "shinkansen") == ["idea.md"]
    assert_consistent(index)
    index.sync([notes, other])
    assert index.sync_only([other]).removed == 3  # `notewell index`: exactly the settings' folders
    assert paths(index, "shinkansen") == ["idea.md"]


def test_private_note_is_never_indexed_and_leaves_when_made_private(index: NotesIndex, notes: Path) -> None:
    secret = notes / "diary.md"
    secret.write_text("---\nprivate: true\n---\nMy secret zeppelin plan.\n")
    index.sync([notes])
    assert paths(index, "zeppelin") == []
    japan = notes / "travel/japan.md"
    japan.write_text("---\nprivate: true\n---\n# Japan\n\nTake the shinkansen.\n")
    index.sync([notes])
    assert paths(index, "shinkansen") == []
    assert "travel/japan.md" not in paths(index, "shinkansen", mode="dense")
    assert_consistent(index)


def test_changing_the_model_reembeds_everything(tmp_path: Path, notes: Path) -> None:
    first = NotesIndex.open(tmp_path / "data", HashEmbedder(dimension=256))
    first.sync([notes])
    first.close()
    other = HashEmbedder(dimension=32)
    second = NotesIndex.open(tmp_path / "data", other)
    message = second.pipeline.check_model()
    assert message and "re-embedding" in message and "hash-256" in message
    summary = second.sync([notes])
    assert summary.chunks == other.embedded > 0
    assert paths(second, "plumber", mode="dense")[0] == "todo.txt"
    assert_consistent(second)
    second.close()


def test_search_sees_notes_before_they_are_embedded(tmp_path: Path, notes: Path) -> None:
    index = NotesIndex.open(tmp_path / "data", HashEmbedder())
    index.pipeline.embed_pending = lambda summary, report: None  # as if embedding were still running
    index.sync([notes])
    assert paths(index, "shinkansen") == ["travel/japan.md"]
    assert index.catalog.count_pending() > 0
    index.close()


def test_reopened_index_finishes_pending_work(tmp_path: Path, notes: Path) -> None:
    first = NotesIndex.open(tmp_path / "data", HashEmbedder())
    first.pipeline.embed_pending = lambda summary, report: None
    first.sync([notes])
    first.close()
    second = NotesIndex.open(tmp_path / "data", HashEmbedder())
    summary = second.sync([notes])
    assert summary.unchanged == 3 and summary.chunks > 0
    assert paths(second, "plumber", mode="dense")[0] == "todo.txt"
    assert_consistent(second)
    second.close()


def test_folder_status_counts_notes_chunks_and_problems(index: NotesIndex, notes: Path) -> None:
    (notes / "broken.md").write_bytes(b"\x00\x01binary")
    index.sync([notes])
    (status,) = index.folder_status()
    assert status.folder == str(notes.resolve())
    assert status.files == 3 and status.chunks >= 3 and status.pending_chunks == 0
    assert status.skipped == 1
    assert [p.rel for p in status.problems] == ["broken.md"]
    assert "binary" in status.problems[0].reason


def test_get_note_returns_the_whole_note(index: NotesIndex, notes: Path) -> None:
    index.sync([notes])
    hit = index.search("shinkansen", k=1, mode="keyword")[0]
    note = index.get_note(hit.note_id)
    assert note is not None
    assert note.path == "travel/japan.md" and "Kyoto" in note.text and note.title == "Japan"
    assert index.get_note("not-an-id") is None


def test_a_stop_mid_embedding_keeps_what_was_embedded_and_the_next_run_does_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import notewell.indexer.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "EMBED_BATCH", 4)
    monkeypatch.setattr(pipeline_module, "STORE_BATCH", 16)
    notes = write_notes(tmp_path / "notes", {f"n{i:02}.md": f"Note number {i} about topic {i}.\n" for i in range(40)})

    class StopsAfterTwoBatches(HashEmbedder):
        def embed_documents(self, texts):  # type: ignore[no-untyped-def]
            if self.calls == 1:
                index.stop()  # as the GUI's pause does, while the model is busy
            return super().embed_documents(texts)

    embedder = StopsAfterTwoBatches()
    index = NotesIndex.open(tmp_path / "data", embedder)
    index.sync([notes])
    assert embedder.embedded == 8  # two model batches, then it stopped
    assert len(index.vectors.all_ids()) == 8  # and what it embedded is stored, not thrown away
    assert index.catalog.count_pending() == 32
    summary = index.sync([notes])
    assert embedder.embedded == 40 and summary.chunks == 32  # nothing embedded twice
    assert_consistent(index)
    index.close()


def test_after_many_edits_a_sync_rebuilds_the_vector_store_and_search_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import notewell.indexer.pipeline as pipeline_module

    monkeypatch.setattr(pipeline_module, "COMPACT_AFTER", 20)
    notes = write_notes(tmp_path / "notes", {f"n{i:02}.md": f"Note {i} about the heron colony.\n" for i in range(10)})
    index = NotesIndex.open(tmp_path / "data", HashEmbedder())
    index.sync([notes])
    compactions = []
    original = index.vectors.compact
    monkeypatch.setattr(index.vectors, "compact", lambda: compactions.append(1) or original())
    told = []
    for edit in range(3):  # every note rewritten: 30 vectors deleted over three syncs
        write_notes(notes, {f"n{i:02}.md": f"Note {i} about the heron colony, edit {edit}.\n" for i in range(10)})
        index.sync([notes], progress=lambda p: told.append(p.message) if p.phase == "tidying" else None)
    assert told == ["Tidying the vector store after many edits (about 1 s)…"]  # the user sees why it waits
    assert compactions == [1]  # once 20 deletes outnumbered the 10 live vectors, not before or after
    assert index.catalog.get_meta("vectors_deleted_since_build") == "10"  # counted afresh since
    assert paths(index, "Note 3 about the heron colony, edit 2.", mode="dense")[0] == "n03.md"
    assert_consistent(index)
    index.close()
