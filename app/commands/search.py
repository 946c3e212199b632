"""`notewell search QUERY`: search the index from the terminal."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("search", help="search your notes")
    parser.add_argument("query", nargs="+", help="what to look for")
    parser.add_argument("-k", type=int, default=5, help="number of results (default 5)")
    parser.add_argument("--mode", choices=("hybrid", "dense", "keyword"), default="hybrid")
    parser.add_argument("--json", action="store_true", help='print {"results": [...]}')
    return parser


def run(args: argparse.Namespace) -> int:
    from notewell.app.cli import UsageError
    from notewell.app.paths import data_dir
    from notewell.app.services import open_index
    from notewell.app.settings import Settings
    from notewell.indexer.relevance import GOOD_MATCH

    if not 1 <= args.k <= 100:
        raise UsageError("-k must be between 1 and 100")
    root = data_dir(args.data_dir)
    settings = Settings.load(root)
    index = open_index(settings, root, chroma_url=args.chroma_url, writing=False)
    try:
        embedded_with = index.catalog.get_meta("model")
        other_model = embedded_with is not None and embedded_with != index.embedder.name and args.mode != "keyword"
        mode = "keyword" if other_model else args.mode  # the stored vectors can't answer this model's question
        results = index.search(" ".join(args.query), k=args.k, mode=mode)
        by_keywords_only = mode == "hybrid" and index.catalog.has_vectors() and not index.searches_by_meaning()
    finally:
        index.close()
    if other_model:
        from notewell.app.services import model_setting

        print(f"notewell: answered from keywords only: your notes were embedded with {model_setting(embedded_with)}, "
              f"and the settings now say {settings.model}. Run `notewell index` to embed them with the new model "
              "(or start the app or `notewell serve`, which do it in the background).", file=sys.stderr)
    elif by_keywords_only:
        print("notewell: answered from keywords only: the embedding model needs its one-time preparation "
              "for this version of Notewell. Run `notewell index` once (about a minute) to search by meaning again.",
              file=sys.stderr)
    if args.json:
        print(json.dumps({"results": [r.to_dict() for r in results]}, ensure_ascii=False, indent=2))
        return 0
    if not results:
        print("No results.")
    elif results[0].score < GOOD_MATCH:
        print(f"No good match (every score is below {GOOD_MATCH}); the closest passages:")
    for n, r in enumerate(results, 1):
        heading = f" › {r.heading}" if r.heading and r.heading != r.title else ""
        print(f"{n}. {r.title}{heading}  [{r.score:.3f}]")
        print(f"   {r.folder}/{r.path}:{r.lines[0]}")
        snippet = " ".join(r.text.split())
        print(f"   {snippet[:200]}{'…' if len(snippet) > 200 else ''}")
    return 0
