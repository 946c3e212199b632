"""The Chroma vector store (a real PersistentClient in a temp folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from notewell.indexer.errors import StoreError
from notewell.indexer.vectors import VectorStore
from tests.helpers import unit_rows, wait_until


@pytest.fixture
def store(tmp_path: Path) -> VectorStore:
    vectors = VectorStore(tmp_path / "chroma")
    unit = np.eye(4, 384, dtype=np.float32)
    vectors.upsert(["a", "b", "c", "d"], unit, [1, 1, 2, 2])
    return vectors


class Flaky:
    """The real collection, whose next `failures` queries fail as a query racing a write can."""

    def __init__(self, collection, failures: int) -> None:
        self._collection, self.failures = collection, failures

    def query(self, **kwargs):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("Error executing plan: Internal error: Error finding id")
        return self._collection.query(**kwargs)


def test_a_search_that_meets_a_vector_deleted_mid_query_asks_again(store: VectorStore) -> None:
    store._opened = Flaky(store._collection, failures=1)
    assert store.query(np.eye(1, 384, dtype=np.float32)[0], 2)[0][0] == "a"


def test_a_store_that_keeps_failing_says_so(store: VectorStore) -> None:
    store._opened = Flaky(store._collection, failures=10)
    with pytest.raises(StoreError, match="Vector search failed: .*Error finding id"):
        store.query(np.eye(1, 384, dtype=np.float32)[0], 2)


def test_filtered_search_keeps_to_the_files_asked_for(store: VectorStore) -> None:
    hits = store.query(np.ones(384, dtype=np.float32), 4, file_ids=[2])
    assert sorted(cid for cid, _ in hits) == ["c", "d"]


def test_the_index_opens_its_vector_store_ahead_of_the_first_search(tmp_path: Path) -> None:
    # Importing Chroma and opening the collection takes seconds: a served index does it in
    # the background at start, not when the first query or the first saved note arrives.
    from notewell.indexer.embedding import HashEmbedder
    from notewell.indexer.notes_index import NotesIndex


    index = NotesIndex.open(tmp_path / "data", HashEmbedder())
    assert index.vectors._opened is None  # opening the index alone costs nothing
    index.prepare_search()
    assert wait_until(lambda: index.vectors._opened is not None)
    index.close()


def test_a_vector_store_that_cannot_open_ahead_of_time_fails_later_with_the_reason(tmp_path: Path) -> None:
    from notewell.indexer.embedding import HashEmbedder
    from notewell.indexer.notes_index import NotesIndex

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "chroma").write_text("not a folder")
    index = NotesIndex.open(tmp_path / "data", HashEmbedder())
    index.prepare_search(wait=False)  # logs, never raises on its thread
    with pytest.raises(StoreError, match="Check that the data folder is writable"):
        index.vectors.open()
    index.close()


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def test_compaction_drops_deleted_vectors_and_keeps_every_live_one(tmp_path: Path) -> None:
    store = VectorStore(tmp_path / "chroma")
    rows = unit_rows(3000, 1)
    ids = [f"c{i}" for i in range(3000)]
    store.upsert(ids, rows, [i % 7 for i in range(3000)])
    store.delete(ids[:2500])  # months of edits: most vectors replaced
    before = _disk_bytes(tmp_path / "chroma")
    assert store.compact() == 500
    assert _disk_bytes(tmp_path / "chroma") < before * 0.6  # the graph no longer carries them
    assert store.all_ids() == set(ids[2500:])
    # the same vectors, the same file ids: a filtered search finds a note's chunk exactly
    assert store.query(rows[2600], 1)[0][0] == "c2600"
    assert store.query(rows[2600], 3, file_ids=[2600 % 7])[0][0] == "c2600"
    assert store.query(rows[2600], 3, file_ids=[(2600 + 1) % 7])[0][0] != "c2600"
    reopened = VectorStore(tmp_path / "chroma")  # and the swap is on disk
    assert reopened.count() == 500


@pytest.mark.parametrize("original_dropped", [False, True])
def test_a_compaction_cut_short_leaves_the_vectors_whole(tmp_path: Path, original_dropped: bool) -> None:
    import chromadb
    from chromadb.config import Settings

    from notewell.indexer.vectors import COLLECTION

    store = VectorStore(tmp_path / "chroma")
    store.upsert(["a", "b"], unit_rows(2, 2), [1, 2])
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=Settings(anonymized_telemetry=False))
    copy = client.create_collection(COLLECTION + "-rebuilding", embedding_function=None)
    if original_dropped:  # killed between dropping the original and renaming the whole copy
        copy.add(ids=["a", "b"], embeddings=unit_rows(2, 2), metadatas=[{"file_id": 1}, {"file_id": 2}])
        client.delete_collection(COLLECTION)
    else:  # killed while copying
        copy.add(ids=["a"], embeddings=unit_rows(1, 2), metadatas=[{"file_id": 1}])
    del store
    reopened = VectorStore(tmp_path / "chroma")
    assert reopened.all_ids() == {"a", "b"}
    assert [c.name for c in client.list_collections()] == [COLLECTION]
