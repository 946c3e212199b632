"""Indexing benchmarks for the indexer issue's floors, as ratios within one run.

    python bench/bench_index.py full  CORPUS DATA_DIR   # full index vs. encode-only time, peak RSS
    python bench/bench_index.py noop  CORPUS DATA_DIR   # no-op re-index (indexes first if needed)
    python bench/bench_index.py noop-hash CORPUS DATA_DIR   # the same, index built with the hash embedder
    python bench/bench_index.py query CORPUS DATA_DIR   # warm in-process hybrid query latency

`full` runs the index in a child process (so its peak memory is measurable),
then encodes exactly the chunks that were indexed with the bare model, in this
process, and prints both times and their ratio as JSON.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INDEX_CHILD = """
import sys, time, resource, json
from pathlib import Path
from notewell.indexer.embedding import SentenceTransformerEmbedder
from notewell.indexer.notes_index import NotesIndex
started = time.perf_counter()
index = NotesIndex.open(Path(sys.argv[1]), SentenceTransformerEmbedder(cache_dir=Path(sys.argv[1]) / "onnx"))
summary = index.sync([Path(sys.argv[2])])
index.close()
print(json.dumps({"seconds": time.perf_counter() - started, "summary": summary.line(),
                  "chunks": summary.chunks,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def full(corpus: Path, data: Path) -> dict:
    """The app's configuration: the model on its ONNX export (built first, once, not timed)."""
    from notewell.indexer.embedding import SentenceTransformerEmbedder

    started = time.perf_counter()
    SentenceTransformerEmbedder(cache_dir=data / "onnx").prepare_onnx(wait=True)
    export_seconds = time.perf_counter() - started
    child = subprocess.run(
        [sys.executable, "-c", INDEX_CHILD, str(data), str(corpus)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    result = json.loads(child.stdout.strip().splitlines()[-1])
    peak_mb = result["peak_rss_mb"]  # the indexing process's own (the export child is not indexing)
    encode_seconds = encode_only(data)
    return {
        "corpus": str(corpus),
        "index_seconds": round(result["seconds"], 1),
        "encode_only_seconds": round(encode_seconds, 1),
        "ratio": round(result["seconds"] / encode_seconds, 3),
        "chunks": result["chunks"],
        "peak_rss_mb": round(peak_mb),
        "onnx_export_seconds_once": round(export_seconds, 1),
        "summary": result["summary"],
    }


def encode_only(data: Path) -> float:
    """Time the bare model on the same chunk texts, in the same batches."""
    from notewell.indexer.catalog import Catalog
    from notewell.indexer.chunking import embedding_text
    from notewell.indexer.embedding import SentenceTransformerEmbedder
    from notewell.indexer.pipeline import EMBED_BATCH

    catalog = Catalog(data / "catalog.sqlite3")
    rows = catalog.query(
        "SELECT f.title, c.heading, c.text FROM chunks c JOIN files f ON f.id = c.file_id ORDER BY c.rowid"
    )
    texts = [embedding_text(*row) for row in rows]
    embedder = SentenceTransformerEmbedder(cache_dir=data / "onnx")
    started = time.perf_counter()
    embedder.embed_query("load")  # loading is part of indexing too
    for start in range(0, len(texts), EMBED_BATCH):
        embedder.embed_documents(texts[start : start + EMBED_BATCH])
    return time.perf_counter() - started


def noop(corpus: Path, data: Path, hashed: bool = False) -> dict:
    """Time a re-index with nothing to do (the first run, if any, is not timed).

    With `hashed`, the index is built with the small hash embedder: the no-op
    path (walk, stat, compare with the catalog) is the same, and building the
    index takes minutes instead of an hour of model time.
    """
    from notewell.indexer.embedding import HashEmbedder, SentenceTransformerEmbedder
    from notewell.indexer.notes_index import NotesIndex

    embedder = HashEmbedder(dimension=384) if hashed else SentenceTransformerEmbedder()
    first = NotesIndex.open(data, embedder)
    built = first.sync([corpus])
    first.close()
    started = time.perf_counter()
    index = NotesIndex.open(data, embedder)
    summary = index.sync([corpus])
    seconds = time.perf_counter() - started
    index.close()
    return {
        "noop_seconds": round(seconds, 2),
        "summary": summary.line(),
        "first_run": built.line(),
        "embedder": embedder.name,
    }


def _eval_queries() -> list[str]:
    """Every distinct query of the shared eval sets (English and Chinese), each asked once."""
    folder = ROOT.parent / "shared" / "eval" / "queries"
    seen: dict[str, None] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                seen[json.loads(line)["query"]] = None
    return list(seen)


def query(corpus: Path, data: Path) -> dict:
    """Warm hybrid queries, each new to the process (no repeat hits the query-vector cache).

    `embed_only` is the query embedding alone, timed on a second embedder that shares
    the ONNX export but not the first one's cache of recent query vectors.
    """
    from notewell.indexer.embedding import SentenceTransformerEmbedder
    from notewell.indexer.notes_index import NotesIndex

    cache = data / "onnx"
    embedder = SentenceTransformerEmbedder(cache_dir=cache)
    index = NotesIndex.open(data, embedder)
    index.prepare_search(wait=True)
    for q in ("warm up one", "warm up two", "预热"):
        index.search(q, k=10)
    alone = SentenceTransformerEmbedder(cache_dir=cache)
    alone.prepare_onnx(wait=True)
    queries = _eval_queries()
    timings: dict[str, list[float]] = {"hybrid": [], "embed_only": []}
    for q in queries:
        started = time.perf_counter()
        index.search(q, k=10)
        timings["hybrid"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        alone.embed_query(q)
        timings["embed_only"].append((time.perf_counter() - started) * 1000)
    index.close()
    out: dict = {"queries": len(queries), "onnx": alone.prepare_onnx(wait=True)}
    for name, v in timings.items():
        out[name] = {"p50_ms": round(statistics.median(v), 2), "p95_ms": round(sorted(v)[int(len(v) * 0.95)], 2)}
    return out


if __name__ == "__main__":
    what, corpus_arg, data_arg = sys.argv[1:4]
    fn = {"full": full, "noop": noop, "noop-hash": lambda c, d: noop(c, d, hashed=True), "query": query}[what]
    print(json.dumps(fn(Path(corpus_arg).resolve(), Path(data_arg).resolve()), indent=2))
