"""`notewell eval --corpus DIR --queries FILE.jsonl`: retrieval metrics as JSON."""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("eval", help="measure search quality on a corpus with known answers")
    parser.add_argument("--corpus", required=True, metavar="DIR", help="folder of notes")
    parser.add_argument("--queries", required=True, metavar="FILE", help="JSONL queries (shared/eval format)")
    parser.add_argument("--mode", choices=("hybrid", "dense", "keyword"), help="only this mode")
    parser.add_argument("--model", help="embedding model (default: the setting, else the bundled one)")
    parser.add_argument("--precision", choices=("int8", "fp32"), help="model precision (default: the setting)")
    return parser


def run(args: argparse.Namespace) -> int:
    from notewell.app.cli import UsageError
    from notewell.app.paths import data_dir
    from notewell.app.services import open_index
    from notewell.app.settings import Settings
    from notewell.indexer.evaluation import evaluate, load_queries
    from notewell.indexer.types import SEARCH_MODES

    corpus = Path(args.corpus).expanduser().resolve()
    if not corpus.is_dir():
        raise UsageError(f"--corpus {corpus} is not a folder")
    queries = load_queries(Path(args.queries))
    if args.data_dir:
        root = data_dir(args.data_dir)
    else:  # never touch the user's own index: each corpus gets its own
        digest = hashlib.blake2b(str(corpus).encode(), digest_size=6).hexdigest()
        root = data_dir(None) / "eval" / f"{corpus.name}-{digest}"
    settings = Settings.load(root)
    if args.model:
        settings.model = args.model
    if args.precision:
        settings.model_precision = args.precision
    index = open_index(settings, root, chroma_url=args.chroma_url, folders=[corpus])
    try:
        index.prepare_search(wait=True)  # the model's one-time export is not index time
        before = index.catalog.count_embedded()
        started = time.perf_counter()
        index.sync_only([corpus])
        index_seconds = time.perf_counter() - started
        embedded = index.catalog.count_embedded() - before
        modes = [args.mode] if args.mode else list(SEARCH_MODES)
        index.search("warm up", k=1)
        report = {
            "model": index.embedder.name,
            "queries": len(queries),
            "index_seconds": round(index_seconds, 2),
            "passages_embedded": embedded,
            "passages_per_second": round(embedded / index_seconds, 1) if embedded and index_seconds else None,
            "modes": {mode: evaluate(index.search, queries, mode) for mode in modes},
        }
    finally:
        index.close()
    print(json.dumps(report, indent=2))
    return 0
