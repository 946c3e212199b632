"""Chroma as the vector store: an embedded `PersistentClient`, or a Chroma server.

Only ids, vectors and the numeric file id (for filtered queries) live here; the
text and everything else live in the catalog.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Sequence
from urllib.parse import urlparse

import numpy as np

from .errors import DiskFull, StoreError, is_disk_full, nearly_full

COLLECTION = "notewell-chunks"
_REBUILDING = COLLECTION + "-rebuilding"  # a compaction's copy, until it takes the name
_BATCH = 1000
_QUERY_ATTEMPTS = 3


class VectorStore:
    """Opened on first use: a sync with nothing to embed or delete never loads Chroma."""

    def __init__(self, path: Path | None = None, url: str | None = None, server_files: Path | None = None) -> None:
        """An embedded store in `path`, or the server at `url`; `server_files` is where that
        server keeps its files, when it is the app's own (to tidy after a rebuild)."""
        if path is None and url is None:
            raise ValueError("VectorStore needs a path or a url")
        self._path = path
        self._files = path if path is not None else server_files
        self._url = url
        self._lock = threading.Lock()
        self._client = None
        self._opened = None

    @property
    def _collection(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._opened is None:
                self._client = self._connect()
                self._opened = self._open()
            return self._opened

    def _connect(self):  # type: ignore[no-untyped-def]
        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        try:
            import chromadb
            from chromadb.config import Settings
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise StoreError("chromadb is not installed: run `pip install chromadb`.") from exc
        settings = Settings(anonymized_telemetry=False)
        url, path = self._url, self._path
        try:
            if url:
                parsed = urlparse(url)
                client = chromadb.HttpClient(
                    host=parsed.hostname or "127.0.0.1",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=settings,
                )
                client.heartbeat()
                return client
            assert path is not None
            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=settings)
        except Exception as exc:
            where = f"the Chroma server at {url}" if url else f"the vector store in {path}"
            hint = "Is `chroma run` running there?" if url else "Check that the data folder is writable."
            raise StoreError(f"Could not open {where}: {exc}. {hint}") from exc

    def _open(self):  # type: ignore[no-untyped-def]
        try:
            names = {getattr(c, "name", c) for c in self._client.list_collections()}
            if _REBUILDING in names:  # a compaction was cut short
                if COLLECTION in names:  # before the swap: the original is whole, drop the copy
                    self._client.delete_collection(_REBUILDING)
                else:  # after the original was dropped: the copy is whole, finish the swap
                    self._client.get_collection(_REBUILDING).modify(name=COLLECTION)
            return self._create(COLLECTION)
        except Exception as exc:
            raise StoreError(f"Could not open the vector collection: {exc}") from exc

    def _create(self, name: str):  # type: ignore[no-untyped-def]
        return self._client.get_or_create_collection(
            name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def compact(self) -> int:
        """Rebuild the collection from its live vectors; returns how many were kept.

        Chroma's graph index keeps a deleted vector's node: after many edits a graph of
        12,600 live vectors held 40,000 nodes (67 MB instead of 20 MB, in memory too) and
        every insert cost 1.7x more. Searches keep using the old collection until the swap.
        """
        old = self._collection
        old_files = self._segment_dirs()
        try:
            # Copied without the lock: searches go on meanwhile (the caller is the only writer).
            try:
                self._client.delete_collection(_REBUILDING)  # a leftover partial copy
            except Exception:
                pass
            copy = self._create(_REBUILDING)
            kept = 0
            while True:
                got = old.get(include=["embeddings", "metadatas"], limit=_BATCH, offset=kept)
                if not got["ids"]:
                    break
                copy.add(ids=got["ids"], embeddings=np.asarray(got["embeddings"], dtype=np.float32),
                         metadatas=got["metadatas"])
                kept += len(got["ids"])
            with self._lock:  # the swap: a search that meets it asks again (see `query`)
                self._client.delete_collection(COLLECTION)
                copy.modify(name=COLLECTION)
                self._opened = self._client.get_collection(COLLECTION)
        except Exception as exc:
            raise self._failed("Could not compact the vector store", exc) from exc
        self._remove(old_files)
        return kept

    def _check_room(self) -> None:
        """Refuse to write vectors onto a disk that is nearly full: Chroma then leaves its graph
        files cut short and unreadable ("Error deserializing pickle file"), searches included
        (#14). Stopping first keeps the store whole, and the next run carries on."""
        if self._files is None or not self._files.is_dir():
            return
        # Chroma rewrites a graph's files whole when it saves it: room for them, and a margin.
        graphs = sum(f.stat().st_size for f in self._files.rglob("*") if f.is_file() and f.parent != self._files)
        needed = 16 * 1024 * 1024 + graphs
        if nearly_full(self._files, needed):
            raise DiskFull(self._files.parent, needed)

    def _failed(self, what: str, exc: Exception) -> StoreError:
        if self._files is not None and (is_disk_full(exc) or nearly_full(self._files)):
            return DiskFull(self._files.parent)
        return StoreError(f"{what}: {exc}")

    def _segment_dirs(self) -> list[Path]:
        """The graph index folders on disk now (when we know where the store keeps its files)."""
        if self._files is None or not self._files.is_dir():
            return []
        return [child for child in self._files.iterdir() if child.is_dir()]

    @staticmethod
    def _remove(folders: list[Path]) -> None:
        # Chroma leaves a dropped collection's graph on disk (67 MB for the one above).
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    def open(self) -> None:
        """Connect now rather than on first use (importing Chroma alone takes ~2 s)."""
        self._collection

    def reset(self) -> None:
        """Drop every vector (the embedding model changed)."""
        self._collection  # connect
        old_files = self._segment_dirs()
        with self._lock:
            try:
                self._client.delete_collection(COLLECTION)
            except Exception:
                pass  # nothing to drop
            self._opened = self._open()
        self._remove(old_files)

    def count(self) -> int:
        return int(self._collection.count())

    def upsert(self, ids: Sequence[str], vectors: np.ndarray, file_ids: Sequence[int]) -> None:
        self._check_room()
        try:
            for start in range(0, len(ids), _BATCH):
                end = start + _BATCH
                self._collection.upsert(
                    ids=list(ids[start:end]),
                    embeddings=vectors[start:end],
                    metadatas=[{"file_id": int(f)} for f in file_ids[start:end]],
                )
        except Exception as exc:
            raise self._failed("Could not store vectors", exc) from exc

    def delete(self, ids: Sequence[str]) -> None:
        try:
            for start in range(0, len(ids), _BATCH):
                self._collection.delete(ids=list(ids[start : start + _BATCH]))
        except Exception as exc:
            raise self._failed("Could not delete vectors", exc) from exc

    def existing(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), _BATCH):
            found.update(self._collection.get(ids=list(ids[start : start + _BATCH]), include=[])["ids"])
        return found

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), _BATCH):
            got = self._collection.get(ids=list(ids[start : start + _BATCH]), include=["embeddings"])
            for cid, vector in zip(got["ids"], got["embeddings"]):
                out[cid] = np.asarray(vector, dtype=np.float32)
        return out

    def all_ids(self) -> set[str]:
        ids: set[str] = set()
        offset = 0
        while True:
            got = self._collection.get(include=[], limit=5000, offset=offset)["ids"]
            ids.update(got)
            if len(got) < 5000:
                return ids
            offset += len(got)

    def query(
        self, vector: np.ndarray, n: int, file_ids: Sequence[int] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first."""
        if n <= 0:
            return []
        where = None
        if file_ids is not None:
            if not file_ids:
                return []
            where = {"file_id": {"$in": [int(f) for f in file_ids]}}
        for attempt in range(_QUERY_ATTEMPTS):
            try:
                got = self._collection.query(
                    query_embeddings=[vector], n_results=n, where=where, include=["distances"]
                )
                break
            except Exception as exc:
                # A search racing a write can meet a vector deleted mid-plan ("Error finding
                # id", seen while a renamed note's vectors were replaced): ask again.
                if attempt + 1 == _QUERY_ATTEMPTS:
                    raise StoreError(f"Vector search failed: {exc}") from exc
                time.sleep(0.02 * (attempt + 1))
        return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0])]
