"""Queries are embedded by an ONNX export of the model: same vectors, a third of the time."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from indexer.embedding import SentenceTransformerEmbedder

pytestmark = pytest.mark.slow

QUERIES = [
    "how do I extract a tar archive",
    "如何查看当前目录下的文件",
    "git 撤销 last commit but keep the changes",
    # longer than the model's 256-token window: both paths must cut it the same way
    "a very long question about shell pipelines and redirection " * 40,
]


def _torch_vector(embedder: SentenceTransformerEmbedder, text: str) -> np.ndarray:
    return embedder.embed_documents([text])[0]


def test_onnx_query_vectors_equal_pytorch(real_embedder: SentenceTransformerEmbedder) -> None:
    for query in QUERIES:
        fast = real_embedder.embed_query(query)
        slow = _torch_vector(real_embedder, query)
        assert float(fast @ slow) > 0.9999, query
        assert abs(float(np.linalg.norm(fast)) - 1.0) < 1e-4


def test_a_new_process_uses_the_cached_export_without_loading_pytorch(
    query_encoder_dir: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    assert sorted(p.suffix for p in query_encoder_dir.iterdir()) == [".json", ".onnx"]

    later = SentenceTransformerEmbedder(cache_dir=query_encoder_dir)
    vector = later.embed_query("how do I extract a tar archive")
    assert not later.loaded  # the model weights (and torch) were never needed
    assert float(vector @ _torch_vector(real_embedder, "how do I extract a tar archive")) > 0.9999


def test_a_damaged_cache_is_rebuilt(
    tmp_path: Path, query_encoder_dir: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    for built in query_encoder_dir.iterdir():
        shutil.copy(built, tmp_path)
    graph = next(tmp_path.glob("*.onnx"))
    graph.write_bytes(b"not a model")
    (tmp_path / "x.partial-99999").write_bytes(b"half an export from a killed process")

    again = SentenceTransformerEmbedder(cache_dir=tmp_path)
    assert again.prepare_queries(wait=True)
    assert graph.stat().st_size > 1_000_000
    assert not list(tmp_path.glob("*.partial-*"))
    query = QUERIES[0]
    assert float(again.embed_query(query) @ _torch_vector(real_embedder, query)) > 0.9999


def test_without_a_cache_dir_queries_use_pytorch(real_embedder: SentenceTransformerEmbedder) -> None:
    plain = SentenceTransformerEmbedder()
    assert not plain.prepare_queries(wait=True)
    vector = plain.embed_query(QUERIES[1])
    assert float(vector @ _torch_vector(real_embedder, QUERIES[1])) > 0.9999


def test_concurrent_queries_get_the_same_vectors_as_one_at_a_time(
    query_encoder_dir: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    embedder = SentenceTransformerEmbedder(cache_dir=query_encoder_dir)
    assert embedder.prepare_queries(wait=True)
    queries = [f"note number {i} about {word}" for i, word in enumerate(["tar", "git", "ssh", "awk"] * 10)]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(embedder.embed_query, queries))
    fresh = SentenceTransformerEmbedder(cache_dir=query_encoder_dir)
    for query, vector in zip(queries, together):
        assert float(vector @ fresh.embed_query(query)) > 0.99999, query
