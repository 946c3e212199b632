"""The model runs on an ONNX export (no torch in the app): the same vectors as PyTorch."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from notewell.indexer.e5_model import E5_MODEL
from notewell.indexer.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder, resolve_model
from notewell.indexer.onnx_encoder import cache_key, is_cached

pytestmark = pytest.mark.slow

QUERIES = [
    "how do I extract a tar archive",
    "如何查看当前目录下的文件",
    "git 撤销 last commit but keep the changes",
    # longer than the model's 256-token window: both paths must cut it the same way
    "a very long question about shell pipelines and redirection " * 40,
]


@pytest.fixture(scope="module")
def torch_model() -> SentenceTransformerEmbedder:
    """The same model on sentence-transformers/PyTorch (no cache dir: no ONNX)."""
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def fp32_embedder(onnx_dir: Path, real_embedder: SentenceTransformerEmbedder) -> SentenceTransformerEmbedder:
    """The session's export run in fp32 (`real_embedder`, like the app, runs its int8 copy)."""
    embedder = SentenceTransformerEmbedder(cache_dir=onnx_dir, precision="fp32")
    assert embedder.prepare_onnx(wait=True)
    return embedder


def _torch_vector(embedder: SentenceTransformerEmbedder, text: str) -> np.ndarray:
    return embedder.embed_documents([text])[0]


def test_onnx_query_vectors_equal_pytorch(
    fp32_embedder: SentenceTransformerEmbedder, torch_model: SentenceTransformerEmbedder
) -> None:
    for query in QUERIES:
        fast = fp32_embedder.embed_query(query)
        slow = _torch_vector(torch_model, query)
        assert float(fast @ slow) > 0.9999, query
        assert abs(float(np.linalg.norm(fast)) - 1.0) < 1e-4


def test_document_batches_of_mixed_lengths_equal_pytorch(
    fp32_embedder: SentenceTransformerEmbedder, torch_model: SentenceTransformerEmbedder
) -> None:
    texts = QUERIES + [f"# Note {i}\n\n" + "tar and gzip archives. " * (i * 7) for i in range(40)]
    ours, theirs = fp32_embedder.embed_documents(texts), torch_model.embed_documents(texts)
    assert ours.shape == theirs.shape == (len(texts), 384)
    assert float(np.min(np.sum(ours * theirs, axis=1))) > 0.9999  # and in the same order


def test_indexing_and_search_never_import_torch(onnx_dir: Path, real_embedder: SentenceTransformerEmbedder,
                                                 tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path\n"
        "from notewell.indexer.embedding import SentenceTransformerEmbedder\n"
        "from notewell.indexer.notes_index import NotesIndex\n"
        f"index = NotesIndex.open(Path({str(tmp_path / 'data')!r}), SentenceTransformerEmbedder(cache_dir=Path({str(onnx_dir)!r})))\n"
        f"index.sync([Path({str(Path(__file__).resolve().parents[2] / 'assets' / 'sample_notes')!r})])\n"
        "hits = index.search('how do I bake bread', k=1)\n"
        "print(hits[0].path, 'torch' in sys.modules, 'transformers' in sys.modules, sep='|')\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    path, torch_loaded, transformers_loaded = done.stdout.strip().split("|")
    assert "bread" in path.lower() or "sourdough" in path.lower()
    assert (torch_loaded, transformers_loaded) == ("False", "False")


def test_a_new_process_uses_the_cached_export_without_loading_pytorch(
    onnx_dir: Path, torch_model: SentenceTransformerEmbedder
) -> None:
    key = cache_key(resolve_model(DEFAULT_MODEL))  # (the shared cache may hold the multilingual model's too)
    assert sorted(p.name.split(".", 1)[1] for p in onnx_dir.glob(f"{key}.*")) == ["int8.ffn-fp32.onnx", "json", "onnx"]

    later = SentenceTransformerEmbedder(cache_dir=onnx_dir, precision="fp32")
    vector = later.embed_query("how do I extract a tar archive")
    assert not later.loaded  # the model weights (and torch) were never needed
    assert float(vector @ _torch_vector(torch_model, "how do I extract a tar archive")) > 0.9999


def test_a_damaged_cache_is_rebuilt(
    tmp_path: Path, onnx_dir: Path, real_embedder: SentenceTransformerEmbedder,
    torch_model: SentenceTransformerEmbedder,
) -> None:
    for built in onnx_dir.glob(f"{cache_key(resolve_model(DEFAULT_MODEL))}.*"):
        shutil.copy(built, tmp_path)
    graph = next(p for p in tmp_path.glob("*.onnx") if ".int8." not in p.name)
    graph.write_bytes(b"not a model")
    (tmp_path / "x.partial-99999").write_bytes(b"half an export from a killed process")

    again = SentenceTransformerEmbedder(cache_dir=tmp_path, precision="fp32")
    assert again.prepare_onnx(wait=True)
    assert graph.stat().st_size > 1_000_000
    assert not list(tmp_path.glob("*.partial-*"))
    query = QUERIES[0]
    assert float(again.embed_query(query) @ _torch_vector(torch_model, query)) > 0.9999


def test_a_data_dirs_own_cache_keeps_only_the_int8_copy_it_runs(
    tmp_path: Path, onnx_dir: Path, real_embedder: SentenceTransformerEmbedder,
    torch_model: SentenceTransformerEmbedder,
) -> None:
    """An upgrading user's model cache held the fp32 export beside the int8 copy that runs
    (90 MB here, 470 MB for multilingual-e5-small): it goes. Choosing fp32 later makes it again."""
    key = cache_key(resolve_model(DEFAULT_MODEL))
    for built in onnx_dir.glob(f"{key}.*"):
        shutil.copy(built, tmp_path)
    fp32_graph = tmp_path / f"{key}.onnx"
    assert fp32_graph.is_file()

    own = SentenceTransformerEmbedder(cache_dir=tmp_path, keep_fp32_export=False)
    query = QUERIES[0]
    assert float(own.embed_query(query) @ real_embedder.embed_query(query)) > 0.9999
    assert not fp32_graph.exists()
    assert sorted(p.name.split(".", 1)[1] for p in tmp_path.glob(f"{key}.*")) == ["int8.ffn-fp32.onnx", "json"]
    assert not own.loaded  # no torch for that

    full = SentenceTransformerEmbedder(cache_dir=tmp_path, precision="fp32", keep_fp32_export=False)
    assert full.prepare_onnx(wait=True)
    assert fp32_graph.stat().st_size > 1_000_000
    assert float(full.embed_query(query) @ _torch_vector(torch_model, query)) > 0.9999


def test_without_a_cache_dir_the_model_runs_on_pytorch(fp32_embedder: SentenceTransformerEmbedder) -> None:
    plain = SentenceTransformerEmbedder()
    assert not plain.prepare_onnx(wait=True)
    vector = plain.embed_query(QUERIES[1])
    assert plain.loaded and plain.precision == "fp32"
    assert float(vector @ fp32_embedder.embed_query(QUERIES[1])) > 0.9999


def test_int8_is_the_default_and_stays_close_to_fp32(
    real_embedder: SentenceTransformerEmbedder, fp32_embedder: SentenceTransformerEmbedder
) -> None:
    assert real_embedder.precision == "int8"
    # Changing precision changes the model's name: the index re-embeds instead of mixing vectors.
    assert real_embedder.name != fp32_embedder.name
    texts = QUERIES + ["# Backups\n\nrsync -a --delete src/ dest/ mirrors a folder."] * 2
    fast, full = real_embedder.embed_documents(texts), fp32_embedder.embed_documents(texts)
    assert float(np.min(np.sum(fast * full, axis=1))) > 0.97
    assert float(np.min(np.sum(fast * full, axis=1))) < 0.99999  # really another graph


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_both_precisions_rank_the_note_that_answers_first(
    precision: str, onnx_dir: Path, real_embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    from notewell.indexer.notes_index import NotesIndex
    from tests.helpers import write_notes

    notes = write_notes(tmp_path / "notes", {
        "bread.md": "# Sourdough\n\nFeed the starter, knead the dough, let it rise overnight and bake at 230 C.",
        "tar.md": "# Archives\n\nUse tar -xzf file.tar.gz to unpack a gzip-compressed tarball.",
        "ssh.md": "# Remote login\n\nssh-keygen makes a key pair; ssh-copy-id installs it on the server.",
    })
    index = NotesIndex.open(tmp_path / "data", SentenceTransformerEmbedder(cache_dir=onnx_dir, precision=precision))
    try:
        index.sync([notes])
        assert index.search("how do I unpack a compressed archive", mode="dense")[0].path == "tar.md"
        assert index.search("baking a loaf at home", mode="dense")[0].path == "bread.md"
    finally:
        index.close()


def test_concurrent_queries_get_the_same_vectors_as_one_at_a_time(
    onnx_dir: Path, real_embedder: SentenceTransformerEmbedder
) -> None:
    # fp32: int8 quantizes activations per model run, so a query run beside others gets a
    # vector a little (cosine ~0.98) unlike its own; fp32 shows that nothing is mixed up.
    embedder = SentenceTransformerEmbedder(cache_dir=onnx_dir, precision="fp32")
    assert embedder.prepare_onnx(wait=True)
    queries = [f"note number {i} about {word}" for i, word in enumerate(["tar", "git", "ssh", "awk"] * 10)]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(embedder.embed_query, queries))
    fresh = SentenceTransformerEmbedder(cache_dir=onnx_dir, precision="fp32")
    for query, vector in zip(queries, together):
        assert float(vector @ fresh.embed_query(query)) > 0.99999, query


def test_queries_arriving_together_share_model_runs_and_each_gets_its_own_vector() -> None:
    from threading import Barrier, Thread

    from notewell.indexer.onnx_encoder import _Batcher

    runs: list[list[str]] = []

    def encode(texts):  # type: ignore[no-untyped-def]
        runs.append(list(texts))
        if "broken" in texts:
            raise ValueError("the model failed")
        import time

        time.sleep(0.02)  # a model run takes a while; others queue meanwhile
        return [text.upper() for text in texts]

    batcher = _Batcher(encode)
    start = Barrier(24)
    got: dict[str, object] = {}

    def ask(text: str) -> None:
        start.wait()
        try:
            got[text] = batcher.submit(text)
        except ValueError as exc:
            got[text] = exc

    threads = [Thread(target=ask, args=(f"query {i}",)) for i in range(23)] + [Thread(target=ask, args=("broken",))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sum(len(run) for run in runs) == 24  # every query ran exactly once
    assert len(runs) < 24  # and most shared a run
    failed_run = next(run for run in runs if "broken" in run)
    for text, answer in got.items():  # a failed run fails its own callers, no one else
        assert isinstance(answer, ValueError) if text in failed_run else answer == text.upper()
    assert batcher.submit("alone") == "ALONE"  # and nothing is left stuck


def test_stopping_the_index_cancels_a_running_export_and_leaves_text_pending(tmp_path: Path) -> None:
    import threading
    import time

    from notewell.indexer.notes_index import NotesIndex
    from tests.helpers import write_notes

    notes = write_notes(tmp_path / "notes", {"a.md": "# A\n\nPaddle the fjord at dawn.\n"})
    embedder = SentenceTransformerEmbedder(cache_dir=tmp_path / "onnx")  # nothing cached: it must export
    index = NotesIndex.open(tmp_path / "data", embedder)
    worker = threading.Thread(target=index.sync, args=([notes],))
    worker.start()
    deadline = time.monotonic() + 60
    while embedder._export is None and time.monotonic() < deadline:  # the export child has started
        time.sleep(0.05)
    started = time.monotonic()
    index.stop()
    worker.join(timeout=30)
    assert not worker.is_alive() and time.monotonic() - started < 5
    assert not embedder.loaded  # no fallback to loading the model on PyTorch
    assert index.catalog.count_pending() == 1  # the note is read and keyword-searchable; its vector comes next run
    assert index.search("fjord", mode="keyword")[0].path == "a.md"
    index.close()


def test_long_passages_run_in_small_groups_so_memory_stays_flat(real_embedder: SentenceTransformerEmbedder) -> None:
    from notewell.indexer.onnx_encoder import BATCH_TOKENS

    encoder = real_embedder._ready_onnx()
    assert encoder is not None
    runs: list[int] = []
    real_run = encoder._run
    encoder._run = lambda encodings: (runs.append(max(len(ids) for ids, _, _ in encodings) * len(encodings)),
                                      real_run(encodings))[1]
    try:
        texts = ["word " * 240] * 6 + ["short note"] * 40
        vectors = encoder.encode_documents(texts, batch_size=32)
    finally:
        del encoder._run
    assert vectors.shape == (46, 384)
    assert max(runs) <= BATCH_TOKENS and len(runs) > 3  # long ones in groups of two, short ones together


ORPHANING_PARENT = """
import os, sys, time
from pathlib import Path
import psutil
from notewell.indexer.embedding import SentenceTransformerEmbedder

embedder = SentenceTransformerEmbedder(cache_dir=Path(sys.argv[1]))
embedder.prepare_onnx(wait=False)  # the export starts in its own process
me = psutil.Process()
while not me.children():
    time.sleep(0.05)
print(me.children()[0].pid, flush=True)
os._exit(0)  # as the app's 5 s quit deadline leaves: no cleanup runs
"""


def test_an_export_ends_with_the_process_that_asked_for_it(tmp_path: Path) -> None:
    """Review of #14: a quit that ended by the deadline left the export child running for a
    minute at full CPU, and a later start found a second export racing the first."""
    import os
    import subprocess
    import sys

    import psutil

    from tests.helpers import wait_until

    cache = tmp_path / "onnx"
    env = {k: v for k, v in os.environ.items() if k != "NOTEWELL_MODEL_CACHE"}  # its own, empty cache
    parent = subprocess.run([sys.executable, "-c", ORPHANING_PARENT, str(cache)], env=env,
                            capture_output=True, text=True, timeout=120)
    child = int(parent.stdout.split()[0])

    def gone() -> bool:
        try:
            return psutil.Process(child).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    assert wait_until(gone)
    assert not list(cache.glob("*.onnx")), "the orphaned export ran to the end"


def test_one_models_export_leaves_another_models_in_the_shared_cache(
    onnx_dir: Path, real_embedder: SentenceTransformerEmbedder, e5_embedder: SentenceTransformerEmbedder,
) -> None:
    """Exporting the multilingual model deleted the English model's export (and the reverse),
    so a shared cache, or "auto" switching models, exported again and again."""
    assert is_cached(onnx_dir, cache_key(resolve_model(DEFAULT_MODEL)), "int8")
    assert SentenceTransformerEmbedder(E5_MODEL, cache_dir=onnx_dir).query_ready()  # no export needed
    assert SentenceTransformerEmbedder(cache_dir=onnx_dir).query_ready()
