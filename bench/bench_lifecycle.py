"""A person living with the app, with the real model (#14): does any passage get embedded
twice, and does the index end equal to a fresh one?

    python bench/bench_lifecycle.py [--data-dir /tmp/lc]

Two real collections (obsidian-en as A, obsidian-zh as B) through the app's runtime (the
one writer, its watcher, the local API): add A; while A is embedded, add B; remove A;
close the app while B is half embedded and start it again; kill -9 a writer mid-way and
start again; then edit, rename, move and delete notes, with the catch-up timer running
every few seconds. Every passage the model embeds is counted. Prints one JSON object:
`embedded_passages` (model work), `distinct_new_texts` (passages that needed it: each
distinct text once), `repeats` (their difference: at most the one window a kill -9 cuts
short), `equal_to_fresh` (files, passages and vector ids against a fresh index of the
final folders) and `seconds`. Exit code 1 if a passage was embedded twice beyond that
window or the index differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from notewell.app.preferences import Preferences  # noqa: E402
from notewell.app.runtime import Runtime, RuntimeOptions  # noqa: E402
from notewell.app.settings import Settings  # noqa: E402
from notewell.indexer.embedding import SentenceTransformerEmbedder  # noqa: E402
from notewell.indexer.notes_index import NotesIndex  # noqa: E402
from notewell.indexer.pipeline import STORE_BATCH  # noqa: E402

CORPORA = Path("/work/shared/eval/corpora")


class Counting(SentenceTransformerEmbedder):
    """The real model, logging a digest of every passage it embeds (shared across processes)."""

    def __init__(self, log: Path, cache_dir: Path) -> None:
        super().__init__(cache_dir=cache_dir)
        self.log = log

    def embed_documents(self, texts: Sequence[str]):  # type: ignore[no-untyped-def]
        vectors = super().embed_documents(texts)
        with open(self.log, "a", encoding="utf-8") as handle:
            handle.writelines(hashlib.blake2b(t.encode(), digest_size=8).hexdigest() + "\n" for t in texts)
        return vectors


class Chunker(SentenceTransformerEmbedder):
    """The real model's tokenizer (so passages are cut the same), random vectors (fast)."""

    def embed_documents(self, texts: Sequence[str]):  # type: ignore[no-untyped-def]
        import numpy as np

        rows = np.random.default_rng(0).standard_normal((len(texts), 384)).astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


class Quiet:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


KILLED = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from bench.bench_lifecycle import Counting
from notewell.indexer.notes_index import NotesIndex
from notewell.indexer.worker import IndexWorker
data, log = Path(sys.argv[1]), Path(sys.argv[2])
folders = [Path(f) for f in sys.argv[3].split(",")]
worker = IndexWorker(lambda: NotesIndex.open(data, Counting(log, data / "onnx")), folders)
worker.start()
print("started", flush=True)
time.sleep(3600)
"""


def unpack(name: str, into: Path) -> Path:
    target = into / name
    if not target.is_dir():
        with tempfile.TemporaryDirectory() as tmp, tarfile.open(CORPORA / f"{name}.tar.gz") as tar:
            tar.extractall(tmp, filter="data")
            inner = Path(tmp)
            while len(children := list(inner.iterdir())) == 1 and children[0].is_dir():
                inner = children[0]  # obsidian-zh.tar.gz holds obsidian-zh/obsidian-zh/
            shutil.copytree(inner, target)
    return target


def lines(log: Path) -> int:
    return len(log.read_text().split()) if log.exists() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.mkdtemp(prefix="notewell-lifecycle-")))
    args = parser.parse_args()
    root = args.data_dir.resolve()
    shutil.rmtree(root / "data", ignore_errors=True)
    (root / "embedded.log").unlink(missing_ok=True)
    notes = root / "notes"
    shutil.rmtree(notes, ignore_errors=True)
    a, b = unpack("obsidian-en", notes), unpack("obsidian-zh", notes)
    data, log = root / "data", root / "embedded.log"
    Settings(folders=[str(a)], catch_up_minutes=0.05).save(data)  # a catch-up every 3 s

    def runtime() -> Runtime:
        embedder = Counting(log, data / "onnx")
        prefs = Preferences(Settings.load(data), data)
        return Runtime(prefs, RuntimeOptions(port=0, share=False, embedder=embedder), Quiet())  # type: ignore[arg-type]

    def set_folders(app: Runtime, folders: list[Path]) -> None:
        app.prefs.update({"folders": [str(f) for f in folders]})
        app.settings_changed(frozenset({"folders"}))

    def until(predicate, timeout: float = 3600) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit("bench_lifecycle: timed out")
            time.sleep(0.2)

    started = time.perf_counter()
    app = runtime()
    app.start()
    until(lambda: lines(log) >= 200)  # A is being embedded
    set_folders(app, [a, b])
    index = app.indexing.index
    until(lambda: any(row[0] == str(b) and row[1] > 0 for row in index.catalog.folder_counts()))
    set_folders(app, [b])
    until(lambda: lines(log) >= 800)  # B is half embedded
    app.close()  # a clean restart mid-way
    clean_restart_at = lines(log)

    app = runtime()
    app.start()
    before = lines(log)
    until(lambda: lines(log) >= before + 300)
    app.close()

    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(data), str(log), str(b), str(REPO)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "started"
    before = lines(log)
    until(lambda: lines(log) >= before + 300)
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    killed_at = lines(log)

    app = runtime()
    app.start()
    app.indexing.worker.wait_idle(3600)
    until(lambda: app.indexing.state == "idle")
    index = app.indexing.index
    assert index is not None
    pages = sorted(p for p in b.rglob("*.md"))
    pages[0].write_text(pages[0].read_text(encoding="utf-8") + "\n\n## 新的一节\n\n周末去海边看日出。\n",
                        encoding="utf-8")
    pages[1].rename(pages[1].with_name("改名-" + pages[1].name))
    (b / "moved").mkdir(exist_ok=True)
    pages[2].rename(b / "moved" / pages[2].name)
    pages[3].unlink()
    time.sleep(8)  # the watcher's batches and two catch-ups
    app.indexing.worker.wait_idle(600)
    until(lambda: app.indexing.state == "idle" and index.catalog.count_pending() == 0)
    got = snapshot(index)
    app.close()
    seconds = time.perf_counter() - started

    fresh = NotesIndex.open(root / "fresh", Chunker(cache_dir=data / "onnx"))
    try:
        fresh.sync([b])
        want = snapshot(fresh)
    finally:
        fresh.close()
        shutil.rmtree(root / "fresh", ignore_errors=True)

    digests = log.read_text().split()
    counts = Counter(digests)

    def repeated(start: int, end: int) -> int:
        """Passages embedded in [start, end) that had been embedded before `start`."""
        earlier = set(digests[:start])
        return sum(d in earlier for d in digests[start:end])

    result = {
        "embedded_passages": len(digests),
        "distinct_new_texts": len(counts),
        "repeats": len(digests) - len(counts),
        "repeats_allowed": STORE_BATCH,  # the one window a kill -9 may cut short
        "repeats_after_clean_restart": repeated(clean_restart_at, killed_at),
        "repeats_after_kill_9": repeated(killed_at, len(digests)),
        "equal_to_fresh": got == want,
        "final_notes": len(got["files"]),
        "final_passages": len(got["chunks"]),
        "seconds": round(seconds, 1),
    }
    print(json.dumps(result, indent=2))
    ok = result["equal_to_fresh"] and result["repeats"] <= STORE_BATCH and result["repeats_after_clean_restart"] == 0
    return 0 if ok else 1


def snapshot(index: NotesIndex) -> dict:
    catalog = index.catalog
    return {
        "files": sorted(catalog.query("SELECT rel, status, hash FROM files")),
        "chunks": sorted(catalog.query("SELECT c.id, c.text FROM chunks c")),
        "vectors": sorted(index.vectors.all_ids()),
    }


if __name__ == "__main__":
    sys.exit(main())
