"""How the model's runs use the cores, as ratios within one run: what shipped before (one
run at a time, 2 intra-op threads) against what runs now (1 thread per run, one run per core
at once; indexer/onnx_encoder.py).

    NOTEWELL_MODEL_CACHE=/tmp/mc python bench/bench_threads.py CORPUS [--models bundled,e5]

CORPUS: a folder of notes (e.g. tldr-zh); 240 passages are cut from its Markdown files. The
models' exports come from the shared cache (made once if missing). Prints passages/s and
query p50 per model and precision, old and new, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def passages(corpus: Path, count: int = 240) -> list[str]:
    out: list[str] = []
    for path in sorted(corpus.rglob("*.md")):
        for block in path.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            if len(block.strip()) >= 60:
                out.append(block.strip()[:600])
                if len(out) == count:
                    return out
    return out


def session(graph: Path, threads: int) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])


def measure(encoder: Any, texts: list[str], queries: list[str], one_at_a_time: bool) -> tuple[float, float]:
    if one_at_a_time:  # what shipped: the same runs, one after another
        from concurrent.futures import ThreadPoolExecutor

        encoder._runs = ThreadPoolExecutor(max_workers=1)
    run = encoder.encode_documents
    run(texts[:8])
    started = time.perf_counter()
    run(texts)
    rate = len(texts) / (time.perf_counter() - started)
    times = []
    for query in queries:
        started = time.perf_counter()
        encoder.encode([query])
        times.append((time.perf_counter() - started) * 1000)
    return rate, statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--models", default="bundled,e5")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from notewell.app.services import make_embedder
    from notewell.app.settings import Settings
    from notewell.indexer.e5_model import E5_MODEL
    from notewell.indexer.embedding import DEFAULT_MODEL
    from notewell.indexer.onnx_encoder import OnnxEncoder, _files, cache_key

    if not os.environ.get("NOTEWELL_MODEL_CACHE"):
        raise SystemExit("set NOTEWELL_MODEL_CACHE to a model cache folder")
    texts = passages(args.corpus)
    queries = [f"{text[:40]} {i}" for i, text in enumerate(texts[:60])]
    names = {"bundled": DEFAULT_MODEL, "e5": E5_MODEL}
    report = []
    for short in args.models.split(","):
        for precision in ("fp32", "int8"):
            embedder = make_embedder(Settings(model=names[short], model_precision=precision), Path("/nonexistent"))
            embedder.prepare_onnx(wait=True)
            key = cache_key(embedder._model_path())
            prompt = embedder._prompt("passage")
            docs = [prompt + t for t in texts]
            loaded = OnnxEncoder.load(Path(os.environ["NOTEWELL_MODEL_CACHE"]), key, embedder._rust_tokenizer(), precision)
            assert loaded is not None
            graph, _ = _files(Path(os.environ["NOTEWELL_MODEL_CACHE"]), key, precision)
            old = OnnxEncoder(session(graph, 2), embedder._rust_tokenizer(), loaded.spec)
            new = OnnxEncoder(session(graph, 1), embedder._rust_tokenizer(), loaded.spec)
            old_rate, old_p50 = measure(old, docs, queries, one_at_a_time=True)
            new_rate, new_p50 = measure(new, docs, queries, one_at_a_time=False)
            row = {"model": short, "precision": precision, "old passages/s": round(old_rate, 1),
                   "new passages/s": round(new_rate, 1), "ratio": round(new_rate / old_rate, 2),
                   "old query p50 ms": round(old_p50, 2), "new query p50 ms": round(new_p50, 2)}
            report.append(row)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
