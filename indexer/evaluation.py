"""Retrieval metrics at file level, as defined in shared/eval/README.md.

Files are ranked by their best chunk; a query scores Recall@5, MRR@10 and nDCG@10
against its set of relevant files.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .types import SearchMode, SearchResult


@dataclass(frozen=True)
class EvalQuery:
    id: str
    query: str
    relevant: frozenset[str]
    kind: str


def load_queries(path: Path) -> list[EvalQuery]:
    queries = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            queries.append(EvalQuery(raw["id"], raw["query"], frozenset(raw["relevant"]), raw.get("kind", "")))
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}:{n}: not a query line ({exc})") from exc
    return queries


def ranked_files(results: Iterable[SearchResult]) -> list[str]:
    files: list[str] = []
    for result in results:
        if result.path not in files:
            files.append(result.path)
    return files


def score_query(files: Sequence[str], relevant: frozenset[str]) -> dict[str, float]:
    recall = 1.0 if any(f in relevant for f in files[:5]) else 0.0
    mrr = next((1.0 / rank for rank, f in enumerate(files[:10], 1) if f in relevant), 0.0)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, f in enumerate(files[:10], 1) if f in relevant)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), 10) + 1))
    return {"recall@5": recall, "mrr@10": mrr, "ndcg@10": dcg / ideal if ideal else 0.0}


SearchFn = Callable[[str, int, SearchMode], list[SearchResult]]


def evaluate(search: SearchFn, queries: Sequence[EvalQuery], mode: SearchMode, k: int = 30) -> dict:
    """Mean metrics overall and by kind, and the median query time."""
    per_query: list[tuple[EvalQuery, dict[str, float]]] = []
    times: list[float] = []
    for q in queries:
        started = time.perf_counter()
        results = search(q.query, k, mode)
        times.append((time.perf_counter() - started) * 1000.0)
        per_query.append((q, score_query(ranked_files(results), q.relevant)))
    report = _means([s for _, s in per_query])
    kinds = sorted({q.kind for q in queries})
    report["by_kind"] = {kind: _means([s for q, s in per_query if q.kind == kind]) for kind in kinds}
    report["query_ms_p50"] = round(statistics.median(times), 2) if times else 0.0
    return report


def _means(scores: list[dict[str, float]]) -> dict:
    keys = ("recall@5", "mrr@10", "ndcg@10")
    if not scores:
        return {key: 0.0 for key in keys}
    return {key: round(sum(s[key] for s in scores) / len(scores), 4) for key in keys}
